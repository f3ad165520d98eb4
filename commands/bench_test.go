package commands_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
	"github.com/sitrep-bot/sitrep/store/storetest"
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
	if err := storetest.Fill(context.Background(), path, n); err != nil {
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
