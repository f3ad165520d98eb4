package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/bot/telegram"
	"github.com/sitrep-bot/sitrep/bot/telegram/telegramtest"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
	"github.com/sitrep-bot/sitrep/store/storetest"
)

// BenchmarkTelegramCommands measures commands answered per second through tgbotapi
// against the fake Bot API: sitrep's handlers on a store of 1,000,000 updates (10,000
// with -short) against a handler that answers a constant string, and reports both
// rates and their ratio.
func BenchmarkTelegramCommands(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 10_000
	}
	db := filepath.Join(b.TempDir(), "sitrep.db")
	if err := storetest.Fill(context.Background(), db, n); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	set := commands.New(st, commands.Options{})
	constant := bot.HandlerFunc(func(context.Context, *bot.Request) bot.Reply { return bot.Text("ok") })
	lines := []string{"/town Theinni", "/claims Kokang", "/latest", "/town Laukkaing"}
	const commandsPerRun = 3000

	rate := func(h bot.Handler) float64 {
		api := telegramtest.NewServer(b, "9:bench")
		api.Discard()
		a, err := telegram.New(context.Background(), telegram.Config{Token: api.Token, Endpoint: api.Endpoint(), PollTimeout: time.Second, Cursor: st}, h)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.SetCursor(context.Background(), telegram.Platform, 0); err != nil {
			b.Fatal(err)
		}
		for i := range commandsPerRun {
			api.PushText(telegramtest.Chat{ID: int64(1000 + i%50), Type: "private"}, int64(1000+i%50), "Reader", lines[i%len(lines)], 0)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		start := time.Now()
		go func() { _ = a.Run(ctx); close(done) }()
		wait, stop := context.WithTimeout(ctx, 5*time.Minute)
		defer stop()
		if err := api.WaitCount(wait, commandsPerRun); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		cancel()
		<-done
		return commandsPerRun / elapsed.Seconds()
	}
	b.ResetTimer()
	// Both pay an fsync per update (the stored offset), whose time drifts with the
	// machine: run them in pairs, alternating which goes first, and take the median
	// of the pairs' ratios and of each one's rates.
	var bases, ourses, ratios []float64
	for i := range b.N * 7 {
		var base, ours float64
		if i%2 == 0 {
			base, ours = rate(constant), rate(set)
		} else {
			ours, base = rate(set), rate(constant)
		}
		bases, ourses, ratios = append(bases, base), append(ourses, ours), append(ratios, ours/base)
	}
	median := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	b.ReportMetric(median(bases), "constant-cmds/s")
	b.ReportMetric(median(ourses), "sitrep-cmds/s")
	b.ReportMetric(100*median(ratios), "%-of-constant")
	b.ReportMetric(float64(n), "updates")
}
