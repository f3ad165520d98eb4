// Package storetest builds sitrep stores of synthetic updates for benchmarks and tests
// of the packages above the store.
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

// Fill creates a store at path holding n plausible updates spread over the bundled
// gazetteer: 1–3 towns and 1–2 groups each, a claimant for about 70%, about 200 bytes
// of text, an event day in 2023–2025 and a linked source. It writes without fsync, in
// large batches, and is deterministic for a given n.
func Fill(ctx context.Context, path string, n int) error {
	s, err := store.Open(ctx, path, store.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer s.Close()
	towns, err := s.Towns(ctx)
	if err != nil {
		return err
	}
	groups, err := s.Groups(ctx)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	first := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	author := store.Author{Platform: "telegram", UserID: "100200300", Name: "Moderator"}
	const batch = 20_000
	updates := make([]store.Update, 0, batch)
	for id := 1; id <= n; id++ {
		u := store.Update{ID: uint64(id), Status: store.Unverified, Precision: store.Day, Author: author}
		t := towns[rng.IntN(len(towns))]
		u.Towns = []string{t.ID}
		for range rng.IntN(3) {
			if o := towns[rng.IntN(len(towns))].ID; !slices.Contains(u.Towns, o) {
				u.Towns = append(u.Towns, o)
			}
		}
		u.Groups = []string{groups[rng.IntN(len(groups))].ID}
		if o := groups[rng.IntN(len(groups))].ID; rng.IntN(2) == 0 && o != u.Groups[0] {
			u.Groups = append(u.Groups, o)
		}
		if rng.IntN(10) < 7 {
			u.Claimant = u.Groups[0]
		}
		day := rng.IntN(3 * 365)
		u.Happened = first.AddDate(0, 0, day)
		u.Posted = u.Happened.Add(time.Duration(6+rng.IntN(48)) * time.Hour)
		u.Source = store.Source{Name: "Myanmar Now", URL: fmt.Sprintf("https://myanmar-now.org/en/news/%d-%d", day, id)}
		u.Text = fmt.Sprintf("%s forces attacked positions near %s on the %s road after %d days of fighting; "+
			"residents report %d families displaced and heavy shelling overnight. Local sources say %d soldiers "+
			"surrendered with their weapons.", groups[rng.IntN(len(groups))].Name, t.Name,
			towns[rng.IntN(len(towns))].Name, 1+rng.IntN(30), 10+rng.IntN(900), rng.IntN(200))
		updates = append(updates, u)
		if len(updates) == batch || id == n {
			if _, err := s.Import(ctx, updates); err != nil {
				return fmt.Errorf("fill %s: %w", path, err)
			}
			updates = updates[:0]
		}
	}
	return s.Close()
}
