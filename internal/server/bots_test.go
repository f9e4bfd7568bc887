package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

type botResp struct {
	Bot   chat.User `json:"bot"`
	Token string    `json:"token"`
}

func createBot(t *testing.T, h *servertest.Hub, owner servertest.Account, name string) botResp {
	t.Helper()
	var r botResp
	h.JSON(t, "POST", "/api/bots", owner.Token, map[string]string{"name": name}, http.StatusCreated, &r)
	if r.Bot.Role != chat.RoleBot || r.Bot.Username != name || r.Bot.ID == "" || r.Token == "" {
		t.Fatalf("created bot: got %+v (token %q), want role bot named %q with a token", r.Bot, r.Token, name)
	}
	return r
}

// botName is a bot name unique to this test run, within the username rules.
func botName(base string) string { return base + "_" + strings.ToLower(servertest.UniquePrefix()[1:7]) }

func TestBotLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		o := b.Options(t)
		o.Env = map[string]string{"HUB_BOOTSTRAP_ADMIN": adminEnv}
		h := servertest.Start(t, o)
		alice, mallory := h.Register(t, "alice"), h.Register(t, "mallory")
		room := h.CreateRoom(t, alice, "botland", chat.KindPublic)
		ca := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		ca.Join(room.ID, -1)

		bot := createBot(t, h, alice, botName("helper"))
		var me struct{ User chat.User }
		h.JSON(t, "GET", "/api/me", bot.Token, nil, http.StatusOK, &me)
		if me.User != bot.Bot {
			t.Fatalf("/api/me as the bot: got %+v, want %+v", me.User, bot.Bot)
		}

		// The bot posts over HTTP without joining; a joined client gets it.
		var posted struct{ Message chat.Message }
		h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", bot.Token, map[string]any{"text": "beep"}, http.StatusCreated, &posted)
		got := ca.Messages(1)[0]
		if got.ID != posted.Message.ID || got.Text != "beep" || got.From.ID != bot.Bot.ID || got.From.Role != chat.RoleBot {
			t.Fatalf("bot's message at alice: got %+v from %+v, want %q from the bot with role bot", got, got.From, "beep")
		}

		// The bot's WebSocket, authenticated on the handshake.
		cbot := h.Dial(t, servertest.DialOptions{Token: bot.Token})
		cbot.Join(room.ID, -1)
		cbot.Send(room.ID, "boop")
		ca.Messages(1)

		// Only the creator or an admin may revoke it; guests make no bots.
		status, body := h.Do(t, "DELETE", "/api/bots/"+bot.Bot.ID, mallory.Token, nil)
		if status != http.StatusForbidden || servertest.ErrorCode(t, body) != chat.CodeForbidden {
			t.Fatalf("another user revokes the bot: got %d %s, want 403 forbidden", status, body)
		}
		guest := h.Guest(t, "visitor")
		status, body = h.Do(t, "POST", "/api/bots", guest.Token, map[string]string{"name": botName("guestbot")})
		if status != http.StatusForbidden || servertest.ErrorCode(t, body) != chat.CodeForbidden {
			t.Fatalf("a guest creates a bot: got %d %s, want 403 forbidden", status, body)
		}
		status, body = h.Do(t, "POST", "/api/bots", bot.Token, map[string]string{"name": botName("botbot")})
		if status != http.StatusForbidden {
			t.Fatalf("a bot creates a bot: got %d %s, want 403", status, body)
		}
		// The refused attempts changed nothing.
		h.JSON(t, "GET", "/api/me", bot.Token, nil, http.StatusOK, nil)
		cbot.OK("ping", nil, nil)

		h.JSON(t, "DELETE", "/api/bots/"+bot.Bot.ID, alice.Token, nil, http.StatusNoContent, nil)
		if code := cbot.Closed(); code != chat.CloseUnauthorized {
			t.Fatalf("the revoked bot's open WebSocket: got close %d, want %d", code, chat.CloseUnauthorized)
		}
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/me", nil},
			{"POST", "/api/rooms/" + room.ID + "/messages", map[string]any{"text": "still here"}},
		} {
			status, body := h.Do(t, req.method, req.path, bot.Token, req.body)
			if status != http.StatusUnauthorized || servertest.ErrorCode(t, body) != chat.CodeUnauthorized {
				t.Errorf("revoked bot %s %s: got %d %s, want 401 unauthorized", req.method, req.path, status, body)
			}
		}
		if _, status, err := h.TryDial(t, servertest.DialOptions{Token: bot.Token}); err == nil || status != http.StatusUnauthorized {
			t.Errorf("revoked bot's handshake: got status %d err %v, want 401", status, err)
		}
		status, _ = h.Do(t, "DELETE", "/api/bots/"+bot.Bot.ID, alice.Token, nil)
		if status != http.StatusNotFound {
			t.Errorf("revoking a revoked bot: got %d, want 404", status)
		}
		// Alice's own connection is untouched.
		ca.OK("ping", nil, nil)

		// An admin may revoke anyone's bot.
		other := createBot(t, h, mallory, botName("other"))
		var login struct{ Token string }
		h.JSON(t, "POST", "/api/auth/login", "", map[string]string{"username": "root", "password": "supersecret1"}, http.StatusOK, &login)
		h.JSON(t, "DELETE", "/api/bots/"+other.Bot.ID, login.Token, nil, http.StatusNoContent, nil)
		if status, _ := h.Do(t, "GET", "/api/me", other.Token, nil); status != http.StatusUnauthorized {
			t.Errorf("bot revoked by an admin: got %d, want 401", status)
		}
	})
}

// TestBotRevocationReachesOtherHubs: a revoked bot's WebSocket on another
// hub of the same service is closed too.
func TestBotRevocationReachesOtherHubs(t *testing.T) {
	o := servertest.Options{DatabaseURL: servertest.RequirePostgres(t), NATSURL: servertest.RequireNATS(t)}
	o.Prefix = servertest.UniquePrefix()
	h1 := servertest.Start(t, o)
	h2 := servertest.Start(t, o)
	alice := h1.Register(t, "alice")
	bot := createBot(t, h1, alice, botName("roamer"))
	c := h2.Dial(t, servertest.DialOptions{Token: bot.Token})
	c.OK("ping", nil, nil)
	h1.JSON(t, "DELETE", "/api/bots/"+bot.Bot.ID, alice.Token, nil, http.StatusNoContent, nil)
	if code := c.Closed(); code != chat.CloseUnauthorized {
		t.Fatalf("revoked bot's WebSocket on the other hub: got close %d, want %d", code, chat.CloseUnauthorized)
	}
	if status, _ := h2.Do(t, "GET", "/api/me", bot.Token, nil); status != http.StatusUnauthorized {
		t.Fatalf("revoked bot on the other hub: got %d, want 401", status)
	}
}
