package presence

import "github.com/redis/go-redis/v9"

// Key layout. Every key of a room shares the hash tag {room ID}, so each
// script touches one hash slot (Redis Cluster keeps them on one node):
//
//	<prefix>:presence:{<room>}:conns  sorted set: connection ID → deadline (ms, Redis clock)
//	<prefix>:presence:{<room>}:info   hash: connection ID → {"u": user ID, "n": node, "s": since (ms)}
//	<prefix>:presence:{<room>}:users  hash: user ID → chat.User JSON of the latest Join
//	<prefix>:presence:{<room>}:count  hash: user ID → the user's live connections in the room
//	<prefix>:presence:{<room>}:gone   sorted set: connection ID → until when (ms) a heartbeat
//	                                  may not bring back a connection that left
//
// A connection whose deadline has passed is expired: every script first
// prunes those (pruneLua), so no reply ever includes one. Each script ends
// by deleting the keys of a room left empty, or by setting them to expire
// with the room's longest-lived connection (settleLua), so a room whose
// hubs all crashed leaves nothing behind. No script or call scans the key
// space.
var roomKeyParts = [...]string{"conns", "info", "users", "count", "gone"}

// roomKeys returns the keys of a room, in the order the scripts take them.
func roomKeys(prefix, roomID string) []string {
	base := prefix + ":presence:{" + roomID + "}:"
	keys := make([]string, len(roomKeyParts))
	for i, part := range roomKeyParts {
		keys[i] = base + part
	}
	return keys
}

// Script results that are not a first/last flag.
const (
	resultConflict = -1 // the connection ID belongs to another user
	resultGone     = -2 // a heartbeat re-join refused: the connection left
)

// preludeLua is shared by every script: key names, the Redis clock, and
// the bookkeeping that keeps conns, info, users and count consistent.
//
// The clock is Redis's (TIME), not the hubs': deadlines and Since then
// need no clock synchronisation between hubs.
const preludeLua = `
local conns, info, users, count, gone = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- drop removes one connection; when it was its user's last, the user too.
local function drop(id)
  local raw = redis.call('HGET', info, id)
  redis.call('ZREM', conns, id)
  if not raw then return end
  redis.call('HDEL', info, id)
  local u = cjson.decode(raw).u
  if redis.call('HINCRBY', count, u, -1) <= 0 then
    redis.call('HDEL', count, u)
    redis.call('HDEL', users, u)
  end
end

-- prune drops the connections whose deadline has passed and forgets old
-- departures; it returns how many connections it dropped.
local function prune(now)
  redis.call('ZREMRANGEBYSCORE', gone, '-inf', now)
  local dead = redis.call('ZRANGEBYSCORE', conns, '-inf', now)
  for _, id in ipairs(dead) do drop(id) end
  return #dead
end

-- settle deletes the keys of an empty room, or makes them expire when its
-- longest-lived connection does.
local function settle()
  local top = redis.call('ZRANGE', conns, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('DEL', conns, info, users, count)
  else
    local at = tonumber(top[2])
    redis.call('PEXPIREAT', conns, at)
    redis.call('PEXPIREAT', info, at)
    redis.call('PEXPIREAT', users, at)
    redis.call('PEXPIREAT', count, at)
  end
  local g = redis.call('ZRANGE', gone, -1, -1, 'WITHSCORES')
  if #g > 0 then redis.call('PEXPIREAT', gone, tonumber(g[2])) end
end
`

// joinScript records a connection. ARGV: connection ID, user ID, user JSON,
// node, TTL (ms), mode ("join", or "rejoin" for a heartbeat restoring a
// lost entry). Returns 1 (the user's first connection in the room), 0,
// resultConflict or resultGone.
var joinScript = redis.NewScript(preludeLua + `
local id, u, uj, node, ttl, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local now = clock()
prune(now)
if mode == 'rejoin' and redis.call('ZSCORE', gone, id) then
  settle()
  return -2
end
local raw = redis.call('HGET', info, id)
if raw then
  if cjson.decode(raw).u ~= u then
    settle()
    return -1
  end
  redis.call('ZADD', conns, now + ttl, id)
  redis.call('HSET', users, u, uj)
  settle()
  return 0
end
redis.call('ZREM', gone, id)
redis.call('HSET', info, id, cjson.encode({u = u, n = node, s = now}))
redis.call('ZADD', conns, now + ttl, id)
redis.call('HSET', users, u, uj)
local n = redis.call('HINCRBY', count, u, 1)
settle()
if n == 1 then return 1 end
return 0
`)

// leaveScript removes a connection and marks it gone, so an in-flight
// heartbeat cannot bring it back. ARGV: connection ID, user ID, TTL (ms).
// Returns 1 when the user has no connection left in the room (pruning the
// user's expired ones counts), else 0.
var leaveScript = redis.NewScript(preludeLua + `
local id, u, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = clock()
local raw = redis.call('HGET', info, id)
local left = false
if raw then
  if cjson.decode(raw).u ~= u then
    prune(now)
    settle()
    return 0
  end
  drop(id)
  left = true
end
redis.call('ZADD', gone, now + ttl, id)
prune(now)
settle()
if left and redis.call('HEXISTS', count, u) == 0 then return 1 end
return 0
`)

// refreshScript is the heartbeat of some of a node's connections in one
// room. ARGV: TTL (ms), connection IDs. It moves the deadline of each
// present one and returns {missing, departed}: the IDs with no entry that
// may be re-joined, and those that left (marked gone).
var refreshScript = redis.NewScript(preludeLua + `
local ttl = tonumber(ARGV[1])
local now = clock()
prune(now)
local missing, departed = {}, {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', conns, id) then
    redis.call('ZADD', conns, now + ttl, id)
  elseif redis.call('ZSCORE', gone, id) then
    departed[#departed + 1] = id
  else
    missing[#missing + 1] = id
  end
end
settle()
return {missing, departed}
`)

// onlineScript returns the room's users as a list of chat.User JSON.
var onlineScript = redis.NewScript(preludeLua + `
if prune(clock()) > 0 then settle() end
return redis.call('HVALS', users)
`)

// connectionsScript returns the room's connections as a flat list of
// connection ID, info JSON pairs.
var connectionsScript = redis.NewScript(preludeLua + `
if prune(clock()) > 0 then settle() end
return redis.call('HGETALL', info)
`)
