package bus

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestGather(t *testing.T) {
	// Three clients of one real server, as three hubs would be.
	be := backend{name: "nats", url: os.Getenv("HUB_TEST_NATS_URL")}
	prefix := uniquePrefix(t)
	asker := openBus(t, be, Options{Prefix: prefix})
	names := []string{"n1", "n2", "silent"}
	for _, name := range names {
		b := openBus(t, be, Options{Prefix: prefix})
		sub, err := b.Respond(b.Nodes(), func(data []byte) []byte {
			if name == "silent" {
				return nil // a node with nothing to say sends nothing
			}
			return append([]byte(name+":"), data...)
		})
		if err != nil {
			t.Fatalf("Respond: %v", err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		ping(t, b)
	}

	t.Run("stops when each says so", func(t *testing.T) {
		var got []string
		err := asker.Gather(context.Background(), asker.Nodes(), []byte("q"), func(r []byte) bool {
			got = append(got, string(r))
			return len(got) < 2
		})
		if err != nil {
			t.Fatalf("Gather: %v", err)
		}
		slices.Sort(got)
		if want := []string{"n1:q", "n2:q"}; !slices.Equal(got, want) {
			t.Fatalf("got replies %q, want %q", got, want)
		}
	})

	t.Run("deadline ends it without error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		n := 0
		err := asker.Gather(ctx, asker.Nodes(), []byte("q"), func([]byte) bool { n++; return true })
		if err != nil {
			t.Fatalf("Gather: got %v, want nil at the deadline", err)
		}
		if n != 2 {
			t.Fatalf("got %d replies, want 2 (the silent node sends none)", n)
		}
	})

	t.Run("concurrent gathers get their own replies", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := fmt.Sprintf("q%d", i)
				var got []string
				err := asker.Gather(context.Background(), asker.Nodes(), []byte(q), func(r []byte) bool {
					got = append(got, string(r))
					return len(got) < 2
				})
				slices.Sort(got)
				if want := []string{"n1:" + q, "n2:" + q}; err != nil || !slices.Equal(got, want) {
					t.Errorf("gather %s: got %q, %v; want %q", q, got, err, want)
				}
			}()
		}
		wg.Wait()
	})

	t.Run("bad subject", func(t *testing.T) {
		err := asker.Gather(context.Background(), "bad subject", nil, func([]byte) bool { return false })
		if err == nil {
			t.Fatal("Gather on a bad subject: got nil error")
		}
	})
}
