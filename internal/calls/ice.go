package calls

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strconv"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// TURNCredential is coturn's REST-API credential for userID, valid until
// expires: the username is "<unix expiry>:<userID>" and the credential
// base64(HMAC-SHA1(secret, username)). The TURN server, sharing secret,
// checks both without asking the hub.
func TURNCredential(secret, userID string, expires time.Time) (username, credential string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + userID
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// iceServers is call_join's ice_servers for userID: the STUN servers, and
// the TURN servers with a fresh credential (none without a secret).
func (s *Service) iceServers(userID string) []chat.ICEServer {
	out := []chat.ICEServer{}
	ice := s.o.ICE
	if len(ice.STUNURLs) > 0 {
		out = append(out, chat.ICEServer{URLs: slices.Clone(ice.STUNURLs)})
	}
	if len(ice.TURNURLs) > 0 {
		srv := chat.ICEServer{URLs: slices.Clone(ice.TURNURLs)}
		if ice.TURNSecret != "" {
			srv.Username, srv.Credential = TURNCredential(ice.TURNSecret, userID, s.now().Add(ice.TURNTTL))
		}
		out = append(out, srv)
	}
	return out
}
