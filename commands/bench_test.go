package commands_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
)

// The benchmark stores are built once per process and size, and removed by TestMain.
var (
	benchMu    sync.Mutex
	benchDir   string
	benchFiles = map[int]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchStore returns the path of a store holding n updates spread over the gazetteer,
// building it on first use with the store's exported API.
func benchStore(b *testing.B, n int) string {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if path, ok := benchFiles[n]; ok {
		return path
	}
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "sitrep-cmd-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
	}
	path := filepath.Join(benchDir, fmt.Sprintf("updates-%d.db", n))
	start := time.Now()
	ctx := context.Background()
	s, err := store.Open(ctx, path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	towns, err := s.Towns(ctx)
	if err != nil {
		b.Fatal(err)
	}
	groups, err := s.Groups(ctx)
	if err != nil {
		b.Fatal(err)
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
				b.Fatal(err)
			}
			updates = updates[:0]
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d-update store in %v", n, time.Since(start).Round(time.Millisecond))
	benchFiles[n] = path
	return path
}

// benchCommand serves one command through the whole path (parse, read, render) on
// stores of 10k and 1M updates, reporting the median besides ns/op.
func benchCommand(b *testing.B, command, text string) {
	for _, sz := range []struct {
		name string
		n    int
	}{{"10k", 10_000}, {"1M", 1_000_000}} {
		b.Run(sz.name, func(b *testing.B) {
			if testing.Short() && sz.n > 10_000 {
				b.Skip("1M store skipped in -short mode")
			}
			path := benchStore(b, sz.n)
			ctx := context.Background()
			st, err := store.Open(ctx, path, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			set := commands.New(st, commands.Options{NoCache: true})
			req := &bot.Request{
				Command: command, Text: text,
				User: bot.Identity{Platform: "console", UserID: "bench"},
				Chat: bot.Chat{Platform: "console", ID: "bench", Kind: bot.Private},
			}
			serve := func() {
				r := set.Serve(ctx, req)
				out := bot.PlainText(r)
				if r.Tone == bot.Error {
					b.Fatalf("/%s %s: %s", command, text, out)
				}
			}
			serve() // warm up: the name catalog, the page cache
			ds := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				serve()
				ds = append(ds, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2])/float64(time.Microsecond), "p50-µs")
		})
	}
}

func BenchmarkLatest(b *testing.B)      { benchCommand(b, "latest", "") }
func BenchmarkTown(b *testing.B)        { benchCommand(b, "town", "Theinni") }
func BenchmarkClaims(b *testing.B)      { benchCommand(b, "claims", "Kokang") }
func BenchmarkClaimsMNDAA(b *testing.B) { benchCommand(b, "claims", "MNDAA") }
