package sfu

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
)

// mline is what a test reads of one m-line of an offer.
type mline struct {
	kind, mid, direction string
	rids                 []string // a=rid values
	simulcast            []string // a=simulcast values
	ridExt               bool     // the sdes:rtp-stream-id extension is negotiated
}

func mlines(t *testing.T, raw string) []mline {
	t.Helper()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		t.Fatalf("offer does not parse: %v", err)
	}
	var out []mline
	for _, m := range d.MediaDescriptions {
		l := mline{kind: m.MediaName.Media}
		for _, a := range m.Attributes {
			switch a.Key {
			case sdp.AttrKeyMID:
				l.mid = a.Value
			case "sendrecv", "sendonly", "recvonly", "inactive":
				l.direction = a.Key
			case attrRID:
				l.rids = append(l.rids, a.Value)
			case attrSimulcast:
				l.simulcast = append(l.simulcast, a.Value)
			case sdp.AttrKeyExtMap:
				l.ridExt = l.ridExt || hasExtMap(&sdp.MediaDescription{Attributes: []sdp.Attribute{a}}, sdp.SDESRTPStreamIDURI)
			}
		}
		out = append(out, l)
	}
	return out
}

func nextOffer(t *testing.T, p *participant) string {
	t.Helper()
	select {
	case o := <-p.offers:
		return o
	case <-time.After(20 * time.Second):
		t.Fatalf("no offer for %s", p.peer)
		return ""
	}
}

var wantSimulcast = mline{
	rids:      []string{"q recv", "h recv", "f recv"},
	simulcast: []string{"recv q;h;f"},
}

// TestOfferAsksSimulcast: the first offer of a video call asks the
// camera m-line for three encodings (a browser sends one unless asked),
// not the microphone's; a screen share's m-line is asked in the offer
// that adds it, and the camera's, answered without simulcast, is not
// asked again.
func TestOfferAsksSimulcast(t *testing.T) {
	s := newSFU(t, Config{})
	a := join(t, s, "c", "pa", "a", joinOpts{manual: true})
	first := nextOffer(t, a)
	ls := mlines(t, first)
	if len(ls) != 2 {
		t.Fatalf("first offer: got %d m-lines, want 2 (microphone, camera): %+v", len(ls), ls)
	}
	mic, cam := ls[0], ls[1]
	if mic.kind != "audio" || len(mic.rids) != 0 || len(mic.simulcast) != 0 {
		t.Errorf("microphone m-line: got %+v, want audio without rid or simulcast", mic)
	}
	if cam.kind != "video" || cam.direction != "recvonly" || !cam.ridExt {
		t.Errorf("camera m-line: got %+v, want recvonly video with the rid extension", cam)
	}
	if !slices.Equal(cam.rids, wantSimulcast.rids) || !slices.Equal(cam.simulcast, wantSimulcast.simulcast) {
		t.Errorf("camera m-line: got rids %q simulcast %q, want %q %q", cam.rids, cam.simulcast, wantSimulcast.rids, wantSimulcast.simulcast)
	}

	// The client publishes nothing: its answer has no a=simulcast.
	a.answer(t, s, first)
	if err := s.Publish(context.Background(), "c", "pa", SourceScreen); err != nil {
		t.Fatalf("Publish screen: %v", err)
	}
	ls = mlines(t, nextOffer(t, a))
	if len(ls) != 3 {
		t.Fatalf("screen offer: got %d m-lines, want 3: %+v", len(ls), ls)
	}
	if cam := ls[1]; len(cam.rids) != 0 || len(cam.simulcast) != 0 {
		t.Errorf("camera m-line, answered without simulcast: got rids %q simulcast %q, want none", cam.rids, cam.simulcast)
	}
	if scr := ls[2]; scr.kind != "video" || !slices.Equal(scr.rids, wantSimulcast.rids) || !slices.Equal(scr.simulcast, wantSimulcast.simulcast) {
		t.Errorf("screen m-line: got %+v, want video with rids %q simulcast %q", scr, wantSimulcast.rids, wantSimulcast.simulcast)
	}
}

// TestSingleEncodingPublisher: a publisher that sends one encoding
// without RID, answering the simulcast-asking offer (a browser may
// refuse simulcast; Pion's answer echoes the offer's receive RIDs), is
// forwarded as a plain track.
func TestSingleEncodingPublisher(t *testing.T) {
	s := newSFU(t, Config{})
	join(t, s, "c", "pa", "a", joinOpts{video: true, audio: true})
	b := join(t, s, "c", "pb", "b", joinOpts{})
	for _, id := range []string{"a:camera", "a:microphone"} {
		eventually(t, "b receiving "+id, func() bool { return b.received(id, 40) })
		checkStream(t, b, id)
	}
	c := s.calls["c"]
	c.mu.Lock()
	up := c.members["pa"].published[SourceCamera]
	c.mu.Unlock()
	if up == nil || len(up.layers) != 1 || up.layers[0].rid != "" {
		t.Fatalf("camera layers: got %+v, want one without RID", up)
	}
}

func TestAnswerSendRIDs(t *testing.T) {
	head := "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
	tests := []struct {
		name, in, want string
	}{
		{"no simulcast (a browser that refused)", head + "a=sendonly\r\n", head + "a=sendonly\r\n"},
		{"browser simulcast answer",
			head + "a=rid:q send\r\na=rid:h send\r\na=simulcast:send q;h\r\n",
			head + "a=rid:q send\r\na=rid:h send\r\na=simulcast:send q;h\r\n"},
		{"Pion echo without sending simulcast",
			head + "a=rid:q recv\r\na=rid:h recv\r\na=simulcast:recv q;h\r\na=sendonly\r\n",
			head + "a=sendonly\r\n"},
		{"Pion echo and its own encodings",
			head + "a=rid:q recv\r\na=simulcast:recv q\r\na=rid:q send\r\na=rid:f send\r\na=simulcast:send q;f\r\n",
			head + "a=rid:q send\r\na=rid:f send\r\na=simulcast:send q;f\r\n"},
		{"both directions in one attribute",
			head + "a=rid:x recv\r\na=rid:q send\r\na=simulcast:recv x send q\r\n",
			head + "a=rid:q send\r\na=simulcast:send q\r\n"},
		{"not SDP", "a=rid:q recv", "a=rid:q recv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := answerSendRIDs(tt.in); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", strings.ReplaceAll(got, "\r\n", "\n"), strings.ReplaceAll(tt.want, "\r\n", "\n"))
			}
		})
	}
}

// FuzzAnswerFilter feeds client answers (any bytes) to the SDP handling
// the SFU does before Pion sees them: the filter must not panic, must
// leave no receive RID behind in an answer it could parse, and must never
// increase what the RID count reports.
func FuzzAnswerFilter(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=rid:q recv\r\na=rid:h send\r\na=simulcast:recv q;h;f send h\r\n")
	f.Add("v=0\r\nm=audio 9 RTP/AVP 0\r\na=rid:a send\r\na=rid:b send\r\na=rid:c send\r\na=rid:d send\r\n")
	f.Add("a=simulcast:send 1,2;3;4;5\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, answer string) {
		out := answerSendRIDs(answer)
		if n, m := maxSendRIDs(out), maxSendRIDs(answer); n > m {
			t.Fatalf("filtering raised the send RID count from %d to %d", m, n)
		}
		if out == answer {
			return
		}
		var d sdp.SessionDescription
		if err := d.UnmarshalString(out); err != nil {
			t.Fatalf("the filter produced an SDP that does not parse: %v", err)
		}
		for _, m := range d.MediaDescriptions {
			for _, a := range m.Attributes {
				if a.Key == attrRID {
					if fs := strings.Fields(a.Value); len(fs) < 2 || fs[1] != "send" {
						t.Fatalf("receive RID %q left in the filtered answer", a.Value)
					}
				}
			}
		}
	})
}
