package sfu

import (
	"slices"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"
)

// call is the forwarding topology of one call: who is in it, what each
// publishes and who receives what.
type call struct {
	id  string
	sfu *SFU

	// peers is the registry Answer/Candidate/… look peers up in; guarded
	// by sfu.mu (a nil value reserves the id while Join builds the peer).
	peers map[string]*peer

	mu      sync.Mutex // guards members, ended and every member's published and subs
	members map[string]*peer
	ended   bool
}

// add makes p a member and subscribes it to every track already
// published; false if the call has ended.
func (c *call) add(p *peer) bool {
	c.sfu.mu.Lock()
	_, reserved := c.peers[p.id]
	live := reserved && c.sfu.calls[c.id] == c
	if live {
		c.peers[p.id] = p
	} else if reserved {
		delete(c.peers, p.id)
	}
	c.sfu.mu.Unlock()
	if !live {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || p.isClosed() {
		return false
	}
	if c.members == nil {
		c.members = map[string]*peer{}
	}
	c.members[p.id] = p
	for _, q := range c.sortedMembers() {
		if q == p {
			continue
		}
		for _, up := range q.published {
			c.subscribe(p, up)
		}
	}
	return true
}

// sortedMembers lists the members by id, for a stable order; c.mu is held.
func (c *call) sortedMembers() []*peer {
	ps := make([]*peer, 0, len(c.members))
	for _, p := range c.members {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *peer) int { return strings.Compare(a.id, b.id) })
	return ps
}

// subscribe forwards up to q; c.mu is held.
func (c *call) subscribe(q *peer, up *upTrack) {
	if _, ok := q.subs[up]; ok {
		return
	}
	dt, err := newDownTrack(up, q)
	if err != nil {
		c.sfu.log.Warn("sfu: subscribe", "call", c.id, "peer", q.id, "track", up.id, "err", err)
		return
	}
	q.subs[up] = dt
	up.addSub(dt)
}

// attach is called when the first packet of a track (or simulcast
// layer) of p arrived: a new track is published to every other member,
// who renegotiate. It returns the layer the caller reads, nil if the
// call or the peer is gone or the layer is read already.
func (c *call) attach(p *peer, source string, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) *layer {
	c.mu.Lock()
	if c.ended || c.members[p.id] != p {
		c.mu.Unlock()
		return nil
	}
	up := p.published[source]
	fresh := up == nil
	if fresh {
		up = newUpTrack(c.sfu, p, source, remote, recv)
		p.published[source] = up
	}
	l := up.layerFor(remote.RID())
	if l == nil || l.started {
		c.mu.Unlock()
		return nil
	}
	l.started = true
	l.ring = NewRing(up.ringSize)
	var renegotiate []*peer
	if fresh {
		for _, q := range c.sortedMembers() {
			if q != p {
				c.subscribe(q, up)
				renegotiate = append(renegotiate, q)
			}
		}
	}
	c.mu.Unlock()
	if fresh {
		c.sfu.metrics.Tracks(1)
	}
	for _, q := range renegotiate {
		q.negotiate()
	}
	return l
}

// remove takes p out of the call: its tracks are removed from every
// subscriber (who renegotiate), its subscriptions end, and it is closed.
func (c *call) remove(p *peer) {
	c.mu.Lock()
	if c.members[p.id] != p {
		c.mu.Unlock()
		p.close()
		return
	}
	delete(c.members, p.id)
	type drop struct {
		q  *peer
		dt *downTrack
	}
	var drops []drop
	for _, up := range p.published {
		for _, q := range c.sortedMembers() {
			if dt := q.subs[up]; dt != nil {
				delete(q.subs, up)
				up.removeSub(dt)
				drops = append(drops, drop{q, dt})
			}
		}
	}
	for up, dt := range p.subs {
		up.removeSub(dt)
		delete(p.subs, up)
	}
	tracks := len(p.published)
	c.mu.Unlock()

	p.close()
	c.sfu.metrics.Peers(-1)
	c.sfu.metrics.Tracks(-tracks)
	var renegotiate []*peer
	for _, d := range drops {
		d.q.unsubscribe(d.dt)
		if !slices.Contains(renegotiate, d.q) {
			renegotiate = append(renegotiate, d.q)
		}
	}
	for _, q := range renegotiate {
		q.negotiate()
	}
}

// end closes every member; no renegotiation.
func (c *call) end() {
	c.mu.Lock()
	c.ended = true
	members := c.sortedMembers()
	c.members = nil
	tracks := 0
	for _, p := range members {
		tracks += len(p.published)
	}
	c.mu.Unlock()
	for _, p := range members {
		p.close()
	}
	c.sfu.metrics.Peers(-len(members))
	c.sfu.metrics.Tracks(-tracks)
}

func (c *call) stats() CallStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cs CallStats
	for _, p := range c.sortedMembers() {
		ps := PeerStats{Peer: p.id, User: p.user, Tracks: []TrackStats{}}
		for _, src := range []string{SourceMicrophone, SourceCamera, SourceScreen} {
			if up := p.published[src]; up != nil {
				ps.Tracks = append(ps.Tracks, up.stats())
			}
		}
		cs.Peers = append(cs.Peers, ps)
	}
	return cs
}

func (c *call) load() Load {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := Load{Peers: len(c.members)}
	for _, p := range c.members {
		l.Tracks += len(p.published)
		l.Subscriptions += len(p.subs)
	}
	return l
}
