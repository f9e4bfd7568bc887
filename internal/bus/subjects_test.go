package bus

import "testing"

func TestSubjectNames(t *testing.T) {
	tests := []struct {
		prefix string
		got    func(b *Bus) string
		want   string
	}{
		{"hub", func(b *Bus) string { return b.RoomMsg("r1") }, "hub.room.r1.msg"},
		{"hub", func(b *Bus) string { return b.RoomEph("r1") }, "hub.room.r1.eph"},
		{"hub", func(b *Bus) string { return b.RoomCtl("r1") }, "hub.room.r1.ctl"},
		{"hub", func(b *Bus) string { return b.User("u1") }, "hub.user.u1"},
		{"hub", func(b *Bus) string { return b.Node("n-1") }, "hub.node.n-1"},
		{"hub", func(b *Bus) string { return b.Nodes() }, "hub.nodes"},
		{"hub", func(b *Bus) string { return b.NodeBeats() }, "hub.nodes.beat"},
		{"hub", func(b *Bus) string { return b.UserEvents("u1") }, "hub.user.u1.ev"},
		{"hub", func(b *Bus) string { return b.ConnRTC("c1") }, "hub.conn.c1.rtc"},
		{"hub", func(b *Bus) string { return b.SFUBeats() }, "hub.sfu.beat"},
		{"hub", func(b *Bus) string { return b.SFUNode("s-1") }, "hub.sfu.node.s-1"},
		{"prod.eu", func(b *Bus) string { return b.RoomMsg("x") }, "prod.eu.room.x.msg"},
		{"t1", func(b *Bus) string { return b.Prefix() }, "t1"},
	}
	for _, tt := range tests {
		b := &Bus{prefix: tt.prefix}
		if got := tt.got(b); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"r01h2x3", true},
		{"node-1_a", true},
		{"ünïcode", true},
		{"", false},
		{"a.b", false},
		{"*", false},
		{"a*", false},
		{">", false},
		{"a>", false},
		{"a b", false},
		{"a\tb", false},
		{"a\nb", false},
		{"\u00a0", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"bad\xffutf8", false},
	}
	for _, tt := range tests {
		if got := ValidToken(tt.in); got != tt.want {
			t.Errorf("ValidToken(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://a:pw@h:1,nats://h2:2", "nats://a:xxxxx@h:1,nats://h2:2"},
		{"nats://tok@h:1", "nats://xxxxx@h:1"},
	}
	for _, tt := range tests {
		if got := redactURLs(tt.in); got != tt.want {
			t.Errorf("redactURLs(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
