package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sitrep-bot/sitrep/store"
)

func TestFill(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fill.db")
	if err := Fill(ctx, path, 500); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.Count(ctx); n != 500 {
		t.Fatalf("count = %d, want 500", n)
	}
	if got, _ := s.Latest(ctx, 5); len(got) != 5 || got[0].Text == "" {
		t.Fatalf("latest = %+v", got)
	}
}
