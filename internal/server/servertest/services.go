package servertest

import (
	"os"
	"testing"

	"github.com/pawfect/hub/internal/natstest"
	"github.com/pawfect/hub/internal/redistest"
	"github.com/pawfect/hub/internal/store/postgres/pgtest"
)

// requireService returns the URL in env var name, or skips the test (fails
// it under HUB_TEST_REQUIRE_SERVICES=1) when it is not set.
func requireService(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("HUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s is not set but HUB_TEST_REQUIRE_SERVICES=1: this test needs %s", name, what)
		}
		t.Skipf("%s is not set: skipping a test that needs %s", name, what)
	}
	return v
}

// RequireNATS returns HUB_TEST_NATS_URL, or skips/fails as above.
func RequireNATS(t testing.TB) string {
	t.Helper()
	return natstest.URL(t)
}

// RequirePostgres returns a URL for a fresh schema of the PostgreSQL named
// by HUB_TEST_DATABASE_URL (dropped at cleanup), or skips/fails as above.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	requireService(t, "HUB_TEST_DATABASE_URL", "PostgreSQL")
	return pgtest.URL(t)
}

// Backend is one way of running test hubs.
type Backend struct {
	Name string
	// Options returns the options for a hub on this backend; every hub made
	// from one call's options shares the store and bus.
	Options func(t testing.TB) Options
}

// Backends lists the embedded backend and, when the services are
// configured, the production one: PostgreSQL, an external NATS and Redis. A suite run over it covers
// both stores; the production entry skips (or fails under
// HUB_TEST_REQUIRE_SERVICES=1) without the services.
func Backends() []Backend {
	return []Backend{
		{Name: "embedded", Options: func(testing.TB) Options { return Options{} }},
		{Name: "postgres+nats+redis", Options: func(t testing.TB) Options {
			return Options{DatabaseURL: RequirePostgres(t), NATSURL: RequireNATS(t), RedisURL: RequireRedis(t)}
		}},
	}
}

// RequireRedis returns HUB_TEST_REDIS_URL, or skips/fails as above. Hubs
// keep their Redis keys under their NATS subject prefix, so tests with
// their own Prefix (the default) never share presence or rate limits.
func RequireRedis(t testing.TB) string {
	t.Helper()
	return redistest.URL(t)
}
