package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// mustOpenStore opens a store in a temporary directory, closed when the test ends.
func mustOpenStore(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "sitrep.db"), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

var mod = Author{Platform: "console", UserID: "mod", Name: "Mod"}

func TestOpenNewStoreHasGazetteer(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	towns, err := s.Towns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(towns) < 28 {
		t.Fatalf("%d towns, want at least 28", len(towns))
	}
	groups, err := s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) < 11 {
		t.Fatalf("%d groups, want at least 11", len(groups))
	}
	for _, tc := range []struct {
		kind        Kind
		query, want string
	}{
		{KindTown, "Theinni", "hsenwi"},
		{KindTown, "Hseni", "hsenwi"},
		{KindTown, "hsenwi", "hsenwi"},
		{KindTown, "Thienni", "hsenwi"},
		{KindTown, "Chin Shwe Haw", "chinshwehaw"},
		{KindTown, "Qingshuihe", "chinshwehaw"},
		{KindTown, "လားရှိုး", "lashio"},
		{KindTown, "mrauk u", "mrauku"},
		{KindGroup, "Kokang army", "mndaa"},
		{KindGroup, "3BHA", "brotherhoodalliance"},
		{KindGroup, "Tatmadaw", "junta"},
		{KindGroup, "Ta'ang", "tnla"},
	} {
		got, err := s.Resolve(ctx, tc.kind, tc.query)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%s, %q) = %q, %v; want %q", tc.kind, tc.query, got, err, tc.want)
		}
	}
	alliances, err := s.AlliancesOf(ctx, "mndaa")
	if err != nil || !slices.Equal(alliances, []string{"brotherhoodalliance"}) {
		t.Errorf("AlliancesOf(mndaa) = %v, %v", alliances, err)
	}
}

func TestResolveSuggests(t *testing.T) {
	s := mustOpenStore(t)
	_, err := s.Resolve(context.Background(), KindTown, "Nowhere")
	var ne *NameError
	if !errors.As(err, &ne) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve(Nowhere) error = %v, want a NameError", err)
	}
	if len(ne.Suggestions) == 0 || len(ne.Suggestions) > 3 {
		t.Fatalf("suggestions = %v, want 1 to 3", ne.Suggestions)
	}
	_, err = s.Resolve(context.Background(), KindTown, "MNDAA")
	if !errors.As(err, &ne) || ne.OtherKind != KindGroup {
		t.Fatalf("Resolve(town MNDAA) = %v, want a NameError naming the group", err)
	}
}

func TestPostTagsAndIndexes(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	u, _, err := s.Post(ctx, Draft{
		Text:      "41 soldiers of LIB 143 left their base at Kan Mong after talks with the alliance; Chin Shwe Haw also fell",
		Claimant:  "mndaa",
		Source:    Source{URL: "https://www.irrawaddy.com"},
		Happened:  time.Date(2023, 10, 30, 0, 0, 0, 0, time.UTC),
		Precision: Day,
		Author:    mod,
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != 1 || u.Status != Unverified {
		t.Fatalf("posted %+v, want id 1, unverified", u)
	}
	if !slices.Contains(u.Towns, "kanmong") || !slices.Contains(u.Towns, "chinshwehaw") {
		t.Fatalf("towns = %v, want kanmong and chinshwehaw", u.Towns)
	}
	if !slices.Contains(u.Groups, "mndaa") {
		t.Fatalf("groups = %v, want the claimant mndaa", u.Groups)
	}
	for _, tc := range []struct {
		name string
		get  func() ([]Update, error)
	}{
		{"town", func() ([]Update, error) { return s.AboutTown(ctx, "chinshwehaw", 5) }},
		{"group", func() ([]Update, error) { return s.AboutGroup(ctx, "mndaa", 5) }},
		{"claims via alliance", func() ([]Update, error) { return s.ClaimsBy(ctx, []string{"tnla", "mndaa"}, 5) }},
		{"latest", func() ([]Update, error) { return s.Latest(ctx, 5) }},
	} {
		got, err := tc.get()
		if err != nil || len(got) != 1 || got[0].ID != 1 {
			t.Errorf("%s: %v, %v; want update 1", tc.name, got, err)
		}
	}
	if got, _ := s.AboutTown(ctx, "lashio", 5); len(got) != 0 {
		t.Errorf("lashio has %v, want none", got)
	}
}

func TestNewestMergesAndBounds(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	for i := range 10 {
		claimant := "mndaa"
		if i%3 == 0 {
			claimant = "brotherhoodalliance"
		}
		if _, _, err := s.Post(ctx, Draft{Text: "fighting near Lashio", Claimant: claimant, Author: mod}); err != nil {
			t.Fatal(err)
		}
	}
	// A neighbouring key range must not leak in: "mndaa" vs a group sorting after it.
	if _, _, err := s.Post(ctx, Draft{Text: "statement", Claimant: "pdf", Author: mod}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimsBy(ctx, []string{"mndaa", "brotherhoodalliance"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, u := range got {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, []uint64{10, 9, 8, 7}) {
		t.Fatalf("ids = %v, want 10 9 8 7", ids)
	}
	mn, _ := s.ClaimsBy(ctx, []string{"mndaa"}, 100)
	if len(mn) != 6 {
		t.Fatalf("mndaa claims = %d, want 6", len(mn))
	}
}

func TestEditVerifyRetract(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	u, _, err := s.Post(ctx, Draft{Text: "Fighting in Kutkai", Claimant: "tnla", Author: mod})
	if err != nil {
		t.Fatal(err)
	}
	_, after, err := s.Edit(ctx, u.ID, "Fighting in Namhkam, not Kutkai", mod)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.History) != 1 || after.History[0].Text != "Fighting in Kutkai" {
		t.Fatalf("history = %+v", after.History)
	}
	if got, _ := s.AboutTown(ctx, "namhkam", 5); len(got) != 1 {
		t.Fatalf("namhkam not indexed after edit")
	}
	if _, _, err := s.SetStatus(ctx, u.ID, Confirmed, "two outlets", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetStatus(ctx, u.ID, Retracted, "", mod); !errors.Is(err, ErrInvalid) {
		t.Fatalf("retract without reason: %v, want ErrInvalid", err)
	}
	if _, _, err := s.SetStatus(ctx, u.ID, Retracted, "wrong town", mod); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, u.ID)
	if err != nil || got.Status != Retracted || got.Note != "wrong town" || len(got.History) != 3 {
		t.Fatalf("after retract: %+v, %v", got, err)
	}
	if _, _, err := s.Edit(ctx, u.ID, "something else", mod); !errors.Is(err, ErrInvalid) {
		t.Fatalf("edit of retracted: %v, want ErrInvalid", err)
	}
	if _, _, err := s.Edit(ctx, 99, "x", mod); !errors.Is(err, ErrNotFound) {
		t.Fatalf("edit of unknown: %v, want ErrNotFound", err)
	}
	log, err := s.AuditLog(ctx, 10)
	if err != nil || len(log) != 4 || log[0].Action != "retract" || log[3].Action != "post" {
		t.Fatalf("audit = %+v, %v", log, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "sitrep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte("this is not a database, just some text that is long enough to be read as a page header maybe"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, junk, Options{}); !errors.Is(err, ErrNotStore) {
		t.Fatalf("open junk: %v, want ErrNotStore", err)
	}
}

func TestReopenKeepsPosts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sitrep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Post(ctx, Draft{Text: "Muse border gate closed", Author: mod}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.AboutTown(ctx, "muse", 5)
	if err != nil || len(got) != 1 {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
}

func TestSubscriptionsAndModerators(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	chat := Chat{Platform: "telegram", ID: "-100"}
	for _, f := range []Filter{{Kind: AllUpdates}, {Kind: TownFilter, ID: "lashio"}, {Kind: AllUpdates}} {
		if _, err := s.Subscribe(ctx, Subscription{Chat: chat, Filter: f, CreatedBy: mod}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Subscribe(ctx, Subscription{Chat: chat, Filter: Filter{Kind: TownFilter, ID: "atlantis"}, CreatedBy: mod}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("subscribe to unknown town: %v", err)
	}
	subs, _ := s.Subscriptions(ctx, chat)
	if len(subs) != 2 {
		t.Fatalf("subscriptions = %v, want 2", subs)
	}
	other := Chat{Platform: "telegram", ID: "-1000"}
	if _, err := s.Subscribe(ctx, Subscription{Chat: other, Filter: Filter{Kind: AllUpdates}, CreatedBy: mod}); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Unsubscribe(ctx, chat, nil, mod)
	if err != nil || len(removed) != 2 {
		t.Fatalf("unsubscribe all: %v, %v", removed, err)
	}
	if subs, _ := s.Subscriptions(ctx, other); len(subs) != 1 {
		t.Fatalf("other chat lost its subscription: %v", subs)
	}

	if err := s.AddModerator(ctx, Moderator{ID: "telegram:1", Role: AdminRole}, mod); err != nil {
		t.Fatal(err)
	}
	if err := s.AddModerator(ctx, Moderator{ID: "telegram:2", Role: ModeratorRole}, mod); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveModerator(ctx, "telegram:1", true, mod); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("remove last admin: %v, want ErrLastAdmin", err)
	}
	if _, err := s.RemoveModerator(ctx, "telegram:2", true, mod); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Moderator(ctx, "telegram:2"); ok {
		t.Fatal("telegram:2 still a moderator")
	}
}

func TestAddTownAndAlias(t *testing.T) {
	ctx := context.Background()
	s := mustOpenStore(t)
	if _, err := s.AddTown(ctx, Town{Name: "Hopang", Region: "Shan State"}, mod); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddTown(ctx, Town{Name: "Theinni"}, mod); !errors.Is(err, ErrExists) {
		t.Fatalf("adding a known alias as a town: %v, want ErrExists", err)
	}
	if err := s.AddAlias(ctx, KindTown, "hopang", "Hopan", mod); err != nil {
		t.Fatal(err)
	}
	if id, err := s.Resolve(ctx, KindTown, "hopan"); err != nil || id != "hopang" {
		t.Fatalf("Resolve(hopan) = %q, %v", id, err)
	}
	u, _, err := s.Post(ctx, Draft{Text: "Clashes reported in Hopan", Author: mod})
	if err != nil || !slices.Equal(u.Towns, []string{"hopang"}) {
		t.Fatalf("post tagged %v, %v", u.Towns, err)
	}
	twn, _ := s.Town(ctx, "hopang")
	if !slices.Equal(twn.Aliases, []string{"Hopan"}) || twn.Region != "Shan State" {
		t.Fatalf("town after alias = %+v", twn)
	}
}

func TestWriteToReadOnlyStoreSaysSo(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sitrep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, err = s.Post(ctx, Draft{Text: "Lashio", Author: mod})
	if !errors.Is(err, ErrDisk) {
		t.Fatalf("post to read-only store: %v, want ErrDisk", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("count = %d after a refused write", n)
	}
}

func TestNamesCompletePrefixes(t *testing.T) {
	s := mustOpenStore(t)
	got, err := s.Names(context.Background(), KindTown, "lau", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"Laukkai", "Laukkaing"}) {
		t.Fatalf("Names(town, lau) = %v, want Laukkai and Laukkaing", got)
	}
	if got, _ := s.Names(context.Background(), KindGroup, "", 3); len(got) != 3 {
		t.Fatalf("Names(group, \"\", 3) = %v, want 3 names", got)
	}
}
