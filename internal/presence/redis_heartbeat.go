package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/chat"
)

// Heartbeat batching: a refresh script call carries at most refreshChunk
// connections of one room; a pipeline carries calls for at most
// refreshBatch connections.
const (
	refreshChunk = 256
	refreshBatch = 2048
)

// localConns is the set of this node's connections that Redis should list:
// added after a successful Join, removed before Leave. Rooms are spread
// over shards by hash, like Memory's.
type localConns struct {
	seed   maphash.Seed
	gen    atomic.Uint64 // stamps each add, so the heartbeat can tell a re-add from the entry it saw
	shards [shardCount]localShard
}

type localShard struct {
	mu    sync.Mutex                       // guards rooms and every map in it
	rooms map[string]map[string]localEntry // room ID → connection ID → entry
}

// localEntry is what a heartbeat needs to restore a lost entry.
type localEntry struct {
	userID   string
	userJSON []byte
	gen      uint64
}

func newLocalConns() *localConns {
	l := &localConns{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].rooms = make(map[string]map[string]localEntry)
	}
	return l
}

func (l *localConns) shard(roomID string) *localShard {
	return &l.shards[maphash.String(l.seed, roomID)%shardCount]
}

// add records a connection; newRoom reports that it is the node's first
// in the room.
func (l *localConns) add(roomID, connID, userID string, userJSON []byte) (newRoom bool) {
	e := localEntry{userID: userID, userJSON: userJSON, gen: l.gen.Add(1)}
	s := l.shard(roomID)
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.rooms[roomID]
	if conns == nil {
		conns = make(map[string]localEntry)
		s.rooms[roomID] = conns
		newRoom = true
	}
	conns[connID] = e
	return newRoom
}

// hasRoom reports whether the node has a connection in the room.
func (l *localConns) hasRoom(roomID string) bool {
	s := l.shard(roomID)
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms[roomID]) > 0
}

// remove forgets connID if it belongs to userID.
func (l *localConns) remove(roomID, connID, userID string) {
	l.removeIf(roomID, connID, func(e localEntry) bool { return e.userID == userID })
}

// removeIf forgets connID if pred holds for its entry.
func (l *localConns) removeIf(roomID, connID string, pred func(localEntry) bool) {
	s := l.shard(roomID)
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.rooms[roomID]
	if e, ok := conns[connID]; ok && pred(e) {
		delete(conns, connID)
		if len(conns) == 0 {
			delete(s.rooms, roomID)
		}
	}
}

// get returns connID's entry, if it is still there.
func (l *localConns) get(roomID, connID string) (localEntry, bool) {
	s := l.shard(roomID)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.rooms[roomID][connID]
	return e, ok
}

// roomSnapshot is one room's local connections at the start of a pass.
type roomSnapshot struct {
	room  string
	conns []string
	gens  map[string]uint64
}

func (l *localConns) snapshot() []roomSnapshot {
	var out []roomSnapshot
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for room, conns := range s.rooms {
			rs := roomSnapshot{room: room, conns: make([]string, 0, len(conns)), gens: make(map[string]uint64, len(conns))}
			for id, e := range conns {
				rs.conns = append(rs.conns, id)
				rs.gens[id] = e.gen
			}
			out = append(out, rs)
		}
		s.mu.Unlock()
	}
	return out
}

// heartbeat refreshes this node's connections every interval until ctx
// ends.
func (r *Redis) heartbeat(ctx context.Context) {
	defer r.done.Done()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pass, cancel := context.WithTimeout(ctx, r.interval)
			r.refresh(pass)
			cancel()
		}
	}
}

// refreshCall is one refresh script call in a pipeline.
type refreshCall struct {
	snap *roomSnapshot
	ids  []string
	cmd  *redis.Cmd
}

// rejoinCall is one connection Redis lost, to be joined again.
type rejoinCall struct {
	room, conn string
	entry      localEntry
	cmd        *redis.Cmd
}

// refresh moves the deadline of every local connection, in pipelined
// batches, then joins again, also pipelined, the connections Redis lost.
// Failures are logged once per pass: the next pass tries again, well
// within the TTL.
func (r *Redis) refresh(ctx context.Context) {
	snaps := r.local.snapshot()
	if err := r.writeRooms(ctx, snaps); err != nil {
		r.log.WarnContext(ctx, "presence: heartbeat: write this node's rooms", "err", err)
	}
	if len(snaps) == 0 {
		return
	}
	// Pipelines use EVALSHA only: load the script first (Redis may have
	// restarted since the last pass).
	if err := refreshScript.Load(ctx, r.client).Err(); err != nil {
		r.log.WarnContext(ctx, "presence: heartbeat: load script", "err", err)
		return
	}
	var (
		calls   []refreshCall
		size    int
		rejoins []rejoinCall
		errs    errorTally
	)
	flush := func() {
		if len(calls) == 0 {
			return
		}
		pipe := r.client.Pipeline()
		for i := range calls {
			args := make([]any, 0, len(calls[i].ids)+1)
			args = append(args, r.ttlMS())
			for _, id := range calls[i].ids {
				args = append(args, id)
			}
			calls[i].cmd = refreshScript.EvalSha(ctx, pipe, r.keys(calls[i].snap.room), args...)
		}
		_, _ = pipe.Exec(ctx) // errors are read per command
		for _, c := range calls {
			lost, err := r.afterRefresh(c)
			errs.add(err)
			rejoins = append(rejoins, lost...)
		}
		calls, size = calls[:0], 0
	}
	for i := range snaps {
		s := &snaps[i]
		for start := 0; start < len(s.conns); start += refreshChunk {
			ids := s.conns[start:min(start+refreshChunk, len(s.conns))]
			calls = append(calls, refreshCall{snap: s, ids: ids})
			if size += len(ids); size >= refreshBatch {
				flush()
			}
		}
	}
	flush()
	if len(rejoins) > 0 {
		errs.add(r.rejoin(ctx, rejoins))
	}
	if errs.n > 0 {
		r.log.WarnContext(ctx, "presence: heartbeat: refresh failed; unrefreshed connections expire unless a later pass succeeds",
			"failures", errs.n, "err", errs.last)
	}
}

// afterRefresh reads one refresh call's reply. Connections that left are
// forgotten, unless joined again since the snapshot; it returns the
// connections Redis lost that are still local.
func (r *Redis) afterRefresh(c refreshCall) ([]rejoinCall, error) {
	reply, err := c.cmd.Slice()
	if err != nil {
		return nil, err
	}
	if len(reply) != 2 {
		return nil, fmt.Errorf("presence: heartbeat: unexpected refresh reply %v", reply)
	}
	room := c.snap.room
	for _, id := range stringsOf(reply[1]) {
		gen := c.snap.gens[id]
		r.local.removeIf(room, id, func(e localEntry) bool { return e.gen == gen })
	}
	var lost []rejoinCall
	for _, id := range stringsOf(reply[0]) {
		if e, ok := r.local.get(room, id); ok {
			lost = append(lost, rejoinCall{room: room, conn: id, entry: e})
		}
	}
	return lost, nil
}

// rejoin joins again connections that Redis lost (a restart, a failover,
// a heartbeat late past the TTL, a reaping by nodes that found this one
// lost). A user who is back as their first connection in the room goes to
// onReturn, since others may have been told they left. A connection that
// left meanwhile is refused by its gone mark and forgotten.
func (r *Redis) rejoin(ctx context.Context, calls []rejoinCall) error {
	if err := joinScript.Load(ctx, r.client).Err(); err != nil {
		return err
	}
	var errs errorTally
	for start := 0; start < len(calls); start += refreshBatch {
		batch := calls[start:min(start+refreshBatch, len(calls))]
		pipe := r.client.Pipeline()
		for i := range batch {
			c := &batch[i]
			c.cmd = joinScript.EvalSha(ctx, pipe, r.keys(c.room), c.conn, c.entry.userID, c.entry.userJSON, r.node, r.ttlMS(), "rejoin")
		}
		_, _ = pipe.Exec(ctx)
		restored := 0
		for _, c := range batch {
			res, err := c.cmd.Int64()
			gen := c.entry.gen
			switch {
			case err != nil:
				errs.add(err)
			case res == resultGone, res == resultConflict:
				r.local.removeIf(c.room, c.conn, func(e localEntry) bool { return e.gen == gen })
			default:
				restored++
				if res == 1 && r.onReturn != nil {
					var u chat.User
					if err := json.Unmarshal(c.entry.userJSON, &u); err != nil {
						errs.add(fmt.Errorf("decode user: %w", err))
						continue
					}
					r.onReturn(ctx, c.room, u)
				}
			}
		}
		if restored > 0 {
			r.log.InfoContext(ctx, "presence: heartbeat: restored connections Redis had lost", "count", restored)
		}
	}
	if errs.n > 0 {
		return fmt.Errorf("presence: heartbeat: rejoin %d connections: %w", errs.n, errs.last)
	}
	return nil
}

// errorTally counts errors and keeps the last, for one log line per pass.
type errorTally struct {
	n    int
	last error
}

func (t *errorTally) add(err error) {
	if err != nil {
		t.n++
		t.last = err
	}
}

// stringsOf converts a script's array reply to its strings.
func stringsOf(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
