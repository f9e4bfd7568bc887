package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignaturePrefix starts every X-Hub-Signature-256 value.
const SignaturePrefix = "sha256="

// Sign returns the X-Hub-Signature-256 value for body: "sha256=" and the
// lower-case hex HMAC-SHA256 of body keyed with the secret's bytes as they
// are (the hex string, not the bytes it spells).
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return SignaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header is a valid X-Hub-Signature-256 of body
// under secret. It compares in constant time, as a receiver must.
func Verify(secret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, SignaturePrefix)
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(sum, mac.Sum(nil))
}
