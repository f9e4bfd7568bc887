package presence_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/presence/presencetest"
)

func TestMemory(t *testing.T) {
	presencetest.Run(t, func(t *testing.T) presencetest.P { return presence.NewMemory("node-a") })
}

func TestMemoryNode(t *testing.T) {
	m := presence.NewMemory("node-x")
	if _, err := m.Join(context.Background(), "r", chat.User{ID: "u"}, "c"); err != nil {
		t.Fatal(err)
	}
	conns, err := m.Connections(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 || conns[0].Node != "node-x" {
		t.Fatalf("got %+v, want one conn on node-x", conns)
	}
}

func TestMemoryErrors(t *testing.T) {
	m := presence.NewMemory("n")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"join empty room", func() error { _, err := m.Join(context.Background(), "", chat.User{ID: "u"}, "c"); return err }, presence.ErrBadArgument},
		{"leave empty conn", func() error { _, err := m.Leave(context.Background(), "r", "u", ""); return err }, presence.ErrBadArgument},
		{"online empty room", func() error { _, err := m.Online(context.Background(), ""); return err }, presence.ErrBadArgument},
		{"join cancelled", func() error { _, err := m.Join(cancelled, "r", chat.User{ID: "u"}, "c"); return err }, context.Canceled},
		{"connections cancelled", func() error { _, err := m.Connections(cancelled, "r"); return err }, context.Canceled},
		{"conn of another user", func() error {
			if _, err := m.Join(context.Background(), "r", chat.User{ID: "u1"}, "shared"); err != nil {
				return err
			}
			_, err := m.Join(context.Background(), "r", chat.User{ID: "u2"}, "shared")
			return err
		}, chat.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if got := err.Error(); len(got) < 10 || got[:10] != "presence: " {
				t.Errorf("error %q lacks the op prefix", got)
			}
		})
	}
}
