package sfu

import (
	"strings"

	"github.com/pion/sdp/v3"
)

// simulcastRIDs are the encodings the SFU asks a publisher's camera and
// screen for, lowest first: a browser answering an offer with
// a=simulcast:recv creates its encodings in this order and, unless told
// otherwise, scales the first down the most (by 4, 2, 1), which is the
// order ridRank gives these names.
var simulcastRIDs = []string{"q", "h", "f"}

// SDP attribute names of RFC 8851 (rid) and RFC 8853 (simulcast).
const (
	attrRID       = "rid"
	attrSimulcast = "simulcast"
)

// askSimulcast returns the offer with a=rid:<id> recv and a=simulcast:recv
// lines added to the video m-lines of the given mids, the copy sent to the
// client. Pion v4.2.26 writes receive RIDs in an offer only when it echoes
// a previous answer's (generateMatchedSDP); a transceiver's first offer
// never has them, and SetLocalDescription accepts only the SDP
// CreateOffer returned, so the local description keeps Pion's version.
// That is enough for Pion to route the layers: the RIDs it reads come
// from the answer's a=rid send lines, and the rid header extension is in
// the offer already (ConfigureSimulcastExtensionHeaders). An m-line that
// already has RIDs or lacks the rid extension is left alone; on any
// parse failure the offer goes out unchanged (a single encoding).
func askSimulcast(offer string, mids map[string]bool) string {
	if len(mids) == 0 {
		return offer
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return offer
	}
	changed := false
	for _, m := range d.MediaDescriptions {
		mid, _ := m.Attribute(sdp.AttrKeyMID)
		if m.MediaName.Media != "video" || !mids[mid] || m.MediaName.Port.Value == 0 {
			continue
		}
		if _, ok := m.Attribute(attrSimulcast); ok {
			continue
		}
		if !hasExtMap(m, sdp.SDESRTPStreamIDURI) {
			continue
		}
		for _, rid := range simulcastRIDs {
			m.WithValueAttribute(attrRID, rid+" recv")
		}
		m.WithValueAttribute(attrSimulcast, "recv "+strings.Join(simulcastRIDs, ";"))
		changed = true
	}
	if !changed {
		return offer
	}
	b, err := d.Marshal()
	if err != nil {
		return offer
	}
	return string(b)
}

func hasExtMap(m *sdp.MediaDescription, uri string) bool {
	for _, a := range m.Attributes {
		if a.Key != sdp.AttrKeyExtMap {
			continue
		}
		// "<id>[/<direction>] <uri> [<attributes>]"
		if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == uri {
			return true
		}
	}
	return false
}

// answerSendRIDs returns the answer without receive RIDs: the SFU never
// offers to send simulcast, so an a=rid:<id> recv line or the recv part
// of a=simulcast in an answer only echoes the offer's (Pion as answerer
// copies the offer's RIDs into its answer). Pion reads every a=rid line
// of an m-line as an encoding the peer sends, whatever its direction, so
// left in, a single-encoding publisher's track would be expected under
// RIDs it never sends and its SSRC would not be routed. An answer without
// any such line is returned as it is; one that does not parse too (Pion
// reports the error).
func answerSendRIDs(answer string) string {
	if !strings.Contains(answer, "a="+attrRID+":") && !strings.Contains(answer, "a="+attrSimulcast+":") {
		return answer
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return answer
	}
	changed := false
	for _, m := range d.MediaDescriptions {
		attrs := m.Attributes[:0:0]
		for _, a := range m.Attributes {
			switch a.Key {
			case attrRID:
				// "<id> <direction> [<restrictions>]"
				if f := strings.Fields(a.Value); len(f) < 2 || f[1] != "send" {
					changed = true
					continue
				}
			case attrSimulcast:
				send := simulcastSend(a.Value)
				if send == "" {
					changed = true
					continue
				}
				if v := "send " + send; v != a.Value {
					a.Value, changed = v, true
				}
			}
			attrs = append(attrs, a)
		}
		m.Attributes = attrs
	}
	if !changed {
		return answer
	}
	b, err := d.Marshal()
	if err != nil {
		return answer
	}
	return string(b)
}

// simulcastSend is the send stream list of an a=simulcast value
// ("send q;h;f", "recv 1 send q;h;f", ...), "" if it has none.
func simulcastSend(v string) string {
	f := strings.Fields(v)
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] == "send" {
			return f[i+1]
		}
	}
	return ""
}

// maxSendRIDs is the most send RIDs a media section of an answer
// declares, in a=rid:<id> send lines or the send list of a=simulcast
// (alternatives, "a,b", count one each), to be applied after
// answerSendRIDs. It reads lines, not the parsed SDP, so that an answer
// Pion would refuse anyway costs no parse.
func maxSendRIDs(answer string) int {
	most, rids, listed := 0, 0, 0
	for line := range strings.Lines(answer) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(line, "m="):
			most = max(most, rids, listed)
			rids, listed = 0, 0
		case strings.HasPrefix(line, "a="+attrRID+":"):
			if f := strings.Fields(line[len("a="+attrRID+":"):]); len(f) >= 2 && f[1] == "send" {
				rids++
			}
		case strings.HasPrefix(line, "a="+attrSimulcast+":"):
			if send := simulcastSend(line[len("a="+attrSimulcast+":"):]); send != "" {
				listed += len(strings.FieldsFunc(send, func(r rune) bool { return r == ';' || r == ',' }))
			}
		}
	}
	return max(most, rids, listed)
}
