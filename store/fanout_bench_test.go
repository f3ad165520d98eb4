package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPostFanOut10k commits posts that each queue a delivery for 10,000
// subscribed chats, with fsync on.
func BenchmarkPostFanOut10k(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "fanout.db")
	s, err := Open(ctx, path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		sub := Subscription{Chat: Chat{Platform: "telegram", ID: fmt.Sprintf("-100%06d", i)}, ChatKind: "group", Filter: Filter{Kind: AllUpdates}}
		if _, err := s.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}
	_ = s.Close()
	s = benchOpen(b, path)
	timed(b, "ms", func() error {
		_, n, err := s.Post(ctx, Draft{Text: "The MNDAA says it holds Laukkai", Claimant: "mndaa", Author: benchMod})
		if err == nil && n != 10_000 {
			err = fmt.Errorf("queued %d", n)
		}
		return err
	})
}
