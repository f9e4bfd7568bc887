package auth

import (
	"net/http"
	"strings"
)

// BearerToken extracts the token of an "Authorization: Bearer" header, the
// way both the HTTP API and the WebSocket handshake accept it.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
