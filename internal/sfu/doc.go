// Package sfu is the selective forwarding unit of video calls: it receives
// each participant's media once and forwards it to every other participant,
// never decoding it.
//
// # What it owns (so far)
//
// This first part is the forwarding hot path's bookkeeping, on raw RTP
// bytes and with no allocation per packet:
//
//   - Ring keeps the latest packets of one incoming track, each copied once
//     into a slot allocated up front, so that subscriber NACKs are answered
//     from one shared buffer instead of a copy per subscriber.
//   - Rewriter gives one subscriber a continuous stream of sequence numbers
//     and timestamps while the packets it forwards come from different
//     sources (simulcast layers switched on keyframes) or skip packets it
//     chose not to send.
//   - ReadFeedback reads a subscriber's RTCP for generic NACKs (answered
//     from the Ring) and picture loss indications.
//   - KeyframeThrottle bounds the keyframe requests sent to one publisher
//     without losing the last asker's.
//   - LayerSelector picks the simulcast layer one subscriber is sent from
//     its estimated bandwidth: down at once, up after a hold, switching
//     only at a keyframe of the layer.
//   - IsKeyframe finds where a VP8 or H.264 stream may be switched to, from
//     the first bytes of a payload (fuzzed).
//
// The Pion peer connections, track routing and negotiation (issue 4) build
// on these.
//
// # Concurrency contract
//
// Ring is safe for one writer (the track's reader) and many readers (the
// subscribers' NACK handlers): a mutex guards the slots. Rewriter belongs
// to one subscriber's forwarding goroutine, like LayerSelector, and
// KeyframeThrottle to one publisher's; none is safe for concurrent use. ReadFeedback keeps no
// state.
package sfu
