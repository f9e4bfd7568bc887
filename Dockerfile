# syntax=docker/dockerfile:1
#
# The hub (and cmd/sfu, the standalone SFU node: run it with
# --entrypoint /usr/local/bin/sfu) as a container image: static binaries on
# distroless "static"
# (CA certificates, tzdata and a nonroot user; no shell, no package manager).
#
#   docker build -t pawfect-hub .
#   docker run --rm -p 8080:8080 -v hub-data:/data pawfect-hub
#
# Configuration is the HUB_* environment (docs/protocol.md §1). On its own
# the image runs on embedded defaults, keeping its SQLite store and generated
# token secret in the /data volume; compose.yaml runs two of them as one
# service on PostgreSQL, NATS and Redis.
#
# There is no HEALTHCHECK: the final image has no shell and no HTTP client to
# run one with, and cmd/hub is wiring only. Probe GET /readyz over HTTP from
# outside (a load balancer or an orchestrator's HTTP probe); /healthz says the
# process is up.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
# CGO off: the SQLite driver is pure Go, so the binary needs no libc.
# -trimpath keeps build paths out of it; -s -w drops the symbol tables.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/hub ./cmd/sfu
# The data directory, owned by the image's nonroot user (65532), so a new
# named volume mounted on it starts out writable by the hub.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hub /out/sfu /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV HUB_ADDR=0.0.0.0:8080 \
    HUB_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM makes the hub drain (HUB_SHUTDOWN_TIMEOUT, 15 s by default): give
# it that long before a kill (docker stop -t 20, or compose's stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hub"]
