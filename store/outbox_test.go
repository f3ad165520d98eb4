package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func subscribe(t *testing.T, s *Store, platform, chat string, f Filter, quiet bool) {
	t.Helper()
	if _, err := s.Subscribe(context.Background(), Subscription{Chat: Chat{Platform: platform, ID: chat}, ChatKind: "group", Filter: f, Quiet: quiet, CreatedBy: mod}); err != nil {
		t.Fatal(err)
	}
}

func TestPostFansOutOncePerChat(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	subscribe(t, s, "telegram", "all", Filter{Kind: AllUpdates}, false)
	subscribe(t, s, "telegram", "both", Filter{Kind: AllUpdates}, true)
	subscribe(t, s, "telegram", "both", Filter{Kind: TownFilter, ID: "laukkai"}, false)
	subscribe(t, s, "discord", "alliance", Filter{Kind: GroupFilter, ID: "brotherhoodalliance"}, true)
	subscribe(t, s, "discord", "named", Filter{Kind: GroupFilter, ID: "junta"}, false)
	subscribe(t, s, "discord", "other", Filter{Kind: TownFilter, ID: "paletwa"}, false)

	u, queued, err := s.Post(ctx, Draft{Text: "The junta's command in Laukkai surrendered", Claimant: "mndaa", Author: mod})
	if err != nil {
		t.Fatal(err)
	}
	if queued != 4 {
		t.Fatalf("queued for %d chats, want 4", queued)
	}
	ds, err := s.Deliveries(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Delivery{}
	for _, d := range ds {
		got[d.Chat.ID] = d
	}
	if len(got) != 4 || got["other"].ID != 0 {
		t.Fatalf("deliveries to %v, want all, both, alliance, named", got)
	}
	if b := got["both"]; !slices.Equal(b.Filters, []string{"all", "town:laukkai"}) || b.Silent {
		t.Fatalf("chat with two filters: %+v, want one loud delivery for both filters", b)
	}
	if !got["alliance"].Silent || got["named"].Silent {
		t.Fatalf("quiet flags: alliance %v named %v", got["alliance"].Silent, got["named"].Silent)
	}

	due, err := s.Due(ctx, "telegram", time.Now().Add(time.Second), 10, nil)
	if err != nil || len(due) != 2 || due[0].Chat.ID != "all" || due[1].Chat.ID != "both" {
		t.Fatalf("telegram due = %+v, %v", due, err)
	}
	due, _ = s.Due(ctx, "telegram", time.Now().Add(time.Second), 10, func(id uint64) bool { return id == got["all"].ID })
	if len(due) != 1 || due[0].Chat.ID != "both" {
		t.Fatalf("due with skip = %+v", due)
	}
	if due, _ := s.Due(ctx, "telegram", time.Now().Add(-time.Hour), 10, nil); len(due) != 0 {
		t.Fatalf("due before they were posted: %+v", due)
	}
}

func TestMarkingDeliveries(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	for _, chat := range []string{"a", "b", "c", "d"} {
		subscribe(t, s, "telegram", chat, Filter{Kind: AllUpdates}, false)
	}
	u, _, err := s.Post(ctx, Draft{Text: "Kutkai attacked", Author: mod})
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := s.Deliveries(ctx, u.ID)
	byChat := map[string]uint64{}
	for _, d := range ds {
		byChat[d.Chat.ID] = d.ID
	}
	if err := s.MarkSent(ctx, u.ID, byChat["a"], "m1", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, u.ID, byChat["a"], "m1-again", 0); err != nil {
		t.Fatal(err) // repeated marks change nothing
	}
	later := time.Now().Add(time.Hour)
	if err := s.MarkRetry(ctx, u.ID, byChat["b"], later, "429", false); err != nil {
		t.Fatal(err)
	}
	if err := s.ChatGone(ctx, u.ID, byChat["c"], "bot was kicked"); err != nil {
		t.Fatal(err)
	}
	if err := s.ChatMoved(ctx, u.ID, byChat["d"], "d2"); err != nil {
		t.Fatal(err)
	}
	ds, _ = s.Deliveries(ctx, u.ID)
	for _, d := range ds {
		switch d.ID {
		case byChat["a"]:
			if d.State != Sent || d.Ref != "m1" {
				t.Errorf("a: %+v", d)
			}
		case byChat["b"]:
			if d.State != Pending || !d.NextAttempt.Equal(later.UTC()) || d.Attempts != 0 {
				t.Errorf("b: %+v", d)
			}
		case byChat["c"]:
			if d.State != Failed {
				t.Errorf("c: %+v", d)
			}
		case byChat["d"]:
			if d.State != Pending || d.Chat.ID != "d2" {
				t.Errorf("d: %+v", d)
			}
		}
	}
	due, _ := s.Due(ctx, "telegram", time.Now().Add(time.Minute), 10, nil)
	if len(due) != 1 || due[0].Chat.ID != "d2" {
		t.Fatalf("due = %+v, want only the moved chat", due)
	}
	if subs, _ := s.Subscriptions(ctx, Chat{Platform: "telegram", ID: "c"}); len(subs) != 0 {
		t.Fatalf("gone chat still subscribed: %+v", subs)
	}
	if subs, _ := s.Subscriptions(ctx, Chat{Platform: "telegram", ID: "d2"}); len(subs) != 1 {
		t.Fatalf("moved chat's subscriptions: %+v", subs)
	}
	if subs, _ := s.Subscriptions(ctx, Chat{Platform: "telegram", ID: "a"}); len(subs) != 1 || subs[0].Delivered != 1 {
		t.Fatalf("a's subscription = %+v, want 1 delivered", subs)
	}
	// The next post reaches the moved chat under its new id, and not the gone one.
	u2, queued, _ := s.Post(ctx, Draft{Text: "Namtu attacked", Author: mod})
	ds, _ = s.Deliveries(ctx, u2.ID)
	var chats []string
	for _, d := range ds {
		chats = append(chats, d.Chat.ID)
	}
	slices.Sort(chats)
	if queued != 3 || !slices.Equal(chats, []string{"a", "b", "d2"}) {
		t.Fatalf("second post went to %v", chats)
	}
	c, _ := s.Counters(ctx)
	if c["sent:telegram"] != 1 || c["failed:telegram"] != 1 || c["retried:telegram"] != 1 {
		t.Fatalf("counters = %v", c)
	}
}

func TestCorrectionsFollowSentMessages(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	for _, chat := range []string{"a", "b", "c"} {
		subscribe(t, s, "discord", chat, Filter{Kind: AllUpdates}, false)
	}
	u, _, _ := s.Post(ctx, Draft{Text: "Hsipaw attacked", Author: mod})
	ds, _ := s.Deliveries(ctx, u.ID)
	if err := s.MarkSent(ctx, u.ID, ds[0].ID, "m-a", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSent(ctx, u.ID, ds[1].ID, "m-b", 0); err != nil {
		t.Fatal(err)
	}
	// c is still pending: it will render the new state when it is sent.
	if _, _, err := s.SetStatus(ctx, u.ID, Retracted, "wrong town", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Edit(ctx, u.ID, "Hsipaw and Kyaukme attacked", mod); err == nil {
		t.Fatal("edited a retracted update")
	}
	if _, _, err := s.SetStatus(ctx, u.ID, Disputed, "maybe not retracted", mod); err != nil {
		t.Fatal(err)
	}
	ds, _ = s.Deliveries(ctx, u.ID)
	var corrections []Delivery
	for _, d := range ds {
		if d.Kind == CorrectionDelivery {
			corrections = append(corrections, d)
		}
	}
	if len(corrections) != 2 || corrections[0].Ref != "m-a" || corrections[1].Ref != "m-b" {
		t.Fatalf("corrections = %+v, want one each for a and b, not repeated", corrections)
	}
	// c was rendered before the change: marking it sent with the old revision queues a
	// correction for it too.
	if err := s.MarkSent(ctx, u.ID, ds[2].ID, "m-c", 0); err != nil {
		t.Fatal(err)
	}
	ds, _ = s.Deliveries(ctx, u.ID)
	if last := ds[len(ds)-1]; last.Kind != CorrectionDelivery || last.Chat.ID != "c" || last.Ref != "m-c" {
		t.Fatalf("late send not corrected: %+v", last)
	}
}

func TestMigrationFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	subscribe(t, s, "telegram", "x", Filter{Kind: TownFilter, ID: "muse"}, false)
	// Turn the store back into schema 1: no outbox buckets.
	err = s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSubsByFilter, bucketOutbox, bucketDue, bucketCounters} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open schema 1: %v", err)
	}
	defer s.Close()
	_, queued, err := s.Post(ctx, Draft{Text: "Muse border gate closed", Author: mod})
	if err != nil || queued != 1 {
		t.Fatalf("post after migration: queued %d, %v", queued, err)
	}
}

func TestPostIsIdempotentOnItsOrigin(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	subscribe(t, s, "telegram", "a", Filter{Kind: AllUpdates}, false)
	d := Draft{Text: "Kunlong bridge destroyed", Author: mod, Origin: "telegram:-100:42"}
	u, queued, err := s.Post(ctx, d)
	if err != nil || queued != 1 {
		t.Fatal(queued, err)
	}
	again, queued, err := s.Post(ctx, d)
	if !errors.Is(err, ErrDuplicate) || again.ID != u.ID || queued != 0 {
		t.Fatalf("second post of the same origin: %+v, %d, %v", again, queued, err)
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Fatalf("%d updates, want 1", n)
	}
	if ds, _ := s.Deliveries(ctx, u.ID); len(ds) != 1 {
		t.Fatalf("%d deliveries, want 1", len(ds))
	}
	if c, _ := s.Cursor(ctx, "telegram"); c != 0 {
		t.Fatalf("cursor = %d", c)
	}
	if err := s.SetCursor(ctx, "telegram", 1234567); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cursor(ctx, "telegram"); c != 1234567 {
		t.Fatalf("cursor = %d", c)
	}
}
