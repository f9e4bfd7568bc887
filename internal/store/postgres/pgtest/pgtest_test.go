package pgtest

import "testing"

func TestWithSearchPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s1&sslmode=disable"},
		{"postgresql://u@h/db?search_path=old", "postgresql://u@h/db?search_path=s1"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db search_path=s1"},
	} {
		if got := withSearchPath(tc.in, "s1"); got != tc.want {
			t.Errorf("withSearchPath(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURLGivesFreshSchema(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("URL twice: got %q both times, want two schemas", a)
	}
}
