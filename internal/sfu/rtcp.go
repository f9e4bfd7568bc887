package sfu

import (
	"encoding/binary"
	"errors"
)

// RTCP packet types and feedback formats the forwarding path reads
// (RFC 3550, RFC 4585).
const (
	rtcpRTPFB   = 205 // transport-layer feedback
	rtcpPSFB    = 206 // payload-specific feedback
	fmtNACK     = 1   // RTPFB: generic NACK
	fmtPLI      = 1   // PSFB: picture loss indication
	rtcpHdrLen  = 4
	feedbackLen = 12 // header + sender SSRC + media SSRC
)

// ErrBadRTCP is returned for bytes that are not a well-formed RTCP
// compound packet.
var ErrBadRTCP = errors.New("sfu: malformed RTCP")

// Feedback is what a subscriber's RTCP asks of the forwarder.
type Feedback struct {
	// OnNACK is called with each sequence number a generic NACK reports
	// lost, with the media SSRC it is about.
	OnNACK func(mediaSSRC uint32, seq uint16)
	// OnPLI is called for each picture loss indication.
	OnPLI func(mediaSSRC uint32)
}

// ReadFeedback walks an RTCP compound packet and reports the NACKs and
// PLIs in it; other packets (reports, REMB, TWCC) are skipped. It does not
// allocate. A malformed packet stops the walk with ErrBadRTCP; what was
// reported before it stands.
func ReadFeedback(buf []byte, fb Feedback) error {
	for len(buf) > 0 {
		if len(buf) < rtcpHdrLen || buf[0]>>6 != rtpVersion {
			return ErrBadRTCP
		}
		count := buf[0] & 0x1f
		pt := buf[1]
		size := (int(binary.BigEndian.Uint16(buf[2:4])) + 1) * 4
		if size > len(buf) {
			return ErrBadRTCP
		}
		p := buf[:size]
		buf = buf[size:]
		switch {
		case pt == rtcpRTPFB && count == fmtNACK:
			if len(p) < feedbackLen || (len(p)-feedbackLen)%4 != 0 {
				return ErrBadRTCP
			}
			media := binary.BigEndian.Uint32(p[8:12])
			for fci := p[feedbackLen:]; len(fci) >= 4; fci = fci[4:] {
				pid := binary.BigEndian.Uint16(fci[0:2])
				blp := binary.BigEndian.Uint16(fci[2:4])
				if fb.OnNACK == nil {
					continue
				}
				fb.OnNACK(media, pid)
				for i := range uint16(16) {
					if blp&(1<<i) != 0 {
						fb.OnNACK(media, pid+i+1)
					}
				}
			}
		case pt == rtcpPSFB && count == fmtPLI:
			if len(p) < feedbackLen {
				return ErrBadRTCP
			}
			if fb.OnPLI != nil {
				fb.OnPLI(binary.BigEndian.Uint32(p[8:12]))
			}
		}
	}
	return nil
}
