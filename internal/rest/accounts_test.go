package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/store/sqlite"
)

// accountsServer serves only the account routes over a real auth service
// and SQLite store.
func accountsServer(t *testing.T) *httptest.Server {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := auth.New(db, auth.Options{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: auth.MinBcryptCost})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	a := New(Deps{Auth: svc})
	mux := http.NewServeMux()
	a.registerAccounts(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request and decodes a JSON reply into a map.
func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, m
}

func errCode(m map[string]any) (code, msg string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	msg, _ = e["message"].(string)
	return code, msg
}

func TestAccountsAPI(t *testing.T) {
	srv := accountsServer(t)

	status, reg := call(t, srv, "POST", "/api/auth/register", "", `{"username":"alice","password":"correct horse","display_name":"Alice"}`)
	if status != http.StatusCreated {
		t.Fatalf("register: got %d %v, want 201", status, reg)
	}
	user, _ := reg["user"].(map[string]any)
	token, _ := reg["token"].(string)
	exp, _ := reg["expires_at"].(string)
	if user["username"] != "alice" || user["display_name"] != "Alice" || user["role"] != "user" || user["id"] == "" || token == "" {
		t.Fatalf("register body: got %v, want user alice and a token", reg)
	}
	if ts, err := time.Parse(time.RFC3339, exp); err != nil || !strings.HasSuffix(exp, "Z") || time.Until(ts) < 23*time.Hour {
		t.Fatalf("expires_at: got %q, want RFC 3339 UTC about 24h ahead", exp)
	}

	errorCases := []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
	}{
		{"register no username", "POST", "/api/auth/register", "", `{"password":"correct horse"}`, 400, "bad_request", "username"},
		{"register no password", "POST", "/api/auth/register", "", `{"username":"bob"}`, 400, "bad_request", "password"},
		{"register bad username", "POST", "/api/auth/register", "", `{"username":"B!","password":"correct horse"}`, 400, "bad_request", "username"},
		{"register bad json", "POST", "/api/auth/register", "", `{`, 400, "bad_request", ""},
		{"register taken", "POST", "/api/auth/register", "", `{"username":"alice","password":"correct horse"}`, 409, "conflict", "username is taken"},
		{"login wrong password", "POST", "/api/auth/login", "", `{"username":"alice","password":"wrong horse"}`, 401, "unauthorized", "wrong username or password"},
		{"login unknown user", "POST", "/api/auth/login", "", `{"username":"nobody","password":"wrong horse"}`, 401, "unauthorized", "wrong username or password"},
		{"login no password", "POST", "/api/auth/login", "", `{"username":"alice"}`, 400, "bad_request", "password"},
		{"me without token", "GET", "/api/me", "", "", 401, "unauthorized", ""},
		{"me bad token", "GET", "/api/me", "nope", "", 401, "unauthorized", "invalid token"},
		{"bot no name", "POST", "/api/bots", token, `{}`, 400, "bad_request", "name"},
		{"bot without token", "POST", "/api/bots", "", `{"name":"x_bot"}`, 401, "unauthorized", ""},
		{"revoke unknown bot", "DELETE", "/api/bots/usr_nope", token, "", 404, "not_found", ""},
	}
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, srv, tt.method, tt.path, tt.token, tt.body)
			code, msg := errCode(body)
			if status != tt.status || code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %d %q %q, want %d %q containing %q", status, code, msg, tt.status, tt.code, tt.msg)
			}
		})
	}

	status, login := call(t, srv, "POST", "/api/auth/login", "", `{"username":"alice","password":"correct horse"}`)
	if status != http.StatusOK || login["token"] == "" || login["expires_at"] == "" {
		t.Fatalf("login: got %d %v, want 200 with token and expires_at", status, login)
	}

	status, me := call(t, srv, "GET", "/api/me", token, "")
	if got, _ := me["user"].(map[string]any); status != http.StatusOK || got["id"] != user["id"] {
		t.Fatalf("me: got %d %v, want 200 with %v", status, me, user)
	}

	for _, body := range []string{"", `{"display_name":"Rex"}`} {
		status, g := call(t, srv, "POST", "/api/auth/guest", "", body)
		gu, _ := g["user"].(map[string]any)
		if status != http.StatusCreated || gu["role"] != "guest" || g["token"] == "" {
			t.Fatalf("guest(%q): got %d %v, want 201 role guest", body, status, g)
		}
		if body != "" {
			guestToken, _ := g["token"].(string)
			status, e := call(t, srv, "POST", "/api/bots", guestToken, `{"name":"g_bot"}`)
			if code, _ := errCode(e); status != http.StatusForbidden || code != "forbidden" {
				t.Fatalf("guest creates bot: got %d %v, want 403 forbidden", status, e)
			}
		}
	}

	status, b := call(t, srv, "POST", "/api/bots", token, `{"name":"helper"}`)
	bot, _ := b["bot"].(map[string]any)
	botToken, _ := b["token"].(string)
	if status != http.StatusCreated || bot["role"] != "bot" || bot["username"] != "helper" || botToken == "" {
		t.Fatalf("create bot: got %d %v, want 201 with a bot and token", status, b)
	}
	if status, _ := call(t, srv, "GET", "/api/me", botToken, ""); status != http.StatusOK {
		t.Fatalf("me as bot: got %d, want 200", status)
	}
	botID, _ := bot["id"].(string)
	if status, body := call(t, srv, "DELETE", "/api/bots/"+botID, token, ""); status != http.StatusNoContent || body != nil {
		t.Fatalf("revoke bot: got %d %v, want 204 and no body", status, body)
	}
	if status, _ := call(t, srv, "GET", "/api/me", botToken, ""); status != http.StatusUnauthorized {
		t.Fatalf("me with revoked bot token: got %d, want 401", status)
	}
}
