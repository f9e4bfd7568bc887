package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// WebhookStore is the webhook part of a store: the registry, the delivery
// log, and the outbox the dispatchers claim from. The outbox rows
// themselves are written by AppendMessage (new messages only),
// EditMessage, DeleteMessage, AddMember and RemoveMember, in the same
// transaction as the change.
type WebhookStore interface {
	// CreateWebhook stores w (ID, URL, Events, Room, Secret, CreatedBy,
	// CreatedAt set by the caller; repeated events are stored once).
	// chat.ErrConflict if the ID exists; chat.ErrNotFound if w.Room is
	// set and no such room exists, in which case nothing is stored.
	CreateWebhook(ctx context.Context, w chat.Webhook) error
	// Webhooks lists every webhook, oldest first, secrets included, each
	// with its events in the order of chat.WebhookEventTypes.
	Webhooks(ctx context.Context) ([]chat.Webhook, error)
	// Webhook returns one webhook; chat.ErrNotFound if none.
	Webhook(ctx context.Context, id string) (chat.Webhook, error)
	// DeleteWebhook deletes a webhook with its deliveries (pending ones are
	// never attempted again) and attempts; chat.ErrNotFound if none.
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookDeliveries returns a page of a webhook's deliveries, newest
	// first, each with its attempts oldest first. q.Before is an event ID:
	// only deliveries queued before that one; chat.ErrNotFound if the
	// webhook has no delivery with that ID. q.Limit is > 0.
	WebhookDeliveries(ctx context.Context, webhookID string, q chat.DeliveryQuery) ([]chat.WebhookDelivery, error)
	// ClaimDeliveries leases up to limit pending deliveries due at now
	// (next attempt ≤ now) and not leased (or leased until ≤ now) to owner
	// until now+lease, soonest due first. Two claims never hold the same
	// delivery at once, across hubs too.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chat.DeliveryJob, error)
	// FinishAttempt records an attempt (numbered by the store: 1, 2, …) of
	// a delivery owner holds and sets its status as o says: delivered and
	// failed are final, pending is due again at o.NextAttemptAt. The lease
	// is released. chat.ErrNotFound, recording nothing, if owner does not
	// hold it (another claim took over after the lease ended, the delivery
	// is finished, or its webhook was deleted).
	FinishAttempt(ctx context.Context, delivery int64, owner string, o chat.DeliveryOutcome) error
}

// hook registers a webhook for events (in room, or every room if "").
func (f *fixture) hook(room string, events ...string) chat.Webhook {
	f.t.Helper()
	w := chat.Webhook{
		ID:        chat.NewID("wh_"),
		URL:       "https://receiver.example/hook",
		Events:    events,
		Room:      room,
		Secret:    strings.Repeat("ab", 32),
		CreatedBy: "u_admin",
		CreatedAt: f.tick(),
	}
	if err := f.s.CreateWebhook(f.ctx(), w); err != nil {
		f.t.Fatalf("CreateWebhook(%v): got error %v, want nil", events, err)
	}
	return w
}

// deliveries returns every delivery of w, oldest first.
func (f *fixture) deliveries(w chat.Webhook) []chat.WebhookDelivery {
	f.t.Helper()
	got, err := f.s.WebhookDeliveries(f.ctx(), w.ID, chat.DeliveryQuery{Limit: 1000})
	if err != nil {
		f.t.Fatalf("WebhookDeliveries(%s): got error %v, want nil", w.ID, err)
	}
	slices.Reverse(got)
	return got
}

// claimAll claims everything due at now for owner.
func (f *fixture) claimAll(owner string, now time.Time) []chat.DeliveryJob {
	f.t.Helper()
	jobs, err := f.s.ClaimDeliveries(f.ctx(), owner, now, time.Minute, 1000)
	if err != nil {
		f.t.Fatalf("ClaimDeliveries(%s): got error %v, want nil", owner, err)
	}
	return jobs
}

// event decodes a delivery body.
func event(t *testing.T, body []byte) chat.WebhookEvent {
	t.Helper()
	var ev chat.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("delivery body %s: %v", body, err)
	}
	return ev
}

func checkEvent(t *testing.T, what string, body []byte, typ, room string, data any) chat.WebhookEvent {
	t.Helper()
	ev := event(t, body)
	want, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	var d diff
	if ev.Type != typ {
		d.add("type", ev.Type, typ)
	}
	if ev.Room != room {
		d.add("room", ev.Room, room)
	}
	if !strings.HasPrefix(ev.ID, "evt_") {
		d.add("id", ev.ID, "evt_…")
	}
	if ev.CreatedAt.IsZero() {
		d.add("created_at", ev.CreatedAt, "set")
	}
	if !bytes.Equal(ev.Data, want) {
		d.add("data", string(ev.Data), string(want))
	}
	d.report(t, what)
	return ev
}

func eventIDs(ds []chat.WebhookDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.EventID
	}
	return out
}

func jobIDs(js []chat.DeliveryJob) []int64 {
	out := make([]int64, len(js))
	for i, j := range js {
		out[i] = j.Delivery
	}
	return out
}

// outcome is a finished attempt at the given time.
func outcome(status chat.DeliveryStatus, at time.Time, code int, errText string, next time.Time) chat.DeliveryOutcome {
	return chat.DeliveryOutcome{
		Attempt:       chat.DeliveryAttempt{At: at, StatusCode: code, Error: errText, Duration: 1500 * time.Microsecond, Node: "node-a"},
		Status:        status,
		NextAttemptAt: next,
	}
}

var webhookTests = []storeTest{
	{"CreateListGetDelete", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		all := f.hook("", chat.EventMemberRemoved, chat.EventMessage, chat.EventMessage)
		one := f.hook(r.ID, chat.EventMessageEdited)
		list, err := s.Webhooks(f.ctx())
		wantErr(t, "Webhooks", err, nil)
		if len(list) != 2 || list[0].ID != all.ID || list[1].ID != one.ID {
			t.Fatalf("Webhooks: got %+v, want %s then %s", list, all.ID, one.ID)
		}
		got, err := s.Webhook(f.ctx(), all.ID)
		wantErr(t, "Webhook", err, nil)
		want := all
		want.Events = []string{chat.EventMessage, chat.EventMemberRemoved} // once each, in the canonical order
		var d diff
		if got.ID != want.ID || got.URL != want.URL || got.Secret != want.Secret || got.Room != "" || got.CreatedBy != want.CreatedBy {
			d.add("webhook", fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want))
		}
		if !slices.Equal(got.Events, want.Events) {
			d.add("Events", got.Events, want.Events)
		}
		d.time("CreatedAt", got.CreatedAt, stored(want.CreatedAt))
		if list[1].Room != r.ID || !slices.Equal(list[1].Events, []string{chat.EventMessageEdited}) {
			d.add("room webhook", fmt.Sprintf("%+v", list[1]), r.ID+" message_edited")
		}
		d.report(t, "Webhook")

		wantErr(t, "CreateWebhook(duplicate id)", s.CreateWebhook(f.ctx(), one), chat.ErrConflict)
		wantErr(t, "DeleteWebhook", s.DeleteWebhook(f.ctx(), all.ID), nil)
		_, err = s.Webhook(f.ctx(), all.ID)
		wantErr(t, "Webhook(deleted)", err, chat.ErrNotFound)
		wantErr(t, "DeleteWebhook(again)", s.DeleteWebhook(f.ctx(), all.ID), chat.ErrNotFound)
		list, _ = s.Webhooks(f.ctx())
		if len(list) != 1 || list[0].ID != one.ID {
			t.Fatalf("Webhooks after delete: got %+v, want only %s", list, one.ID)
		}
	}},
	{"UnknownRoomStoresNothing", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		w := chat.Webhook{ID: chat.NewID("wh_"), URL: "https://x.example/", Events: []string{chat.EventMessage},
			Room: "r_nope", Secret: "s", CreatedBy: "u_admin", CreatedAt: f.tick()}
		wantErr(t, "CreateWebhook(unknown room)", s.CreateWebhook(f.ctx(), w), chat.ErrNotFound)
		list, err := s.Webhooks(f.ctx())
		wantErr(t, "Webhooks", err, nil)
		if len(list) != 0 {
			t.Fatalf("Webhooks after a refused create: got %+v, want none", list)
		}
		_, err = s.WebhookDeliveries(f.ctx(), w.ID, chat.DeliveryQuery{Limit: 10})
		wantErr(t, "WebhookDeliveries(unknown webhook)", err, nil)
	}},
	{"MessageQueuesOneDeliveryPerWebhook", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		a := f.hook("", chat.EventMessage)
		b := f.hook(r.ID, chat.EventMessage, chat.EventMessageDeleted)
		none := f.hook("", chat.EventMemberAdded)
		m := f.send(r, alice, "hello hooks", "c-1")

		// Visible as soon as the append returned: the same commit.
		da, db := f.deliveries(a), f.deliveries(b)
		if len(da) != 1 || len(db) != 1 {
			t.Fatalf("deliveries after one message: got %d and %d, want 1 each", len(da), len(db))
		}
		if n := len(f.deliveries(none)); n != 0 {
			t.Fatalf("deliveries of a member_added webhook after a message: got %d, want 0", n)
		}
		ev := checkEvent(t, "delivery body", da[0].Body, chat.EventMessage, r.ID, m)
		if !ev.CreatedAt.Equal(m.CreatedAt) {
			t.Fatalf("created_at: got %v, want the message's %v", ev.CreatedAt, m.CreatedAt)
		}
		if da[0].EventID != ev.ID || da[0].EventType != chat.EventMessage || da[0].WebhookID != a.ID {
			t.Fatalf("delivery: got event %s type %s webhook %s, want %s message %s", da[0].EventID, da[0].EventType, da[0].WebhookID, ev.ID, a.ID)
		}
		// One event, one ID, one body for every webhook that receives it.
		if db[0].EventID != da[0].EventID || !bytes.Equal(db[0].Body, da[0].Body) {
			t.Fatalf("second webhook: got event %s body %s, want %s and the same bytes", db[0].EventID, db[0].Body, da[0].EventID)
		}
		d := da[0]
		if d.Status != chat.DeliveryPending || len(d.Attempts) != 0 || d.NextAttemptAt == nil || d.FinishedAt != nil {
			t.Fatalf("new delivery: got %+v, want pending, due, no attempts", d)
		}

		// A retried send stores nothing, so it queues nothing either.
		_, created, err := s.AppendMessage(f.ctx(), f.msg(r, alice, "hello again", "c-1"))
		wantErr(t, "AppendMessage(retry)", err, nil)
		if created {
			t.Fatalf("AppendMessage(retry): got created=true, want false")
		}
		// Nor does a failed append.
		_, _, err = s.AppendMessage(f.ctx(), f.msg(chat.Room{ID: "r_nope"}, alice, "lost", ""))
		wantErr(t, "AppendMessage(unknown room)", err, chat.ErrNotFound)
		if n := len(f.deliveries(a)); n != 1 {
			t.Fatalf("deliveries after a retried and a failed send: got %d, want 1", n)
		}
	}},
	{"EveryEventType", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindPrivate, alice)
		w := f.hook("", chat.WebhookEventTypes()...)
		m := f.send(r, alice, "draft", "")
		edited, err := s.EditMessage(f.ctx(), r.ID, m.Seq, "final", f.tick())
		wantErr(t, "EditMessage", err, nil)
		deleted, err := s.DeleteMessage(f.ctx(), r.ID, m.Seq, f.tick())
		wantErr(t, "DeleteMessage", err, nil)
		wantErr(t, "AddMember", s.AddMember(f.ctx(), r.ID, bob.User.ID, chat.MemberMember), nil)
		wantErr(t, "RemoveMember", s.RemoveMember(f.ctx(), r.ID, bob.User.ID), nil)
		// Failed changes queue nothing.
		_, err = s.EditMessage(f.ctx(), r.ID, m.Seq, "again", f.tick())
		wantErr(t, "EditMessage(deleted)", err, chat.ErrNotFound)
		wantErr(t, "RemoveMember(not a member)", s.RemoveMember(f.ctx(), r.ID, bob.User.ID), chat.ErrNotFound)
		wantErr(t, "AddMember(owner again)", s.AddMember(f.ctx(), r.ID, alice.User.ID, chat.MemberMember), chat.ErrConflict)

		ds := f.deliveries(w)
		if len(ds) != 5 {
			t.Fatalf("deliveries: got %d (%v), want 5", len(ds), eventIDs(ds))
		}
		member := struct {
			User chat.User       `json:"user"`
			Role chat.MemberRole `json:"role"`
		}{bob.User, chat.MemberMember}
		checkEvent(t, "message", ds[0].Body, chat.EventMessage, r.ID, m)
		ev := checkEvent(t, "message_edited", ds[1].Body, chat.EventMessageEdited, r.ID, edited)
		if !ev.CreatedAt.Equal(*edited.EditedAt) {
			t.Fatalf("message_edited created_at: got %v, want edited_at %v", ev.CreatedAt, *edited.EditedAt)
		}
		checkEvent(t, "message_deleted", ds[2].Body, chat.EventMessageDeleted, r.ID, deleted)
		checkEvent(t, "member_added", ds[3].Body, chat.EventMemberAdded, r.ID, member)
		checkEvent(t, "member_removed", ds[4].Body, chat.EventMemberRemoved, r.ID, member)
		seen := map[string]bool{}
		for _, d := range ds {
			if seen[d.EventID] {
				t.Fatalf("event id %s used twice", d.EventID)
			}
			seen[d.EventID] = true
		}
	}},
	{"RoomFilter", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r1, r2 := f.room(chat.KindPublic, alice), f.room(chat.KindPublic, alice)
		only1 := f.hook(r1.ID, chat.EventMessage)
		all := f.hook("", chat.EventMessage)
		f.send(r2, alice, "in r2", "")
		f.send(r1, alice, "in r1", "")
		d1, dAll := f.deliveries(only1), f.deliveries(all)
		if len(d1) != 1 || event(t, d1[0].Body).Room != r1.ID {
			t.Fatalf("webhook on r1: got %d deliveries, want 1 from r1", len(d1))
		}
		if len(dAll) != 2 || event(t, dAll[0].Body).Room != r2.ID || event(t, dAll[1].Body).Room != r1.ID {
			t.Fatalf("webhook on every room: got %d deliveries, want r2's then r1's", len(dAll))
		}
	}},
	{"ClaimLeasesAndExpires", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		w := f.hook("", chat.EventMessage)
		f.sendN(r, alice, 3)
		now := chat.Now()

		jobs, err := s.ClaimDeliveries(f.ctx(), "a", now, time.Minute, 2)
		wantErr(t, "ClaimDeliveries(a)", err, nil)
		if len(jobs) != 2 {
			t.Fatalf("ClaimDeliveries(limit 2): got %d jobs, want 2", len(jobs))
		}
		ds := f.deliveries(w)
		j := jobs[0]
		if j.WebhookID != w.ID || j.URL != w.URL || j.Secret != w.Secret || j.EventID != ds[0].EventID ||
			!bytes.Equal(j.Body, ds[0].Body) || j.EventType != chat.EventMessage || j.Attempts != 0 || !j.CreatedAt.Equal(ds[0].CreatedAt) {
			t.Fatalf("first job: got %+v, want the oldest delivery %s of webhook %s with its url and secret", j, ds[0].EventID, w.ID)
		}
		if jobs[1].EventID != ds[1].EventID {
			t.Fatalf("second job: got %s, want %s (soonest due first)", jobs[1].EventID, ds[1].EventID)
		}
		rest := f.claimAll("b", now)
		if len(rest) != 1 || rest[0].EventID != ds[2].EventID {
			t.Fatalf("ClaimDeliveries(b) while a holds two: got %v, want only the third", jobIDs(rest))
		}
		if got := f.claimAll("c", now.Add(59*time.Second)); len(got) != 0 {
			t.Fatalf("ClaimDeliveries before the leases end: got %v, want none", jobIDs(got))
		}
		// a stalls; its leases end and c takes over.
		later := now.Add(time.Minute)
		taken := f.claimAll("c", later)
		if !slices.Equal(jobIDs(taken), jobIDs(append(jobs, rest...))) {
			t.Fatalf("ClaimDeliveries after the leases end: got %v, want %v", jobIDs(taken), jobIDs(append(jobs, rest...)))
		}
		err = s.FinishAttempt(f.ctx(), j.Delivery, "a", outcome(chat.DeliveryDelivered, later, 200, "", time.Time{}))
		wantErr(t, "FinishAttempt(by a, lease lost)", err, chat.ErrNotFound)
		err = s.FinishAttempt(f.ctx(), j.Delivery, "c", outcome(chat.DeliveryDelivered, later, 200, "", time.Time{}))
		wantErr(t, "FinishAttempt(by c)", err, nil)
		if d := f.deliveries(w)[0]; d.Status != chat.DeliveryDelivered || len(d.Attempts) != 1 || d.Attempts[0].Node != "node-a" {
			t.Fatalf("delivery after c finished it: got %+v, want delivered with one attempt", d)
		}
	}},
	{"ConcurrentClaimsNeverShare", func(t *testing.T, s Store) {
		const total, claimers = 60, 4
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		f.hook("", chat.EventMessage)
		f.sendN(r, alice, total)
		now := chat.Now()
		var (
			mu   sync.Mutex
			seen = map[int64]string{}
			wg   sync.WaitGroup
		)
		for i := range claimers {
			owner := fmt.Sprintf("hub-%d", i)
			wg.Go(func() {
				for {
					jobs, err := s.ClaimDeliveries(t.Context(), owner, now, time.Minute, 3)
					if err != nil {
						t.Errorf("ClaimDeliveries(%s): got error %v, want nil", owner, err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range jobs {
						if prev, dup := seen[j.Delivery]; dup {
							t.Errorf("delivery %d claimed by %s and %s", j.Delivery, prev, owner)
						}
						seen[j.Delivery] = owner
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != total {
			t.Fatalf("claimed: got %d distinct deliveries, want %d", len(seen), total)
		}
	}},
	{"RetryScheduling", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		w := f.hook("", chat.EventMessage)
		f.send(r, alice, "flaky", "")
		now := chat.Now()
		j := f.claimAll("a", now)[0]
		next := now.Add(30 * time.Second)
		wantErr(t, "FinishAttempt(retry)", s.FinishAttempt(f.ctx(), j.Delivery, "a",
			outcome(chat.DeliveryPending, now, 503, "HTTP 503", next)), nil)

		d := f.deliveries(w)[0]
		if d.Status != chat.DeliveryPending || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(stored(next)) || d.FinishedAt != nil {
			t.Fatalf("after a failed attempt: got %+v, want pending, next attempt at %v", d, next)
		}
		want := chat.DeliveryAttempt{N: 1, At: stored(now), StatusCode: 503, Error: "HTTP 503", Duration: 1500 * time.Microsecond, Node: "node-a"}
		if len(d.Attempts) != 1 || d.Attempts[0] != want {
			t.Fatalf("attempts: got %+v, want [%+v]", d.Attempts, want)
		}
		// Not due before next, even with no lease on it; due at next.
		if got := f.claimAll("b", next.Add(-time.Microsecond)); len(got) != 0 {
			t.Fatalf("ClaimDeliveries before the retry is due: got %v, want none", jobIDs(got))
		}
		again := f.claimAll("b", next)
		if len(again) != 1 || again[0].Delivery != j.Delivery || again[0].Attempts != 1 {
			t.Fatalf("ClaimDeliveries when due: got %+v, want delivery %d with 1 attempt made", again, j.Delivery)
		}
		// An attempt with no response at all.
		wantErr(t, "FinishAttempt(no response)", s.FinishAttempt(f.ctx(), j.Delivery, "b",
			outcome(chat.DeliveryPending, next, 0, "connection refused", next.Add(time.Minute))), nil)
		d = f.deliveries(w)[0]
		if len(d.Attempts) != 2 || d.Attempts[1].N != 2 || d.Attempts[1].StatusCode != 0 || d.Attempts[1].Error != "connection refused" {
			t.Fatalf("attempts: got %+v, want a second one with no status", d.Attempts)
		}
		if err := s.FinishAttempt(f.ctx(), j.Delivery, "b", chat.DeliveryOutcome{Status: chat.DeliveryPending}); err == nil {
			t.Fatalf("FinishAttempt(pending without a next attempt): got nil error, want an error")
		}
	}},
	{"DeliveredAndFailedAreFinal", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		w := f.hook("", chat.EventMessage)
		f.sendN(r, alice, 2)
		now := chat.Now()
		jobs := f.claimAll("a", now)
		done := now.Add(time.Second)
		wantErr(t, "FinishAttempt(delivered)", s.FinishAttempt(f.ctx(), jobs[0].Delivery, "a",
			outcome(chat.DeliveryDelivered, done, 204, "", time.Time{})), nil)
		wantErr(t, "FinishAttempt(failed)", s.FinishAttempt(f.ctx(), jobs[1].Delivery, "a",
			outcome(chat.DeliveryFailed, done, 500, "HTTP 500", time.Time{})), nil)
		ds := f.deliveries(w)
		for i, want := range []chat.DeliveryStatus{chat.DeliveryDelivered, chat.DeliveryFailed} {
			d := ds[i]
			if d.Status != want || d.NextAttemptAt != nil || d.FinishedAt == nil || !d.FinishedAt.Equal(stored(done)) || len(d.Attempts) != 1 {
				t.Fatalf("delivery %d: got %+v, want %s, finished at %v, one attempt", i, d, want, done)
			}
		}
		if got := f.claimAll("b", now.Add(24*time.Hour)); len(got) != 0 {
			t.Fatalf("ClaimDeliveries after both finished: got %v, want none", jobIDs(got))
		}
		err := s.FinishAttempt(f.ctx(), jobs[0].Delivery, "a", outcome(chat.DeliveryDelivered, done, 200, "", time.Time{}))
		wantErr(t, "FinishAttempt(finished)", err, chat.ErrNotFound)
	}},
	{"DeleteStopsPendingDeliveries", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		w := f.hook("", chat.EventMessage)
		keep := f.hook("", chat.EventMessage)
		f.sendN(r, alice, 2)
		now := chat.Now()
		held, err := s.ClaimDeliveries(f.ctx(), "a", now, time.Minute, 1)
		wantErr(t, "ClaimDeliveries", err, nil)
		wantErr(t, "DeleteWebhook", s.DeleteWebhook(f.ctx(), w.ID), nil)
		for _, j := range f.claimAll("b", now.Add(time.Hour)) {
			if j.WebhookID == w.ID {
				t.Fatalf("ClaimDeliveries after delete: got delivery %d of the deleted webhook", j.Delivery)
			}
		}
		if held[0].WebhookID == w.ID {
			err = s.FinishAttempt(f.ctx(), held[0].Delivery, "a", outcome(chat.DeliveryDelivered, now, 200, "", time.Time{}))
			wantErr(t, "FinishAttempt(deleted webhook)", err, chat.ErrNotFound)
		}
		if n := len(f.deliveries(keep)); n != 2 {
			t.Fatalf("the other webhook's deliveries: got %d, want 2", n)
		}
	}},
	{"DeliveryLogPages", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		w := f.hook("", chat.EventMessage)
		other := f.hook("", chat.EventMessage)
		f.sendN(r, alice, 5)
		all := f.deliveries(w) // oldest first
		page, err := s.WebhookDeliveries(f.ctx(), w.ID, chat.DeliveryQuery{Limit: 2})
		wantErr(t, "WebhookDeliveries", err, nil)
		if want := []string{all[4].EventID, all[3].EventID}; !slices.Equal(eventIDs(page), want) {
			t.Fatalf("first page: got %v, want %v (newest first)", eventIDs(page), want)
		}
		page, err = s.WebhookDeliveries(f.ctx(), w.ID, chat.DeliveryQuery{Before: all[3].EventID, Limit: 2})
		wantErr(t, "WebhookDeliveries(before)", err, nil)
		if want := []string{all[2].EventID, all[1].EventID}; !slices.Equal(eventIDs(page), want) {
			t.Fatalf("second page: got %v, want %v", eventIDs(page), want)
		}
		page, err = s.WebhookDeliveries(f.ctx(), w.ID, chat.DeliveryQuery{Before: all[0].EventID, Limit: 2})
		wantErr(t, "WebhookDeliveries(before the oldest)", err, nil)
		if len(page) != 0 {
			t.Fatalf("page before the oldest: got %v, want none", eventIDs(page))
		}
		_, err = s.WebhookDeliveries(f.ctx(), other.ID, chat.DeliveryQuery{Before: "evt_nope", Limit: 2})
		wantErr(t, "WebhookDeliveries(unknown before)", err, chat.ErrNotFound)
	}},
}
