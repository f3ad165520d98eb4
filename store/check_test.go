package store

import (
	"context"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkedStore is a store with posts, an edit, a retraction, a subscription and
// pending deliveries: every structure Check looks at has entries.
func checkedStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s := mustOpenStore(t)
	subscribe(t, s, "telegram", "-100", Filter{Kind: AllUpdates}, false)
	subscribe(t, s, "discord", "42", Filter{Kind: TownFilter, ID: "hsenwi"}, true)
	for _, text := range []string{"MNDAA says it took Hsenwi", "Fighting near Lashio and Kunlong", "Junta airstrike on Namhkam"} {
		if _, _, err := s.Post(ctx, Draft{Text: text, Claimant: "mndaa", Author: mod, Happened: time.Date(2023, 11, 2, 0, 0, 0, 0, time.UTC), Precision: Day}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Edit(ctx, 2, "Fighting near Lashio, Kunlong and Hsenwi", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetStatus(ctx, 3, Retracted, "wrong town", mod); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckPassesAGoodStore(t *testing.T) {
	s := checkedStore(t)
	rep, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("problems in a good store: %q", rep.Problems)
	}
	if rep.Updates != 3 || rep.Subscriptions != 2 || rep.Pending == 0 || rep.Schema != schemaVersion || rep.Towns < 28 {
		t.Fatalf("report %+v: want 3 updates, 2 subscriptions, pending deliveries, schema %d", rep, schemaVersion)
	}
}

func TestCheckFindsBrokenIndexes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(tx *bolt.Tx) error
		want   string
	}{
		{"dangling town entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketByTown).Put(indexKey("lashio", 99), nil)
		}, "idx_town: entry lashio/99 points at update 99, which does not exist"},
		{"stale group entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketByGroup).Put(indexKey("tnla", 1), nil)
		}, "idx_group: entry tnla/1 does not match update 1"},
		{"missing time entry", func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketByTime).Cursor()
			k, _ := c.First()
			return tx.Bucket(bucketByTime).Delete(k)
		}, "idx_time: update 1 has no entry time"},
		{"missing claimant entry", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketByClaim).Delete(indexKey("mndaa", 2))
		}, "idx_claim: update 2 has no entry mndaa/2"},
		{"due entry without delivery", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketDue).Put(dueKey("telegram", time.Unix(0, 0), 777), u64(1))
		}, "idx_due: entry telegram delivery 777 has no pending delivery"},
		{"pending delivery without due entry", func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketDue).Cursor()
			k, _ := c.First()
			return tx.Bucket(bucketDue).Delete(k)
		}, "idx_due: pending delivery has no entry"},
		{"origin of a missing update", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOrigins).Put([]byte("telegram:1:2"), u64(50))
		}, "idx_origin: entry \"telegram:1:2\" points at update 50"},
		{"subscription index entry without subscription", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSubsByFilter).Put(subFilterKey(Filter{Kind: AllUpdates}, Chat{Platform: "discord", ID: "9"}), []byte("group|"))
		}, "has no subscription"},
		{"status count off", func(tx *bolt.Tx) error {
			return addStatus(tx, Confirmed, 1)
		}, "counters: 1 updates counted confirmed, the store holds 0"},
		{"unknown schema", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion-1))
		}, "meta: schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := checkedStore(t)
			if err := s.db.Update(tc.damage); err != nil {
				t.Fatal(err)
			}
			rep, err := s.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.ProblemCount != len(rep.Problems) {
				t.Fatalf("report %+v: want problems listed", rep)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Fatalf("problems %q: none says %q", rep.Problems, tc.want)
			}
		})
	}
}

func TestCheckWritesNothing(t *testing.T) {
	s := checkedStore(t)
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(context.Background(), path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if rep, err := ro.Check(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("check of a read-only store: %+v, %v", rep, err)
	}
}
