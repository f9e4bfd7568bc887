package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pawfect/hub/internal/chat"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's pool and the test clients' keep-alive connections belong
		// to the tests, not to the dispatcher.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

func TestSignKnownVector(t *testing.T) {
	// From: printf '%s' '{"id":"evt_1","type":"message"}' | openssl dgst -sha256 -hmac 'k3y-0123456789abcdef'
	const want = "sha256=3c25cc0cb685b3def7ec0a9571e6682b7b3daa6c4468545b97f49b6414da0e43"
	if got := Sign("k3y-0123456789abcdef", []byte(`{"id":"evt_1","type":"message"}`)); got != want {
		t.Fatalf("Sign: got %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	const secret = "s3cret"
	body := []byte(`{"id":"evt_2"}`)
	good := Sign(secret, body)
	tests := []struct {
		name   string
		secret string
		body   string
		header string
		want   bool
	}{
		{"valid", secret, string(body), good, true},
		{"upper-case hex", secret, string(body), "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), true},
		{"other secret", "other", string(body), good, false},
		{"tampered body", secret, `{"id":"evt_3"}`, good, false},
		{"no prefix", secret, string(body), strings.TrimPrefix(good, "sha256="), false},
		{"sha1 prefix", secret, string(body), "sha1=" + strings.TrimPrefix(good, "sha256="), false},
		{"not hex", secret, string(body), "sha256=zz", false},
		{"truncated", secret, string(body), good[:len(good)-2], false},
		{"empty", secret, string(body), "", false},
	}
	for _, tt := range tests {
		if got := Verify(tt.secret, []byte(tt.body), tt.header); got != tt.want {
			t.Errorf("Verify(%s): got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// hmacHex is the signature computed without the package, for the
// dispatcher tests to check against.
func hmacHex(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestBackoffBounds(t *testing.T) {
	const base, ceiling = 5 * time.Second, 10 * time.Minute
	tests := []struct {
		n    int
		full time.Duration // the wait before jitter
	}{
		{1, 5 * time.Second},
		{2, 10 * time.Second},
		{3, 20 * time.Second},
		{4, 40 * time.Second},
		{7, 320 * time.Second},
		{8, ceiling}, // 640s capped
		{20, ceiling},
		{1000, ceiling}, // no overflow
	}
	for _, tt := range tests {
		for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
			got := Backoff(tt.n, base, ceiling, r)
			if got > tt.full || got < tt.full/2 {
				t.Errorf("Backoff(%d, r=%v): got %v, want within [%v, %v]", tt.n, r, got, tt.full/2, tt.full)
			}
		}
		if got := Backoff(tt.n, base, ceiling, 0); got != tt.full {
			t.Errorf("Backoff(%d, r=0): got %v, want the full %v", tt.n, got, tt.full)
		}
	}
	// The jitter actually moves the wait.
	if a, b := Backoff(3, base, ceiling, 0.1), Backoff(3, base, ceiling, 0.9); a == b {
		t.Errorf("Backoff with r=0.1 and r=0.9: both %v, want different waits", a)
	}
	// The schedule keeps retrying past an hour: the waits of the first
	// attempts add up to more than one hour at the least jitter.
	var total time.Duration
	n := 0
	for total < time.Hour {
		n++
		total += Backoff(n, base, ceiling, 0.999999)
	}
	if n < 8 {
		t.Errorf("attempts within the first hour at the shortest waits: got %d, want at least 8", n)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{}, ""},
		{"give-up of an hour", Config{GiveUp: time.Hour}, ""},
		{"give-up under an hour", Config{GiveUp: 59 * time.Minute}, "give-up age 59m0s is under 1h0m0s"},
		{"short give-up allowed", Config{GiveUp: time.Millisecond, AllowShortGiveUp: true}, ""},
		{"cap below base", Config{RetryBase: time.Minute, RetryCap: time.Second}, "retry cap 1s is below retry base 1m0s"},
		{"negative", Config{Timeout: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		d, err := NewDispatcher(tt.cfg, nil, nil)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: got error %v, want nil", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: got error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
		if d != nil {
			_ = d.Close(t.Context())
		}
	}
	d, err := NewDispatcher(Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(t.Context())
	c := d.cfg
	if c.PollInterval != time.Second || c.RetryBase != 5*time.Second || c.RetryCap != 10*time.Minute ||
		c.GiveUp != 24*time.Hour || c.Timeout != 10*time.Second || c.Workers != 8 {
		t.Errorf("defaults: got %+v", c)
	}
	if c.lease() <= c.Timeout {
		t.Errorf("lease %v: want longer than the request timeout %v", c.lease(), c.Timeout)
	}
}

func TestOutcome(t *testing.T) {
	d, err := NewDispatcher(Config{RetryBase: time.Second, RetryCap: time.Minute, GiveUp: time.Hour}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(t.Context())
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	job := func(attempts int) chat.DeliveryJob { return chat.DeliveryJob{Attempts: attempts, CreatedAt: created} }
	var a chat.DeliveryAttempt

	if o := d.outcome(job(0), a, true, false, created); o.Status != chat.DeliveryDelivered {
		t.Errorf("2xx: got %s, want delivered", o.Status)
	}
	now := created.Add(time.Minute)
	if o := d.outcome(job(2), a, false, true, now); o.Status != chat.DeliveryPending || !o.NextAttemptAt.Equal(now) {
		t.Errorf("interrupted: got %s at %v, want pending at once (%v)", o.Status, o.NextAttemptAt, now)
	}
	o := d.outcome(job(2), a, false, false, now)
	if wait := o.NextAttemptAt.Sub(now); o.Status != chat.DeliveryPending || wait < 2*time.Second || wait > 4*time.Second {
		t.Errorf("third failure: got %s after %v, want pending after 2s..4s", o.Status, wait)
	}
	// Near the give-up age the last attempt is made at it, not skipped.
	late := created.Add(time.Hour - 10*time.Second)
	o = d.outcome(job(30), a, false, false, late)
	if deadline := created.Add(time.Hour); o.Status != chat.DeliveryPending || !o.NextAttemptAt.Equal(deadline) {
		t.Errorf("failure 10s before the give-up age: got %s at %v, want pending at %v", o.Status, o.NextAttemptAt, deadline)
	}
	if o := d.outcome(job(31), a, false, false, created.Add(time.Hour)); o.Status != chat.DeliveryFailed {
		t.Errorf("failure at the give-up age: got %s, want failed", o.Status)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	got := truncate(strings.Repeat("é", 10), 5) // 2 bytes each: cut inside the third
	if got != "éé…" {
		t.Fatalf("truncate: got %q, want %q", got, "éé…")
	}
	if got := truncate("short", 10); got != "short" {
		t.Fatalf("truncate(short): got %q", got)
	}
}

func TestRegistryRefusesNonAdmins(t *testing.T) {
	r := NewRegistry(nil) // never reached
	for _, role := range []chat.Role{chat.RoleUser, chat.RoleGuest, chat.RoleBot, ""} {
		me := chat.User{ID: "u_x", Role: role}
		_, err := r.Create(t.Context(), me, CreateRequest{URL: "http://x.example/", Events: []string{"message"}})
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != chat.CodeForbidden {
			t.Errorf("Create as %q: got %v, want forbidden", role, err)
		}
		if _, err := r.List(t.Context(), me); !errors.As(err, &ce) || ce.Code != chat.CodeForbidden {
			t.Errorf("List as %q: got %v, want forbidden", role, err)
		}
	}
}

func TestCheckInput(t *testing.T) {
	urls := []struct {
		in, want, err string
	}{
		{"https://example.com/hook?x=1", "https://example.com/hook?x=1", ""},
		{"HTTP://127.0.0.1:9000/h", "http://127.0.0.1:9000/h", ""},
		{"", "", "url: required"},
		{"example.com/hook", "", "url: must be an absolute http or https URL"},
		{"ftp://example.com/", "", `url: scheme must be http or https (got "ftp")`},
		{"http:///path", "", "url: has no host"},
		{"https://u:p@example.com/", "", "url: must not contain user info"},
		{"https://example.com/#frag", "", "url: must not have a fragment"},
		{"https://example.com/" + strings.Repeat("a", MaxURLBytes), "", "url: longer than 2048 bytes"},
		{"mailto:someone@example.com", "", "url: must be an absolute http or https URL"},
	}
	for _, tt := range urls {
		got, err := checkURL(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("checkURL(%q): got %q, %v, want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != chat.CodeBadRequest || ce.Message != tt.err {
			t.Errorf("checkURL(%q): got %v, want bad_request %q", tt.in, err, tt.err)
		}
	}

	got, err := checkEvents([]string{"member_removed", "message", "member_removed"})
	if err != nil || strings.Join(got, ",") != "message,member_removed" {
		t.Errorf("checkEvents: got %v, %v, want [message member_removed]", got, err)
	}
	for _, tt := range []struct {
		in  []string
		err string
	}{
		{nil, "events: at least one of message, message_edited, message_deleted, member_added, member_removed"},
		{[]string{"message", "typing"}, `events[1]: unknown event type "typing" (want one of message, message_edited, message_deleted, member_added, member_removed)`},
	} {
		_, err := checkEvents(tt.in)
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != chat.CodeBadRequest || ce.Message != tt.err {
			t.Errorf("checkEvents(%v): got %v, want bad_request %q", tt.in, err, tt.err)
		}
	}
}
