package servertest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/sfu/sfutest"
)

// RTC is a call participant's WebRTC side, carried over one hub
// connection: a Pion peer (sfutest.Client) that answers the SFU's
// rtc_offer events and exchanges candidates with rtc_candidate, as a
// browser does.
type RTC struct {
	*sfutest.Client
	t      testing.TB
	c      *Client
	callID string

	mu      sync.Mutex // guards errs, offers
	errs    []error
	offers  int
	stop    chan struct{} // closed at cleanup: the pump returns
	pumping sync.WaitGroup
}

// NewRTC prepares c to take part in call callID: it routes the
// connection's rtc_offer and rtc_candidate events to a new Pion peer.
// Publish tracks (PublishVP8, PublishOpus) and then call_join; the peer
// answers every offer by itself. It is closed at cleanup; Errors lists
// what went wrong on the way.
func NewRTC(t testing.TB, c *Client, callID string) *RTC {
	t.Helper()
	r := &RTC{t: t, c: c, callID: callID, stop: make(chan struct{})}
	pc, err := sfutest.New(sfutest.Options{OnCandidate: r.sendCandidate})
	if err != nil {
		t.Fatalf("rtc: new peer: %v", err)
	}
	r.Client = pc
	frames := c.Route(chat.EventRTCOffer, chat.EventRTCCandidate)
	r.pumping.Add(1)
	go r.pump(frames)
	t.Cleanup(func() {
		close(r.stop)
		r.pumping.Wait()
		pc.Close()
	})
	return r
}

// rtcFrame is an rtc_offer or rtc_candidate event.
type rtcFrame struct {
	Type      string          `json:"type"`
	CallID    string          `json:"call_id"`
	SDP       string          `json:"sdp"`
	Candidate json.RawMessage `json:"candidate"`
}

func (r *RTC) pump(frames <-chan Frame) {
	defer r.pumping.Done()
	for {
		var f Frame
		select {
		case <-r.stop:
			return
		case next, ok := <-frames:
			if !ok {
				return
			}
			f = next
		}
		var ev rtcFrame
		if err := json.Unmarshal(f.Raw, &ev); err != nil {
			r.fail(fmt.Errorf("undecodable %s: %w", f.Type, err))
			continue
		}
		if ev.CallID != r.callID {
			r.fail(fmt.Errorf("%s for call %q, want %q", ev.Type, ev.CallID, r.callID))
			continue
		}
		switch ev.Type {
		case chat.EventRTCOffer:
			answer, err := r.HandleOffer(ev.SDP)
			if err != nil {
				r.fail(err)
				continue
			}
			rep, err := r.c.TryDo("rtc_answer", map[string]any{"call_id": r.callID, "sdp": answer})
			if err == nil && !rep.OK {
				err = fmt.Errorf("rtc_answer: %s", rep.Raw)
			}
			if err != nil {
				r.fail(err)
				continue
			}
			r.mu.Lock()
			r.offers++
			r.mu.Unlock()
		case chat.EventRTCCandidate:
			if err := r.HandleCandidate(ev.Candidate); err != nil {
				r.fail(err)
			}
		}
	}
}

func (r *RTC) sendCandidate(cand json.RawMessage) {
	rep, err := r.c.TryDo("rtc_candidate", map[string]any{"call_id": r.callID, "candidate": cand})
	if err == nil && !rep.OK {
		err = fmt.Errorf("rtc_candidate: %s", rep.Raw)
	}
	if err != nil {
		r.fail(err)
	}
}

func (r *RTC) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// Errors lists what went wrong in signaling so far.
func (r *RTC) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// Answered counts the offers answered so far.
func (r *RTC) Answered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.offers
}
