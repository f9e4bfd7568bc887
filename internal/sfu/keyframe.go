package sfu

// Codec is a video codec the forwarder can find keyframes in.
type Codec int

// Codecs.
const (
	CodecVP8 Codec = iota + 1
	CodecH264
)

// IsKeyframe reports whether an RTP payload (the bytes after the RTP
// header and its extensions) starts a keyframe: where a subscriber may
// switch to this stream. It only reads the payload's first bytes.
func IsKeyframe(c Codec, payload []byte) bool {
	switch c {
	case CodecVP8:
		return vp8Keyframe(payload)
	case CodecH264:
		return h264Keyframe(payload)
	}
	return false
}

// vp8Keyframe reads the VP8 payload descriptor (RFC 7741 §4.2) and, at the
// start of partition 0, the frame tag's inverse key frame bit (RFC 6386
// §9.1).
func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x0f
	if !s || pid != 0 {
		return false // not the first packet of the frame
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture ID, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	return len(p) > i && p[i]&0x01 == 0
}

// H.264 NAL unit types (RFC 6184 §5.2, H.264 Table 7-1).
const (
	nalIDR   = 5
	nalSPS   = 7
	nalSTAPA = 24
	nalFUA   = 28
)

// h264Keyframe looks for an IDR slice or a sequence parameter set, which
// senders put in front of one, as a single NAL unit, inside a STAP-A, or
// at the start of an FU-A.
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case nalIDR, nalSPS:
		return true
	case nalSTAPA:
		for rest := p[1:]; len(rest) >= 3; {
			size := int(rest[0])<<8 | int(rest[1])
			if size == 0 || len(rest) < 2+size {
				return false
			}
			if nt := rest[2] & 0x1f; nt == nalIDR || nt == nalSPS {
				return true
			}
			rest = rest[2+size:]
		}
	case nalFUA:
		if len(p) < 2 {
			return false
		}
		start, nt := p[1]&0x80 != 0, p[1]&0x1f
		return start && (nt == nalIDR || nt == nalSPS)
	}
	return false
}
