package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
	"golang.org/x/time/rate"
)

// countingPlatform is a fake platform that allows R messages a second and answers 429
// beyond that, and says when it has accepted a target number of messages.
type countingPlatform struct {
	*fakePlatform
	target  int
	reached chan time.Time
}

func (c *countingPlatform) Send(ctx context.Context, chat string, r bot.Reply) (bot.MessageRef, error) {
	ref, err := c.fakePlatform.Send(ctx, chat, r)
	if err != nil {
		return ref, err
	}
	c.mu.Lock()
	n := c.n
	c.mu.Unlock()
	if n == c.target {
		c.reached <- time.Now()
	}
	return ref, nil
}

// BenchmarkFanOut posts one update to 10,000 subscribed chats on a fake platform that
// allows R messages a second, and reports how long the post took to commit, how soon
// the first message left, and the sending rate as a share of R. Run with -benchtime 1x.
func BenchmarkFanOut(b *testing.B) {
	for _, r := range []int{25, 1000} {
		b.Run(fmt.Sprintf("R=%d", r), func(b *testing.B) { benchFanOut(b, r) })
	}
}

func benchFanOut(b *testing.B, r int) {
	const chats = 10_000
	ctx := context.Background()
	db := filepath.Join(b.TempDir(), "sitrep.db")
	st, err := store.Open(ctx, db, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range chats {
		sub := store.Subscription{Chat: store.Chat{Platform: "fake", ID: fmt.Sprintf("-100%06d", i)}, ChatKind: "group", Filter: store.Filter{Kind: store.AllUpdates}}
		if _, err := st.Subscribe(ctx, sub); err != nil {
			b.Fatal(err)
		}
	}
	_ = st.Close()
	st, err = store.Open(ctx, db, store.Options{}) // durable from here on
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	target := min(chats, 8*r) // about eight seconds of sending
	fake := &countingPlatform{fakePlatform: newFake("fake"), target: target, reached: make(chan time.Time, 1)}
	fake.limits.Global = bot.Rate{Limit: rate.Limit(r), Burst: 1}
	fake.gate = rate.NewLimiter(rate.Limit(r), 1+r/20)
	var disp *bot.Dispatcher
	set := commands.New(st, commands.Options{Admins: []string{moderator.String()}, Enqueued: func() { disp.Wake() }})
	disp = bot.NewDispatcher(fake, outbox{st}, set.RenderDelivery, bot.DispatcherConfig{Poll: time.Minute})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = disp.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	b.ResetTimer()
	start := time.Now()
	reply := set.Serve(ctx, &bot.Request{Command: "post", Text: "claim:MNDAA The MNDAA says it holds Laukkai", User: moderator,
		Chat: bot.Chat{Platform: "console", ID: "mod", Kind: bot.Private}})
	answered := time.Now()
	if reply.Tone == bot.Error {
		b.Fatal(bot.PlainText(reply))
	}
	first := <-fake.first
	last := <-fake.reached
	b.StopTimer()

	fake.mu.Lock()
	refused := fake.refused
	fake.mu.Unlock()
	if refused > 0 {
		b.Errorf("the fake answered 429 %d times", refused)
	}
	achieved := float64(target-1) / last.Sub(first).Seconds()
	b.ReportMetric(float64(answered.Sub(start).Microseconds())/1000, "post-ms")
	b.ReportMetric(float64(first.Sub(answered).Microseconds())/1000, "first-push-ms")
	b.ReportMetric(achieved, "msgs/s")
	b.ReportMetric(100*achieved/float64(r), "%-of-R")
	b.ReportMetric(float64(target), "msgs-timed")
}
