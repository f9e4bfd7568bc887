package sfu

import (
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestLossEstimator(t *testing.T) {
	rr := func(fraction uint8) []byte {
		b, _ := (&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2, FractionLost: fraction}}}).Marshal()
		return b
	}
	remb := func(bps float32) []byte {
		b, _ := (&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: bps, SSRCs: []uint32{2}}).Marshal()
		return b
	}
	now := time.Unix(1000, 0)
	tests := []struct {
		name string
		pkts [][]byte
		want int64
	}{
		{"no loss raises 8%", [][]byte{rr(0)}, 1_080_000},
		{"moderate loss holds", [][]byte{rr(13)}, 1_000_000},
		{"heavy loss lowers by half the loss", [][]byte{rr(128)}, 750_000},
		{"REMB sets the estimate", [][]byte{remb(2_500_000)}, 2_500_000},
		{"REMB is trusted over loss", [][]byte{remb(2_500_000), rr(0)}, 2_500_000},
		{"bounded below", [][]byte{rr(255), rr(255), rr(255), rr(255), rr(255), rr(255), rr(255), rr(255)}, minEstimate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e lossEstimator
			var got int64
			for _, p := range tt.pkts {
				got, _ = e.update(p, now)
			}
			// REMB's mantissa/exponent encoding rounds.
			if d := got - tt.want; d < -tt.want/100 || d > tt.want/100 {
				t.Fatalf("got %d bits/s, want %d", got, tt.want)
			}
		})
	}
}

func TestNetworkModes(t *testing.T) {
	// Free ports, from the OS (the tests of the other packages run at
	// the same time).
	free := func(network string) int {
		t.Helper()
		if network == "udp" {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return c.LocalAddr().(*net.UDPAddr).Port
		}
		l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"one UDP port", Config{UDPPort: free("udp")}},
		{"UDP port range and ICE-TCP", Config{UDPPortMin: 47320, UDPPortMax: 47399, TCPPort: free("tcp")}},
		{"public address", Config{PublicIPs: []string{"127.0.0.1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSFU(t, tt.cfg)
			a := join(t, s, "c", "pa", "a", joinOpts{video: true})
			b := join(t, s, "c", "pb", "b", joinOpts{})
			eventually(t, "b receiving a:camera", func() bool { return b.received("a:camera", 20) })
			checkStream(t, b, "a:camera")
			_ = a
		})
	}
}
