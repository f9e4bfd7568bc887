package config

import (
	"net"
	"net/url"
	"strings"
)

// AllowedOrigins is the effective browser Origin allow-list for WebSocket
// handshakes: the origin of PublicURL, its localhost/127.0.0.1 twin (same
// scheme and port), then ExtraOrigins. Each entry is normalized as browsers
// send it: lower-case scheme://host[:port], default port left out.
func (c Config) AllowedOrigins() []string {
	var out []string
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
		out = append(out, origin(scheme, host, port))
		switch host {
		case "localhost":
			out = appendUnique(out, origin(scheme, "127.0.0.1", port))
		case "127.0.0.1":
			out = appendUnique(out, origin(scheme, "localhost", port))
		}
	}
	for _, o := range c.ExtraOrigins {
		out = appendUnique(out, o)
	}
	return out
}

// AllowedHosts is the effective Host header allow-list: the host[:port] of
// every allowed origin. For an origin on its scheme's default port both the
// bare host and host:port are listed, since clients send either.
func (c Config) AllowedHosts() []string {
	var out []string
	for _, o := range c.AllowedOrigins() {
		u, err := url.Parse(o)
		if err != nil {
			continue
		}
		out = appendUnique(out, u.Host)
		if u.Port() == "" {
			def := "80"
			if u.Scheme == "https" {
				def = "443"
			}
			out = appendUnique(out, net.JoinHostPort(u.Hostname(), def))
		}
	}
	return out
}

// OriginAllowed reports whether a browser Origin header value is allowed.
// The comparison is on the normalized form, so case and an explicit default
// port do not matter.
func (c Config) OriginAllowed(o string) bool {
	n, err := parseOrigin(strings.TrimSpace(o))
	if err != nil {
		return false
	}
	for _, a := range c.AllowedOrigins() {
		if a == n {
			return true
		}
	}
	return false
}

// HostAllowed reports whether a Host header value is allowed (compared case-
// insensitively).
func (c Config) HostAllowed(host string) bool {
	host = strings.ToLower(strings.TrimSpace(host))
	for _, a := range c.AllowedHosts() {
		if a == host {
			return true
		}
	}
	return false
}
