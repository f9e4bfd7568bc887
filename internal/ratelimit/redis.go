package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// expirySlack is added to a key's Redis TTL beyond its window, so that a
// hub whose clock runs a little behind the others still finds the events
// that count for it.
const expirySlack = time.Second

// allowScript is the whole decision, run atomically in Redis. KEYS[1] is
// the key's sorted set of allowed events (member: unique ID, score: the
// event's time in µs). ARGV: now (µs), window (µs), limit, a unique member
// for the event to record, the key's TTL (ms).
//
// It returns {1, remaining} when the event is allowed (and recorded) and
// {0, retry after (µs)} when it is refused (and nothing is written).
var allowScript = redis.NewScript(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
-- An event at t counts during [t, t+window): those at or before now-window
-- no longer do.
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, ARGV[5])
  return {1, limit - n - 1}
end
-- n-limit+1 events must expire for one more to fit; the last of them is
-- the (n-limit)th, counting from 0, oldest first.
local e = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
return {0, tonumber(e[2]) + window - now}
`)

// Redis is the sliding-window limiter shared by every hub that uses the
// same Redis and prefix: one sorted set of event times per key, read and
// written by one Lua script per decision. Create it with NewRedis; it starts
// no goroutines and needs no Close (it never closes the client it was given).
type Redis struct {
	client redis.Scripter
	prefix string
	now    func() time.Time
	nonce  string        // random per limiter, so members never collide across hubs
	seq    atomic.Uint64 // makes members unique within this limiter
}

// NewRedis returns a limiter keeping its state in Redis under
// prefix + ":ratelimit:" + key. Hubs sharing the limits must use the same
// prefix; hubs that must not share them, different ones.
//
// Time is read from the hub (time.Now, or WithClock), not from Redis, and
// sent to the script: the window of every hub is measured on its own clock,
// so hubs sharing a Redis should keep their clocks synchronised (NTP). A skew
// of s shifts when another hub's events stop counting by s; RetryAfter is
// never reported beyond one window. Times are kept in microseconds.
// WithJanitorInterval does not apply: Redis expires idle keys itself, one
// window (plus a second) after their latest allowed event.
func NewRedis(client redis.UniversalClient, prefix string, opts ...Option) *Redis {
	o := newOptions(opts)
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &Redis{client: client, prefix: prefix, now: o.now, nonce: hex.EncodeToString(b[:])}
}

// redisKey is the Redis key holding the events of key: the one place key
// names are made.
func (r *Redis) redisKey(key string) string { return r.prefix + ":ratelimit:" + key }

// Allow decides whether key may have one more event now, given at most limit
// events per window, with exactly Memory's semantics (see the package doc).
// It is atomic across every hub sharing the Redis.
func (r *Redis) Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("ratelimit: allow: %w", err)
	}
	if limit < 1 || window <= 0 {
		return Decision{}, fmt.Errorf("ratelimit: allow %q: limit %d, window %s: %w", key, limit, window, ErrBadLimit)
	}
	now := r.now().UnixMicro()
	windowUS := int64((window + time.Microsecond - 1) / time.Microsecond)
	ttlMS := int64((window + expirySlack + time.Millisecond - 1) / time.Millisecond)
	member := strconv.FormatInt(now, 36) + "-" + r.nonce + "-" + strconv.FormatUint(r.seq.Add(1), 36)

	res, err := allowScript.Run(ctx, r.client, []string{r.redisKey(key)}, now, windowUS, limit, member, ttlMS).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: allow %q: redis: %w", key, err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: allow %q: redis: unexpected script reply %v", key, res)
	}
	if res[0] == 1 {
		return Decision{Allowed: true, Remaining: int(res[1])}, nil
	}
	retry := min(time.Duration(res[1])*time.Microsecond, window)
	return Decision{RetryAfter: max(retry, time.Microsecond)}, nil
}
