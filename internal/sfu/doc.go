// Package sfu is the selective forwarding unit of video calls: it receives
// each participant's media once and forwards it to every other participant,
// never decoding it. It owns the Pion peer connections of the calls hosted
// on this node and nothing else: call state, signaling transport and
// placement belong to internal/calls and internal/sfurpc.
//
// # Entry points
//
// New builds one Pion API (codecs VP8, H.264, Opus; interceptors; network
// settings: a shared UDP mux or port range, NAT 1:1 addresses, ICE-TCP,
// loopback mode) shared by every peer. Join creates a participant's peer
// connection and sends its first offer through the caller's signal
// function (a Join of a joined peer id closes the old peer, as Leave
// would, and makes a new one); Answer, Candidate and Publish carry the
// client's side; Leave,
// End and Close tear down. Stats and Load report tracks and sizes;
// Metrics receives counters. Errors wrap ErrNotFound, ErrBadRequest,
// ErrConflict and ErrTooManyTracks.
//
// Config.MaxTracks limits the sources a peer publishes on, that is the
// transceivers it sends on: microphone, camera (video calls) and screen
// count one each, whatever their simulcast layers, and the first offer's
// (microphone, camera) count although they are always made. Publish
// refuses a source beyond it with ErrTooManyTracks. There are three
// sources, so the default, 4, never refuses; a lower value (2 in a video
// call) refuses the screen.
//
// # Negotiation
//
// The SFU is always the offerer and keeps at most one offer outstanding
// per peer: changes made while an offer is pending (another participant
// publishing or leaving, a screen share) mark the peer dirty and are
// coalesced into one new offer sent when the answer arrives. The first
// offer has a recvonly audio transceiver (microphone) and for video calls
// a recvonly video one (camera); Publish("screen") adds another. Which
// source arrives on which transceiver (mid) is recorded when it is
// created. The camera and screen m-lines ask for simulcast the first
// time they are offered (a=rid q, h, f recv and a=simulcast:recv, added
// to the copy of the offer sent, since Pion writes receive RIDs only when
// echoing an answer); a client may refuse, and is then forwarded as one
// encoding. Answers lose their receive RIDs before Pion reads them (see
// answerSendRIDs); one declaring more than 3 send RIDs in a media
// section is refused (ErrBadRequest, the offer stays pending), and a
// layer's ring is made when its first packet arrives. Forwarded tracks have stream id = the publisher's
// user id and track id = "<userID>:<source>". A subscription that ends
// leaves its m-line sendonly without a track (no a=msid, no a=ssrc);
// once the client has answered that, the m-line is reused, with a new
// sender, by the next subscription of its kind, so that joins and
// leaves do not grow the session description. Candidates trickle both
// ways: the engine's are Signal{Type: "candidate", Candidate:
// RTCIceCandidateInit JSON}, delivered after the first offer. A peer
// takes at most 128 remote candidates (64 before its first answer), and
// outside Loopback mode none whose address is loopback, link-local,
// unspecified or multicast (ErrBadRequest).
//
// # Forwarding
//
// Each incoming track (each simulcast layer) is read by one goroutine
// into its Ring, the packets kept once for every subscriber's NACKs.
// Each subscriber has a downTrack, the webrtc.TrackLocal of its
// RTPSender, which rewrites a 12-byte copy of the header (Rewriter:
// SSRC, payload type, continuous sequence numbers and timestamps) and
// writes it with the shared payload through the bound TrackLocalWriter:
// no allocation per packet in this package. Header extensions of the
// publisher are not forwarded (their ids belong to the publisher's
// negotiation). Above shardThreshold subscribers, the reader hands slot
// references to fixed shard workers, each writing to a subset (a packet
// the ring did not keep, too large or too late, is written by the reader
// itself).
// Subscriber NACKs are answered from the ring, mapped back from the
// subscriber's sequence numbers through a per-subscriber history; Pion's
// NACK responder is not registered. Keyframe requests (PLI) go to the
// publisher when a subscriber starts, when a subscriber asks, and when
// a layer switch waits for one, throttled per layer by KeyframeThrottle.
// A simulcast subscriber gets one layer, chosen by LayerSelector from
// its estimate (REMB when received, else receiver-report loss; there is
// no delay-based estimator) and switched at a keyframe (IsKeyframe).
//
// # Concurrency contract
//
// Every entry point is safe for concurrent use. Lock order: SFU.mu (the
// call registry) → call.mu (a call's topology: members, what each
// publishes and receives) → peer.mu (a peer's negotiation state and
// transceiver sources) → layer.kfMu / downTrack.mu (one subscriber's
// forwarding state). The hot path reads the subscriber list without a
// lock (copy on write, atomic pointer).
//
// Goroutines and their owners: one signal queue per peer (ends in
// peer.close); per incoming track the reader (Pion's OnTrack goroutine,
// ends when the track's reads fail after close) and an RTCP drain; per
// subscription an RTCP reader (ends when its sender stops); per busy
// track shardCount workers (end in upTrack.close); a reaper per peer
// Pion declares failed (SFU.wg). peer.close waits for all of the peer's;
// Close waits for everything. Signal functions are called from the
// peer's queue goroutine, in order, with no engine lock held.
//
// Ring is safe for one writer and many readers. Rewriter and
// LayerSelector belong to one downTrack (under its mutex);
// KeyframeThrottle to one layer (under kfMu). ReadFeedback keeps no
// state.
package sfu
