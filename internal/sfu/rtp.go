package sfu

import (
	"encoding/binary"
	"errors"
)

// RTP fixed header fields, by byte offset (RFC 3550 §5.1).
const (
	rtpHeaderLen = 12
	rtpVersion   = 2
)

// ErrShortPacket is returned for bytes that cannot be an RTP packet.
var ErrShortPacket = errors.New("sfu: not an RTP packet")

// header is the part of an RTP packet the forwarding path reads and
// rewrites. The payload is never looked at.
type header struct {
	seq  uint16
	ts   uint32
	ssrc uint32
}

func parseHeader(pkt []byte) (header, error) {
	if len(pkt) < rtpHeaderLen || pkt[0]>>6 != rtpVersion {
		return header{}, ErrShortPacket
	}
	return header{
		seq:  binary.BigEndian.Uint16(pkt[2:4]),
		ts:   binary.BigEndian.Uint32(pkt[4:8]),
		ssrc: binary.BigEndian.Uint32(pkt[8:12]),
	}, nil
}

// writeHeader rewrites sequence number, timestamp and SSRC in place.
func writeHeader(pkt []byte, h header) {
	binary.BigEndian.PutUint16(pkt[2:4], h.seq)
	binary.BigEndian.PutUint32(pkt[4:8], h.ts)
	binary.BigEndian.PutUint32(pkt[8:12], h.ssrc)
}

// seqNewer reports whether a is after b in sequence-number order, across
// the 16-bit wrap (RFC 3550's half-range rule).
func seqNewer(a, b uint16) bool { return a != b && uint16(a-b) < 1<<15 }
