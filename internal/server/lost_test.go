package server_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/redistest"
	"github.com/pawfect/hub/internal/server/servertest"
)

// TestLostHubsUsersGoOffline: a hub that dies without leaving (here a
// "ghost" hub that holds alice's only connection, beats once and falls
// silent) is found lost by the others within seconds; one of them reaps
// its presence entries and the room hears that alice went offline, long
// before her entries would have expired.
func TestLostHubsUsersGoOffline(t *testing.T) {
	o := servertest.Options{
		DatabaseURL: servertest.RequirePostgres(t), NATSURL: servertest.RequireNATS(t),
		RedisURL: servertest.RequireRedis(t), Prefix: servertest.UniquePrefix(),
	}
	redistest.Clean(t, o.RedisURL, o.Prefix)
	h := servertest.Start(t, o)
	alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
	room := h.CreateRoom(t, alice, "haunted", chat.KindPublic)
	cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
	cb.Join(room.ID, -1)

	ctx := context.Background()
	opts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ghost, err := presence.NewRedis(client, "ghost", presence.WithPrefix(o.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ghost.Join(ctx, room.ID, alice.User, "c_ghost"); err != nil {
		t.Fatal(err)
	}
	ghost.Close() // the crash: no Leave, no goodbye

	nc, err := nats.Connect(o.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	beat, _ := json.Marshal(map[string]string{"node": "ghost", "state": "alive"})
	if err := nc.Publish(o.Prefix+".nodes.beat", beat); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if online := cb.Join(room.ID, -1).Online; !slices.ContainsFunc(online, func(u chat.User) bool { return u.ID == alice.User.ID }) {
		t.Fatalf("before the loss: online %v, want alice (on the ghost hub) listed", online)
	}

	// Found lost after 3 missed heartbeats (6 s) at the next tick; the
	// presence TTL is 30 s, so an offline event before 20 s came from
	// reaping, not from expiry.
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(presenceOf(t, cb, alice.User.ID), chat.StateOffline) {
		if time.Now().After(deadline) {
			t.Fatalf("no offline event for alice within 20 s; got %v", presenceOf(t, cb, alice.User.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Her entry is gone from Redis too, for every hub.
	users, err := ghost.Online(ctx, room.ID)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(users, func(u chat.User) bool { return u.ID == alice.User.ID }) {
		t.Fatalf("presence after reaping: got %v, want alice gone", users)
	}
}

// TestReapedHubsUsersComeBackOnline: the other hubs reaped a hub that was
// only cut off from them (here the test reaps it, as they would) and told
// its rooms that its users left. The hub's presence heartbeat puts its
// connections back, and the hub announces those users online again.
func TestReapedHubsUsersComeBackOnline(t *testing.T) {
	o := servertest.Options{
		DatabaseURL: servertest.RequirePostgres(t), NATSURL: servertest.RequireNATS(t),
		RedisURL: servertest.RequireRedis(t), Prefix: servertest.UniquePrefix(),
	}
	redistest.Clean(t, o.RedisURL, o.Prefix)
	oa := o
	oa.Env = map[string]string{"HUB_NODE_ID": "hub-cut"}
	a, b := servertest.Start(t, oa), servertest.Start(t, o)
	alice, bob := a.Register(t, "alice"), a.Register(t, "bob")
	room := a.CreateRoom(t, alice, "partitioned", chat.KindPublic)
	cb := b.Dial(t, servertest.DialOptions{Token: bob.Token})
	cb.Join(room.ID, -1)
	ca := a.Dial(t, servertest.DialOptions{Token: alice.Token})
	ca.Join(room.ID, -1)
	servertest.Eventually(t, "bob to see alice online", func() bool {
		return slices.Equal(presenceOf(t, cb, alice.User.ID), []string{chat.StateOnline})
	})

	opts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	survivor, err := presence.NewRedis(client, "survivor", presence.WithPrefix(o.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer survivor.Close()
	gone, err := survivor.Reap(context.Background(), "hub-cut")
	if err != nil || len(gone) != 1 || gone[0].User.ID != alice.User.ID {
		t.Fatalf("reap: got %+v, %v; want alice's departure", gone, err)
	}

	// The hub's next presence heartbeat (every 10 s) finds alice's entry
	// gone though she is still connected: back, and announced.
	deadline := time.Now().Add(25 * time.Second)
	for !slices.Equal(presenceOf(t, cb, alice.User.ID), []string{chat.StateOnline, chat.StateOnline}) {
		if time.Now().After(deadline) {
			t.Fatalf("bob's presence events for alice: got %v, want online, then online again", presenceOf(t, cb, alice.User.ID))
		}
		time.Sleep(50 * time.Millisecond)
	}
	users, err := survivor.Online(context.Background(), room.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(users, func(u chat.User) bool { return u.ID == alice.User.ID }) {
		t.Fatalf("presence after the return: got %v, want alice listed again", users)
	}
}
