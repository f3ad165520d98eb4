package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestStatsCountUpdatesByStatusAndPendingDeliveries(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	subscribe(t, s, "telegram", "a", Filter{Kind: AllUpdates}, false)
	subscribe(t, s, "discord", "b", Filter{Kind: AllUpdates}, false)
	var ids []uint64
	for _, text := range []string{"Lashio airport shelled", "Hsenwi market closed", "Muse gate reopened"} {
		u, _, err := s.Post(ctx, Draft{Text: text, Author: mod})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if _, _, err := s.SetStatus(ctx, ids[0], Confirmed, "", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetStatus(ctx, ids[1], Retracted, "wrong town", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Edit(ctx, ids[2], "Muse gate reopened to trucks", mod); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Status]uint64{Unverified: 1, Confirmed: 1, Retracted: 1}
	for status, n := range want {
		if st.Updates[status] != n {
			t.Errorf("updates %s = %d, want %d (all: %v)", status, st.Updates[status], n, st.Updates)
		}
	}
	if st.Pending["telegram"] != 3 || st.Pending["discord"] != 3 {
		t.Errorf("pending = %v, want 3 a platform", st.Pending)
	}
	for k := range st.Counters {
		if len(k) > 7 && k[:7] == "status:" {
			t.Errorf("status count %q among the delivery counters", k)
		}
	}
}

func TestMigrationCountsStatusesOfAnExistingStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"Kunlong bridge destroyed", "Chinshwehaw taken"} {
		u, _, err := s.Post(ctx, Draft{Text: text, Author: mod})
		if err != nil {
			t.Fatal(err)
		}
		if text[0] == 'C' {
			if _, _, err := s.SetStatus(ctx, u.ID, Disputed, "", mod); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Back to schema 3, which had no status counts.
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		for _, st := range Statuses() {
			if err := b.Delete(statusCounter(st)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(3))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open schema 3: %v", err)
	}
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Updates[Unverified] != 1 || st.Updates[Disputed] != 1 {
		t.Fatalf("after migration: %v, want 1 unverified and 1 disputed", st.Updates)
	}
}

func TestWritableFailsOnAReadOnlyOrClosedStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sitrep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Writable(ctx); err != nil {
		t.Fatalf("writable store: %v", err)
	}
	v := s.Version()
	if err := s.Writable(ctx); err != nil || s.Version() != v {
		t.Fatalf("second check: %v; version %d → %d (a health check must not invalidate caches)", err, v, s.Version())
	}
	_ = s.Close()
	if err := s.Writable(ctx); err == nil {
		t.Fatal("a closed store reported writable")
	}
	s, err = Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Writable(ctx); !errors.Is(err, ErrDisk) {
		t.Fatalf("read-only store: %v, want ErrDisk", err)
	}
}

func TestOpenReportsADamagedFileInsteadOfPanicking(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sitrep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, _, err := s.Post(ctx, Draft{Text: fmt.Sprintf("Report %d from Lashio", i), Author: mod}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep both meta pages (0 and 1); overwrite every other page with garbage.
	for i := 2 * 4096; i < len(data); i++ {
		data[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, Options{})
	if err == nil {
		_ = s.Close()
		t.Fatal("a damaged store opened")
	}
	if !errors.Is(err, ErrNotStore) {
		t.Fatalf("damaged store: %v, want ErrNotStore", err)
	}
}
