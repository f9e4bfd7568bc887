// Package natstest gives tests the NATS server named by HUB_TEST_NATS_URL.
// Without the variable the calling test is skipped, unless
// HUB_TEST_REQUIRE_SERVICES=1 (set by CI), where it fails. Tests keep apart
// on the shared server by subject prefixes of their own.
package natstest

import (
	"os"
	"testing"
)

// URL returns HUB_TEST_NATS_URL, or skips/fails the test as above.
func URL(t testing.TB) string {
	t.Helper()
	v := os.Getenv("HUB_TEST_NATS_URL")
	if v == "" {
		if os.Getenv("HUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("HUB_TEST_NATS_URL is not set but HUB_TEST_REQUIRE_SERVICES=1: this test needs a NATS server")
		}
		t.Skip("HUB_TEST_NATS_URL is not set: skipping a test that needs a NATS server")
	}
	return v
}
