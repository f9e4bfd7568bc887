package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// startAuditHub starts a hub with the bootstrap admin.
func startAuditHub(t *testing.T, b servertest.Backend) *servertest.Hub {
	t.Helper()
	return startHub(t, b, map[string]string{"HUB_BOOTSTRAP_ADMIN": adminEnv})
}

// loginAs logs in over HTTP; every login is itself an audited action.
func loginAs(t *testing.T, h *servertest.Hub, username, password string) servertest.Account {
	t.Helper()
	var r struct {
		User  chat.User `json:"user"`
		Token string    `json:"token"`
	}
	h.JSON(t, "POST", "/api/auth/login", "", map[string]string{"username": username, "password": password}, http.StatusOK, &r)
	return servertest.Account{User: r.User, Token: r.Token}
}

// auditPage reads one page of the audit log as token, checking that every
// entry has exactly the fields of PROTOCOL §7.
func auditPage(t *testing.T, h *servertest.Hub, token, query string) []chat.AuditEntry {
	t.Helper()
	status, body := h.Do(t, "GET", "/api/admin/audit"+query, token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /api/admin/audit%s: got %d %s, want 200", query, status, body)
	}
	var raw struct {
		Entries []map[string]json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Entries == nil {
		t.Fatalf("GET /api/admin/audit%s: body %s: want {\"entries\": [...]} (err %v)", query, body, err)
	}
	wantKeys := []string{"action", "actor", "at", "detail", "id", "ip", "target"}
	for i, e := range raw.Entries {
		var keys []string
		for k := range e {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Fatalf("entry %d: got fields %v, want %v", i, keys, wantKeys)
		}
		if d := string(e["detail"]); !strings.HasPrefix(d, "{") {
			t.Fatalf("entry %d: got detail %s, want a JSON object", i, d)
		}
	}
	var out struct {
		Entries []chat.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /api/admin/audit%s: decode %s: %v", query, body, err)
	}
	return out.Entries
}

// wantEntry is what a test expects of one entry; a nil actor means null.
type wantEntry struct {
	action string
	actor  *chat.User
	target string
	detail string // JSON, compared by value; "" means {}
}

func (w wantEntry) String() string {
	actor := "null"
	if w.actor != nil {
		actor = w.actor.Username
	}
	return fmt.Sprintf("%s by %s on %q", w.action, actor, w.target)
}

func checkEntries(t *testing.T, got []chat.AuditEntry, want []wantEntry) {
	t.Helper()
	if len(got) != len(want) {
		var g []string
		for _, e := range got {
			g = append(g, e.Action+" "+e.Target)
		}
		t.Fatalf("audit log: got %d entries %v, want %d %v", len(got), g, len(want), want)
	}
	for i, w := range want {
		e := got[i]
		var problems []string
		if e.Action != w.action {
			problems = append(problems, fmt.Sprintf("action: got %q, want %q", e.Action, w.action))
		}
		switch {
		case (e.Actor == nil) != (w.actor == nil):
			problems = append(problems, fmt.Sprintf("actor: got %+v, want %+v", e.Actor, w.actor))
		case e.Actor != nil && *e.Actor != *w.actor:
			problems = append(problems, fmt.Sprintf("actor: got %+v, want %+v", *e.Actor, *w.actor))
		}
		if e.Target != w.target {
			problems = append(problems, fmt.Sprintf("target: got %q, want %q", e.Target, w.target))
		}
		if e.IP != "127.0.0.1" {
			problems = append(problems, fmt.Sprintf("ip: got %q, want 127.0.0.1", e.IP))
		}
		wd := w.detail
		if wd == "" {
			wd = "{}"
		}
		var gv, wv any
		if err := json.Unmarshal(e.Detail, &gv); err != nil {
			problems = append(problems, fmt.Sprintf("detail: %s is not JSON: %v", e.Detail, err))
		}
		if err := json.Unmarshal([]byte(wd), &wv); err != nil {
			t.Fatalf("bad test detail %s: %v", wd, err)
		}
		if !reflect.DeepEqual(gv, wv) {
			problems = append(problems, fmt.Sprintf("detail: got %s, want %s", e.Detail, wd))
		}
		if len(problems) > 0 {
			t.Errorf("entry %d (%v):\n\t%s", i, w, strings.Join(problems, "\n\t"))
		}
	}
}

// TestAuditLog performs every audited action a client can reach, plus
// refused attempts that must leave no entry, and reads the log back as the
// bootstrap admin.
func TestAuditLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		start := chat.Now()
		h := startAuditHub(t, b)
		var want []wantEntry // oldest first
		expect := func(action string, actor *chat.User, target, detail string) {
			want = append(want, wantEntry{action, actor, target, detail})
		}
		refused := func(what, method, path, token string, body any, status int) {
			t.Helper()
			if got, b := h.Do(t, method, path, token, body); got != status {
				t.Fatalf("%s: got %d %s, want %d", what, got, b, status)
			}
		}

		root := loginAs(t, h, adminName, adminPassword)
		expect(chat.AuditLogin, &root.User, adminName, "")
		alice := h.Register(t, "alice")
		expect(chat.AuditRegister, &alice.User, alice.User.ID, "")
		bob := h.Register(t, "bob")
		expect(chat.AuditRegister, &bob.User, bob.User.ID, "")
		refused("register a taken name", "POST", "/api/auth/register", "",
			map[string]string{"username": alice.User.Username, "password": "correct horse battery"}, http.StatusConflict)

		refused("login with a wrong password", "POST", "/api/auth/login", "",
			map[string]string{"username": alice.User.Username, "password": "wrong horse battery"}, http.StatusUnauthorized)
		expect(chat.AuditLoginFailed, nil, alice.User.Username, "")
		refused("login as nobody", "POST", "/api/auth/login", "",
			map[string]string{"username": "nobody_here", "password": "wrong horse battery"}, http.StatusUnauthorized)
		expect(chat.AuditLoginFailed, nil, "nobody_here", "")
		refused("login without a password", "POST", "/api/auth/login", "",
			map[string]string{"username": alice.User.Username}, http.StatusBadRequest)
		alice = loginAs(t, h, alice.User.Username, "correct horse battery")
		expect(chat.AuditLogin, &alice.User, alice.User.Username, "")

		guest := h.Guest(t, "visitor")
		expect(chat.AuditGuest, &guest.User, guest.User.ID, "")

		bot := createBot(t, h, alice, botName("helper"))
		expect(chat.AuditBotCreate, &alice.User, bot.Bot.ID, fmt.Sprintf(`{"name":%q}`, bot.Bot.Username))
		refused("a guest creates a bot", "POST", "/api/bots", guest.Token, map[string]string{"name": botName("nope")}, http.StatusForbidden)

		room := h.CreateRoom(t, alice, "den", chat.KindPrivate)
		expect(chat.AuditRoomCreate, &alice.User, room.ID, `{"name":"den","kind":"private"}`)
		refused("a guest creates a room", "POST", "/api/rooms", guest.Token, map[string]any{"name": "g", "kind": "public"}, http.StatusForbidden)

		members := "/api/rooms/" + room.ID + "/members"
		h.JSON(t, "POST", members, alice.Token, map[string]string{"user_id": bob.User.ID}, http.StatusCreated, nil)
		expect(chat.AuditRoomMemberAdd, &alice.User, room.ID, fmt.Sprintf(`{"user_id":%q}`, bob.User.ID))
		refused("add bob again", "POST", members, alice.Token, map[string]string{"user_id": bob.User.ID}, http.StatusConflict)
		refused("bob adds the guest (not the owner)", "POST", members, bob.Token, map[string]string{"user_id": guest.User.ID}, http.StatusForbidden)
		h.JSON(t, "DELETE", members+"/"+bob.User.ID, alice.Token, nil, http.StatusNoContent, nil)
		expect(chat.AuditRoomMemberRemove, &alice.User, room.ID, fmt.Sprintf(`{"user_id":%q}`, bob.User.ID))
		refused("remove bob again", "DELETE", members+"/"+bob.User.ID, alice.Token, nil, http.StatusNotFound)
		// Leaving is a removal by the member themself.
		h.JSON(t, "POST", members, alice.Token, map[string]string{"user_id": bob.User.ID}, http.StatusCreated, nil)
		expect(chat.AuditRoomMemberAdd, &alice.User, room.ID, fmt.Sprintf(`{"user_id":%q}`, bob.User.ID))
		h.JSON(t, "DELETE", members+"/"+bob.User.ID, bob.Token, nil, http.StatusNoContent, nil)
		expect(chat.AuditRoomMemberRemove, &bob.User, room.ID, fmt.Sprintf(`{"user_id":%q}`, bob.User.ID))

		direct := h.CreateRoom(t, alice, "", chat.KindDirect, bob.User.ID)
		expect(chat.AuditRoomCreate, &alice.User, direct.ID, fmt.Sprintf(`{"name":"","kind":"direct","members":[%q]}`, bob.User.ID))
		// The pair's existing room comes back with 200: nothing is created.
		refused("the same direct room again", "POST", "/api/rooms", alice.Token,
			map[string]any{"kind": "direct", "members": []string{bob.User.ID}}, http.StatusOK)

		botAccount := servertest.Account{User: bot.Bot, Token: bot.Token}
		botRoom := h.CreateRoom(t, botAccount, "bots", chat.KindPublic)
		expect(chat.AuditRoomCreate, &bot.Bot, botRoom.ID, `{"name":"bots","kind":"public"}`)

		refused("bob revokes alice's bot", "DELETE", "/api/bots/"+bot.Bot.ID, bob.Token, nil, http.StatusForbidden)
		h.JSON(t, "DELETE", "/api/bots/"+bot.Bot.ID, alice.Token, nil, http.StatusNoContent, nil)
		expect(chat.AuditBotRevoke, &alice.User, bot.Bot.ID, "")
		refused("revoke it again", "DELETE", "/api/bots/"+bot.Bot.ID, alice.Token, nil, http.StatusNotFound)
		end := chat.Now()

		got := auditPage(t, h, root.Token, "")
		slices.Reverse(want) // newest first
		// The revoked bot's entry keeps its full actor: deleted accounts
		// are still joined.
		checkEntries(t, got, want)
		ids := map[string]bool{}
		for i, e := range got {
			if ids[e.ID] || e.ID == "" {
				t.Errorf("entry %d: id %q is empty or repeated", i, e.ID)
			}
			ids[e.ID] = true
			if e.At.Before(start) || e.At.After(end) {
				t.Errorf("entry %d (%s): at %v, want between %v and %v", i, e.Action, e.At, start, end)
			}
			if i > 0 && e.At.After(got[i-1].At) {
				t.Errorf("entry %d (%s): at %v is after the newer entry's %v", i, e.Action, e.At, got[i-1].At)
			}
		}
	})
}

// TestAuditPaging: limit's default and maximum, and before walks the whole
// log exactly once.
func TestAuditPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startAuditHub(t, b)
		root := loginAs(t, h, adminName, adminPassword)
		const guests = 205
		for i := range guests {
			h.Guest(t, fmt.Sprintf("g%d", i))
		}
		const total = guests + 1 // and the admin's login

		// The whole log, newest first, in pages of the maximum.
		var all []chat.AuditEntry
		for before := ""; ; {
			q := "?limit=200"
			if before != "" {
				q += "&before=" + url.QueryEscape(before)
			}
			page := auditPage(t, h, root.Token, q)
			if len(page) == 0 {
				break
			}
			if len(page) > 200 {
				t.Fatalf("page of limit 200: got %d entries", len(page))
			}
			all = append(all, page...)
			before = page[len(page)-1].ID
		}
		if len(all) != total {
			t.Fatalf("walking the log: got %d entries, want %d", len(all), total)
		}
		if all[total-1].Action != chat.AuditLogin || all[0].Action != chat.AuditGuest || all[0].Actor == nil ||
			all[0].Actor.DisplayName != fmt.Sprintf("g%d", guests-1) {
			t.Fatalf("ends of the log: got newest %+v, oldest %+v; want the last guest first and the admin's login last", all[0], all[total-1])
		}
		ids := func(es []chat.AuditEntry) []string {
			out := make([]string, len(es))
			for i, e := range es {
				out[i] = e.ID
			}
			return out
		}

		for _, tt := range []struct {
			query string
			want  []chat.AuditEntry
		}{
			{"", all[:50]},
			{"?limit=", all[:50]},
			{"?limit=1", all[:1]},
			{"?limit=200", all[:200]},
			{"?limit=201", all[:200]},
			{"?limit=100000", all[:200]},
			{"?limit=99999999999999999999", all[:200]},
			{"?before=" + all[9].ID + "&limit=3", all[10:13]},
			{"?before=" + all[total-2].ID, all[total-1:]},
			{"?before=" + all[total-1].ID, []chat.AuditEntry{}},
			// A well-formed id that names no entry is still a bound.
			{"?before=9223372036854775807&limit=2", all[:2]},
			{"?before=", all[:50]},
		} {
			got := auditPage(t, h, root.Token, tt.query)
			if !slices.Equal(ids(got), ids(tt.want)) {
				t.Errorf("GET /api/admin/audit%s: got ids %v, want %v", tt.query, ids(got), ids(tt.want))
			}
		}

		// Pages of 60 joined are the same log, each entry once.
		var joined []chat.AuditEntry
		var sizes []int
		for before := ""; ; {
			page := auditPage(t, h, root.Token, "?limit=60&before="+url.QueryEscape(before))
			sizes = append(sizes, len(page))
			if len(page) == 0 {
				break
			}
			joined = append(joined, page...)
			before = page[len(page)-1].ID
		}
		if !slices.Equal(sizes, []int{60, 60, 60, 26, 0}) || !slices.Equal(ids(joined), ids(all)) {
			t.Fatalf("pages of 60: got sizes %v (ids equal to the whole log: %v), want [60 60 60 26 0] and the whole log",
				sizes, slices.Equal(ids(joined), ids(all)))
		}

		// An empty page is [], not null.
		if status, body := h.Do(t, "GET", "/api/admin/audit?before="+all[total-1].ID, root.Token, nil); status != http.StatusOK ||
			strings.TrimSpace(string(body)) != `{"entries":[]}` {
			t.Fatalf("page past the oldest entry: got %d %s, want 200 {\"entries\":[]}", status, body)
		}
	})
}

// TestAuditEndpointRefuses: only admins read the log, and a bad limit or
// before is a bad_request naming the field.
func TestAuditEndpointRefusesBadQueries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startAuditHub(t, b)
		root := loginAs(t, h, adminName, adminPassword)
		// Who may call it is tested with every other admin endpoint, in
		// TestAdminEndpointsRefuseNonAdmins.
		for _, tt := range []struct {
			query, field string
		}{
			{"?limit=abc", "limit"},
			{"?limit=0", "limit"},
			{"?limit=-5", "limit"},
			{"?limit=1.5", "limit"},
			{"?limit=%2B5", "limit"},
			{"?before=abc", "before"},
			{"?before=0", "before"},
			{"?before=-1", "before"},
			{"?before=007", "before"},
			{"?before=1e3", "before"},
			{"?before=%201", "before"},
			{"?before=99999999999999999999", "before"},
			{"?before=usr_06h30xefz87dzs85t0vw1cs9sc&limit=10", "before"},
		} {
			t.Run(tt.query, func(t *testing.T) {
				status, body := h.Do(t, "GET", "/api/admin/audit"+tt.query, root.Token, nil)
				var e struct {
					Error chat.Error `json:"error"`
				}
				_ = json.Unmarshal(body, &e)
				if status != http.StatusBadRequest || e.Error.Code != chat.CodeBadRequest || !strings.HasPrefix(e.Error.Message, tt.field+":") {
					t.Fatalf("GET /api/admin/audit%s: got %d %s, want 400 bad_request naming %q", tt.query, status, body, tt.field)
				}
			})
		}

		// None of the refused reads was recorded, and the log still reads.
		got := auditPage(t, h, root.Token, "")
		var actions []string
		for _, e := range got {
			actions = append(actions, e.Action)
		}
		want := []string{chat.AuditLogin} // the admin's own sign-in
		if !slices.Equal(actions, want) {
			t.Fatalf("audit log: got %v, want %v", actions, want)
		}
	})
}
