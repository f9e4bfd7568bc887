package presence

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/chat"
)

// Departure is a user who went offline in a room because the node that
// held their last connection there was lost.
type Departure struct {
	Room string
	User chat.User
}

// nodeKey is the set of rooms a node has (or recently had) connections
// in: <prefix>:presence:node:<node>. It lets a surviving node find a lost
// node's rooms without scanning the key space. Join adds a room when it is
// the node's first connection there; each heartbeat pass adds every room
// the node is in (restoring the set after a Redis restart) and removes the
// rooms it has left, so the set stays the size of the node's rooms.
func nodeKey(prefix, node string) string { return prefix + ":presence:node:" + node }

// nodeKeyTTL is how long a node's room set outlives its last refresh.
func (r *Redis) nodeKeyTTL() time.Duration { return 2 * r.ttl }

// noteRoom adds a room to this node's room set. A failure is returned to
// be logged, not failed on: the next heartbeat writes the whole set again.
func (r *Redis) noteRoom(ctx context.Context, roomID string) error {
	key := nodeKey(r.prefix, r.node)
	pipe := r.client.Pipeline()
	pipe.SAdd(ctx, key, roomID)
	pipe.PExpire(ctx, key, r.nodeKeyTTL())
	_, err := pipe.Exec(ctx)
	return err
}

// writeRooms brings this node's room set up to date with a heartbeat's
// snapshot: it adds the snapshot's rooms and removes the set's rooms that
// no local connection is in any more (read back from Redis, so a room a
// Join noted and a Leave left between two passes goes too). It never
// deletes the set wholesale, so a room a concurrent Join has just noted
// stays in it.
func (r *Redis) writeRooms(ctx context.Context, snaps []roomSnapshot) error {
	key := nodeKey(r.prefix, r.node)
	listed, err := r.client.SMembers(ctx, key).Result()
	if err != nil {
		return err
	}
	now := make(map[string]struct{}, len(snaps))
	add := make([]any, 0, len(snaps))
	for _, sn := range snaps {
		now[sn.room] = struct{}{}
		add = append(add, sn.room)
	}
	var stale []any
	for _, room := range listed {
		if _, still := now[room]; !still && !r.local.hasRoom(room) {
			stale = append(stale, room)
		}
	}
	pipe := r.client.Pipeline()
	if len(add) > 0 {
		pipe.SAdd(ctx, key, add...)
		pipe.PExpire(ctx, key, r.nodeKeyTTL())
	}
	if len(stale) > 0 {
		pipe.SRem(ctx, key, stale...)
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err = pipe.Exec(ctx)
	return err
}

// Reap removes every connection of a lost node (one that stopped without
// leaving its rooms: a crash or a partition) and returns the users for
// whom it held the last connection in a room, so the caller can announce
// them offline. Each room is one script, so when several nodes reap the
// same lost node at once every departure is returned to exactly one of
// them. Reaping this node, or a node with nothing left, returns nothing.
//
// Reap within the TTL of the node's loss: a connection that has expired
// is pruned silently by the next call touching its room, so its user is
// no longer there to be announced.
func (r *Redis) Reap(ctx context.Context, node string) ([]Departure, error) {
	if node == "" || node == r.node {
		return nil, nil
	}
	return r.reap(ctx, node)
}

// ReapPrevious is Reap of this node's own ID, for a hub restarted under
// the same HUB_NODE_ID after a crash: the others saw it come back within
// seconds and never found it lost, so its previous run's connections
// linger until it clears them. Call it before the first Join: it removes
// every entry of this node ID.
func (r *Redis) ReapPrevious(ctx context.Context) ([]Departure, error) {
	return r.reap(ctx, r.node)
}

func (r *Redis) reap(ctx context.Context, node string) ([]Departure, error) {
	key := nodeKey(r.prefix, node)
	rooms, err := r.client.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("presence: reap %s: redis: %w", node, err)
	}
	var out []Departure
	for _, room := range rooms {
		users, err := reapScript.Run(ctx, r.client, r.keys(room), node).StringSlice()
		if err != nil {
			return out, fmt.Errorf("presence: reap %s in room %s: redis: %w", node, room, err)
		}
		for _, uj := range users {
			var u chat.User
			if err := json.Unmarshal([]byte(uj), &u); err != nil {
				return out, fmt.Errorf("presence: reap %s: decode user %q: %w", node, uj, err)
			}
			out = append(out, Departure{Room: room, User: u})
		}
	}
	if err := r.client.Del(ctx, key).Err(); err != nil {
		return out, fmt.Errorf("presence: reap %s: redis: %w", node, err)
	}
	return out, nil
}

// reapScript drops every connection of one node in a room, expired ones
// included. They are not marked gone: should the node only have been cut
// off, its heartbeat restores them, since they are still connected. ARGV:
// node. Returns the chat.User JSON of each user left with no connection in
// the room.
var reapScript = redis.NewScript(preludeLua + `
local node = ARGV[1]
local now = clock()
local departed = {}
local all = redis.call('HGETALL', info)
for i = 1, #all, 2 do
  local id, ci = all[i], cjson.decode(all[i + 1])
  if ci.n == node then
    local uj = redis.call('HGET', users, ci.u)
    drop(id)
    if uj and redis.call('HEXISTS', count, ci.u) == 0 then
      departed[#departed + 1] = uj
    end
  end
end
prune(now)
settle()
return departed
`)
