package sfu

import "sync"

// MaxPacketSize bounds the packets a Ring keeps: larger ones are not
// buffered (and so not retransmitted). It is above any Ethernet MTU.
const MaxPacketSize = 1500

// Ring keeps the latest packets of one track by sequence number, in slots
// allocated once, for retransmission on NACK.
type Ring struct {
	mu    sync.Mutex // guards everything below
	slots [][MaxPacketSize]byte
	lens  []int
	seqs  []uint16
	used  []bool
	head  uint16 // newest sequence number stored
	any   bool   // whether head is set
}

// NewRing returns a ring for size packets; size is rounded up to a power
// of two (at least 2), so that a sequence number maps to a slot by a mask.
func NewRing(size int) *Ring {
	n := 2
	for n < size {
		n <<= 1
	}
	return &Ring{
		slots: make([][MaxPacketSize]byte, n),
		lens:  make([]int, n),
		seqs:  make([]uint16, n),
		used:  make([]bool, n),
	}
}

// Len is the number of packets the ring can hold.
func (r *Ring) Len() int { return len(r.slots) }

// Put copies one packet into the ring. Packets too old to fit (more than
// Len behind the newest), too large or not RTP are not kept; Put reports
// whether it kept pkt.
func (r *Ring) Put(pkt []byte) bool {
	h, err := parseHeader(pkt)
	if err != nil || len(pkt) > MaxPacketSize {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.any && !seqNewer(h.seq, r.head) && uint16(r.head-h.seq) >= uint16(len(r.slots)) {
		return false // older than anything the ring still covers
	}
	i := int(h.seq) & (len(r.slots) - 1)
	r.lens[i] = copy(r.slots[i][:], pkt)
	r.seqs[i] = h.seq
	r.used[i] = true
	if !r.any || seqNewer(h.seq, r.head) {
		r.head, r.any = h.seq, true
	}
	return true
}

// Get copies the packet with sequence number seq into dst and returns its
// length; ok is false when the ring no longer (or never) held it, or dst
// is too small.
func (r *Ring) Get(seq uint16, dst []byte) (n int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := int(seq) & (len(r.slots) - 1)
	if !r.used[i] || r.seqs[i] != seq || len(dst) < r.lens[i] {
		return 0, false
	}
	if uint16(r.head-seq) >= uint16(len(r.slots)) {
		return 0, false // the slot was reused by a newer wrap
	}
	return copy(dst, r.slots[i][:r.lens[i]]), true
}
