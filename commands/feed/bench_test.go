package feed_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sitrep-bot/sitrep/commands/feed"
	"github.com/sitrep-bot/sitrep/store"
	"github.com/sitrep-bot/sitrep/store/storetest"
)

// BenchmarkFeed serves each feed from a store of 10,000 updates through the mux, with
// and without the reuse of rendered feeds, reporting feeds a second.
func BenchmarkFeed(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	if err := storetest.Fill(ctx, path, 10_000); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, cache := range []struct {
		name    string
		noCache bool
	}{{"uncached", true}, {"cached", false}} {
		mux := http.NewServeMux()
		feed.New(st, feed.Options{BaseURL: "https://sitrep.example.org", NoCache: cache.noCache}).Register(mux)
		for _, p := range []struct{ name, path string }{
			{"latest", "/feed.atom"},
			{"town", townPath("Theinni")},
			{"claims", claimsPath("Kokang army")},
		} {
			b.Run(p.name+"/"+cache.name, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					mux.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", p.path, w.Code, w.Body)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "feeds/s")
			})
		}
	}
}
