package auth_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pawfect/hub/internal/auth"
	"golang.org/x/crypto/bcrypt"
)

func TestLoadOrCreateSecretCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	secret, err := auth.LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateSecret: got error %v, want nil", err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(secret))
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret: got %q (%d decoded bytes, %v), want base64 of 32 bytes", secret, len(raw), err)
	}
	path := filepath.Join(dir, auth.SecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("file mode: got %#o, want 0600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Fatalf("dir mode: got %#o, want 0700", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files in data dir: got %d, want 1 (no temp files left)", len(entries))
	}

	again, err := auth.LoadOrCreateSecret(dir)
	if err != nil || string(again) != string(secret) {
		t.Fatalf("second call: got %q, %v, want %q, nil", again, err, secret)
	}
	if _, err := auth.NewCheap(newStore(t), auth.Options{Secret: secret, BcryptCost: bcrypt.MinCost}); err != nil {
		t.Fatalf("New with generated secret: got error %v, want nil", err)
	}
}

func TestLoadOrCreateSecretExisting(t *testing.T) {
	long := strings.Repeat("k", 40)
	tests := []struct {
		name     string
		contents string
		mode     os.FileMode
		want     string // "" = error
	}{
		{"as is", long, 0o600, long},
		{"trailing newline", long + "\n", 0o600, long},
		{"trailing crlf", long + "\r\n", 0o600, long},
		{"only one newline dropped", long + "\n\n", 0o600, long + "\n"},
		{"exactly 32", long[:32] + "\n", 0o600, long[:32]},
		{"too short", long[:31] + "\n", 0o600, ""},
		{"empty", "", 0o600, ""},
		{"loose mode tightened", long, 0o644, long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, auth.SecretFile)
			if err := os.WriteFile(path, []byte(tt.contents), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := auth.LoadOrCreateSecret(dir)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("LoadOrCreateSecret: got %q, want an error", got)
				}
				if !strings.Contains(err.Error(), "at least 32") {
					t.Fatalf("error: got %q, want it to say %q", err, "at least 32")
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("LoadOrCreateSecret: got %q, %v, want %q, nil", got, err, tt.want)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Fatalf("file mode after load: got %#o, want 0600", m)
			}
		})
	}
	if _, err := auth.LoadOrCreateSecret(""); err == nil {
		t.Fatalf("LoadOrCreateSecret(\"\"): got nil error, want one")
	}
}
