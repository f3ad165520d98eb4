package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIdentityIsMadeOnceAndKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sitrep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s.identity(ctx); err != nil || id != "" {
		t.Fatalf("a new store has identity %q, %v; want none until asked", id, err)
	}
	id, err := s.Identity(ctx)
	if err != nil || !validIdentity([]byte(id)) {
		t.Fatalf("Identity = %q, %v", id, err)
	}
	_ = s.Close()
	s, err = Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, err := s.Identity(ctx); again != id || err != nil {
		t.Fatalf("after reopening: %q, %v; want %q", again, err, id)
	}
	other := mustOpenStore(t)
	if o, _ := other.Identity(ctx); o == id {
		t.Fatal("two stores share an identity")
	}
}

// exported returns every update of s as EachUpdate gives them.
func exported(t *testing.T, s *Store) []Update {
	t.Helper()
	var out []Update
	if err := s.EachUpdate(context.Background(), time.Time{}, func(u Update) error {
		out = append(out, u)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportUpdatesIsIdempotentAndQuiet(t *testing.T) {
	ctx := context.Background()
	a := checkedStore(t)
	ups := exported(t, a)
	if len(ups) != 3 || !strings.HasPrefix(ups[0].ExternalID, "sitrep:") {
		t.Fatalf("exported %+v", ups)
	}
	// Back into the same store: all three are its own.
	if res, err := a.ImportUpdates(ctx, ups, false); err != nil || res.Added != 0 || res.Present != 3 {
		t.Fatalf("re-import into the origin: %+v, %v", res, err)
	}

	b := mustOpenStore(t)
	subscribe(t, b, "telegram", "-5", Filter{Kind: AllUpdates}, false)
	if _, _, err := b.Post(ctx, Draft{Text: "Local post in Lashio", Author: mod}); err != nil {
		t.Fatal(err)
	}
	res, err := b.ImportUpdates(ctx, ups, false)
	if err != nil || res.Added != 3 || res.Present != 0 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if res.IDs[0] != 2 {
		t.Fatalf("imported ids %v, want them after the local update 1", res.IDs)
	}
	for _, id := range res.IDs {
		if ds, err := b.Deliveries(ctx, id); err != nil || len(ds) != 0 {
			t.Fatalf("imported update %d queued %v, %v; want nothing pushed", id, ds, err)
		}
	}
	if res, err := b.ImportUpdates(ctx, ups, false); err != nil || res.Added != 0 || res.Present != 3 {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	got := exported(t, b)
	if len(got) != 4 || got[1].ExternalID != ups[0].ExternalID || got[1].Text != ups[0].Text {
		t.Fatalf("store b exports %+v", got)
	}
	if rep, err := b.Check(ctx); err != nil || !rep.OK() || rep.Imported != 3 {
		t.Fatalf("check after import: %+v, %v", rep, err)
	}
}

func TestImportUpdatesRefusesBadRecordsAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	good := Update{Text: "ok", Status: Unverified, Happened: time.Now(), Posted: time.Now(), Author: mod, ExternalID: "x:1"}
	for _, tc := range []struct {
		name string
		edit func(u *Update)
		want string
	}{
		{"no external id", func(u *Update) { u.ExternalID = "" }, "no external_id"},
		{"empty text", func(u *Update) { u.Text = "" }, "text is empty"},
		{"unknown status", func(u *Update) { u.Status = "rumour" }, "unknown status"},
		{"unknown town", func(u *Update) { u.Towns = []string{"atlantis"} }, `town "atlantis"`},
		{"unknown claimant", func(u *Update) { u.Claimant = "nobody" }, `group "nobody"`},
		{"no time", func(u *Update) { u.Happened = time.Time{} }, "no happened time"},
		{"repeated external id", func(u *Update) { u.ExternalID = "x:0" }, "repeats update 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustOpenStore(t)
			first := good
			first.ExternalID = "x:0"
			bad := good
			tc.edit(&bad)
			_, err := s.ImportUpdates(ctx, []Update{first, bad}, false)
			var ie *ImportError
			if !errors.As(err, &ie) || ie.Index != 1 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want an ImportError for update 2 saying %q", err, tc.want)
			}
			if n, _ := s.Count(ctx); n != 0 {
				t.Fatalf("%d updates written", n)
			}
		})
	}
}

func TestImportSetsControlUnlessLater(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	u := Update{Text: "MNDAA took Laukkai", Towns: []string{"laukkai"}, Groups: []string{"mndaa"}, Pinned: Tags{Towns: []string{"laukkai"}},
		Control: "mndaa", Status: Confirmed, Happened: day(5), Posted: day(5), Author: mod, ExternalID: "x:1"}
	older := u
	older.Text, older.Control, older.Happened, older.ExternalID = "Junta held Laukkai", "junta", day(1), "x:0"
	res, err := s.ImportUpdates(ctx, []Update{u, older}, false)
	if err != nil {
		t.Fatal(err)
	}
	town, err := s.Town(ctx, "laukkai")
	if err != nil || town.Control == nil || town.Control.Holder != "mndaa" || town.Control.UpdateID != res.IDs[0] {
		t.Fatalf("laukkai control %+v, %v; want mndaa from update %d (the later one)", town.Control, err, res.IDs[0])
	}
}
