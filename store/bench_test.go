package store

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The benchmark stores are built once per process and size, and removed by TestMain.
var (
	benchMu          sync.Mutex
	benchDir         string
	benchFiles       = map[int]string{}
	benchSizesLogged = map[int]bool{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchSizes are the store sizes every read benchmark runs at.
var benchSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"1M", 1_000_000}}

// eachSize runs fn as a sub-benchmark for every store size, skipping 1M in -short mode.
func eachSize(b *testing.B, fn func(b *testing.B, path string, n int)) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			if testing.Short() && sz.n > 10_000 {
				b.Skip("1M store skipped in -short mode")
			}
			fn(b, benchStore(b, sz.n), sz.n)
		})
	}
}

// benchStore returns the path of a store holding n updates spread over the gazetteer,
// building it on first use.
func benchStore(b *testing.B, n int) string {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if path, ok := benchFiles[n]; ok {
		return path
	}
	b.StopTimer()
	defer b.StartTimer()
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "sitrep-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
	}
	path := filepath.Join(benchDir, fmt.Sprintf("updates-%d.db", n))
	start := time.Now()
	ctx := context.Background()
	s, err := Open(ctx, path, Options{NoSync: true})
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
	const batch = 20_000
	updates := make([]Update, 0, batch)
	for id := 1; id <= n; id++ {
		updates = append(updates, benchUpdate(rng, uint64(id), towns, groups))
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

var (
	benchVerbs   = []string{"captured", "attacked", "shelled", "surrounded", "withdrew from", "launched drone strikes on", "reinforced"}
	benchOutlets = []struct{ name, host string }{
		{"The Irrawaddy", "www.irrawaddy.com"}, {"Myanmar Now", "myanmar-now.org"},
		{"Shan Herald", "english.shannews.org"}, {"", "www.rfa.org"}, {"Mizzima", "eng.mizzima.com"},
	}
	benchStart = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	benchDays  = int(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Sub(benchStart) / (24 * time.Hour))
	benchMod   = Author{Platform: "telegram", UserID: "100200300", Name: "Moderator"}
)

// benchUpdate is a plausible update: 1–3 towns, 1–2 groups, a claimant for about 70%,
// about 200 bytes of text, an event day in 2023–2025 and a linked source.
func benchUpdate(rng *rand.Rand, id uint64, towns []Town, groups []Group) Update {
	u := Update{ID: id, Status: Unverified, Precision: Day, Author: benchMod}
	first := towns[rng.IntN(len(towns))]
	u.Towns = []string{first.ID}
	for range rng.IntN(3) {
		u.Towns = appendUnique(u.Towns, towns[rng.IntN(len(towns))].ID)
	}
	for range 1 + rng.IntN(2) {
		u.Groups = appendUnique(u.Groups, groups[rng.IntN(len(groups))].ID)
	}
	if rng.IntN(10) < 7 {
		u.Claimant = u.Groups[0]
	}
	if rng.IntN(5) == 0 {
		u.Status = Confirmed
	}
	day := rng.IntN(benchDays)
	u.Happened = benchStart.AddDate(0, 0, day)
	u.Posted = u.Happened.Add(time.Duration(6+rng.IntN(48)) * time.Hour)
	o := benchOutlets[rng.IntN(len(benchOutlets))]
	u.Source = Source{Name: o.name, URL: fmt.Sprintf("https://%s/news/%d-%d.html", o.host, day, id)}
	u.Text = fmt.Sprintf("%s forces %s positions near %s on the %s road after %d days of fighting; "+
		"residents report %d families displaced and heavy shelling overnight. Local sources say %d soldiers "+
		"surrendered with their weapons.",
		groups[rng.IntN(len(groups))].Name, benchVerbs[rng.IntN(len(benchVerbs))], first.Name,
		towns[rng.IntN(len(towns))].Name, 1+rng.IntN(30), 10+rng.IntN(900), rng.IntN(200))
	return u
}

// benchOpen opens a built store with the default, durable options.
func benchOpen(b *testing.B, path string) *Store {
	b.Helper()
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// timed runs op b.N times, timing each call, and reports the median besides ns/op.
func timed(b *testing.B, unit string, op func() error) {
	b.Helper()
	if err := op(); err != nil { // warm up: the catalog, the page cache
		b.Fatal(err)
	}
	ds := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(ds)
	p50 := ds[len(ds)/2]
	switch unit {
	case "ms":
		b.ReportMetric(float64(p50)/float64(time.Millisecond), "p50-ms")
	default:
		b.ReportMetric(float64(p50)/float64(time.Microsecond), "p50-µs")
	}
}

// reportBytesPerUpdate reports the file size divided by the number of updates.
func reportBytesPerUpdate(b *testing.B, path string, n int) {
	b.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/float64(n), "B/update")
}

func BenchmarkLatest(b *testing.B) {
	eachSize(b, func(b *testing.B, path string, n int) {
		s := benchOpen(b, path)
		ctx := context.Background()
		timed(b, "µs", func() error {
			us, err := s.Latest(ctx, 5)
			if err == nil && len(us) != 5 {
				err = fmt.Errorf("latest: %d updates, want 5", len(us))
			}
			return err
		})
		reportBytesPerUpdate(b, path, n)
	})
}

func BenchmarkAboutTown(b *testing.B) {
	eachSize(b, func(b *testing.B, path string, _ int) {
		s := benchOpen(b, path)
		ctx := context.Background()
		timed(b, "µs", func() error {
			us, err := s.AboutTown(ctx, "hsenwi", 5)
			if err == nil && len(us) != 5 {
				err = fmt.Errorf("about hsenwi: %d updates, want 5", len(us))
			}
			return err
		})
	})
}

func BenchmarkClaimsBy(b *testing.B) {
	eachSize(b, func(b *testing.B, path string, _ int) {
		s := benchOpen(b, path)
		ctx := context.Background()
		timed(b, "µs", func() error {
			us, err := s.ClaimsBy(ctx, []string{"mndaa", "brotherhoodalliance"}, 5)
			if err == nil && len(us) != 5 {
				err = fmt.Errorf("claims: %d updates, want 5", len(us))
			}
			return err
		})
	})
}

// BenchmarkPost posts with fsync on into a copy of the built store, so that the other
// benchmarks keep reading the store as built.
func BenchmarkPost(b *testing.B) {
	eachSize(b, func(b *testing.B, path string, _ int) {
		cp := filepath.Join(b.TempDir(), "post.db")
		if err := copyFile(cp, path); err != nil {
			b.Fatal(err)
		}
		s := benchOpen(b, cp)
		ctx := context.Background()
		d := Draft{
			Text:     "MNDAA says it captured the police station in Theinni after two days of fighting; residents report shelling near Kunlong.",
			Claimant: "mndaa",
			Source:   Source{Name: "Myanmar Now", URL: "https://myanmar-now.org/en/news/1"},
			Author:   benchMod,
		}
		before := s.allocated(b)
		timed(b, "ms", func() error {
			_, _, err := s.Post(ctx, d)
			return err
		})
		// Pages the buckets gained per post (the warm-up post included); each post
		// also writes an audit entry holding the update's JSON.
		b.ReportMetric(float64(s.allocated(b)-before)/float64(b.N+1), "B/post")
	})
}

// BenchmarkOpen opens and closes the built store.
func BenchmarkOpen(b *testing.B) {
	eachSize(b, func(b *testing.B, path string, n int) {
		ctx := context.Background()
		timed(b, "ms", func() error {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				return err
			}
			return s.Close()
		})
		reportBytesPerUpdate(b, path, n)
		logBucketSizes(b, path, n)
	})
}

// BenchmarkOpenFirstAnswer opens the built store and answers one /latest and one name
// lookup, which builds the name catalog: the time to a first answer after a restart.
func BenchmarkOpenFirstAnswer(b *testing.B) {
	eachSize(b, func(b *testing.B, path string, _ int) {
		ctx := context.Background()
		timed(b, "ms", func() error {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				return err
			}
			if _, err := s.Latest(ctx, 5); err != nil {
				return err
			}
			if _, err := s.Resolve(ctx, KindTown, "Theinni"); err != nil {
				return err
			}
			return s.Close()
		})
	})
}

// logBucketSizes logs where a store's bytes go, bucket by bucket.
func logBucketSizes(b *testing.B, path string, n int) {
	b.Helper()
	if benchSizesLogged[n] {
		return
	}
	benchSizesLogged[n] = true
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	err = s.db.View(func(tx *bolt.Tx) error {
		st := s.db.Stats()
		b.Logf("%d updates: file high-water mark %d bytes (%.0f B/update); %d free pages, freelist %d bytes",
			n, tx.Size(), float64(tx.Size())/float64(n), st.FreePageN+st.PendingPageN, st.FreelistInuse)
		for _, name := range allBuckets {
			st := tx.Bucket(name).Stats()
			alloc := st.BranchAlloc + st.LeafAlloc
			if alloc == 0 {
				continue
			}
			b.Logf("  %-11s keys %8d  allocated %11d  in use %11d (%4.1f%%)  %6.1f B/update",
				name, st.KeyN, alloc, st.BranchInuse+st.LeafInuse,
				100*float64(st.BranchInuse+st.LeafInuse)/float64(alloc), float64(alloc)/float64(n))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// allocated is the size of the pages every bucket of the store occupies.
func (s *Store) allocated(b *testing.B) int {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			st := tx.Bucket(name).Stats()
			n += st.BranchAlloc + st.LeafAlloc
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// copyFile copies the file at src to dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
