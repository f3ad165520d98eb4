package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sitrep-bot/sitrep/bot"
	"golang.org/x/time/rate"
)

// Output serialises writes from a session and from pushed deliveries, so that each
// message appears whole.
type Output struct {
	mu sync.Mutex
	w  io.Writer
}

// NewOutput wraps w.
func NewOutput(w io.Writer) *Output { return &Output{w: w} }

// Write writes p in one piece.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Pusher is the console's side of delivery: it "sends" pushed updates by printing them
// with the chat they went to. It implements bot.Sender.
type Pusher struct {
	Out   io.Writer
	Rate  rate.Limit // messages a second, overall and per chat; 0 means unlimited
	mu    sync.Mutex
	count int
}

// Platform is "console".
func (p *Pusher) Platform() string { return Platform }

// Limits are the configured rate, or none.
func (p *Pusher) Limits() bot.Limits {
	r := bot.Rate{Limit: rate.Inf, Burst: 1}
	if p.Rate > 0 {
		r = bot.Rate{Limit: p.Rate, Burst: 1}
	}
	return bot.Limits{Global: r, Private: r, Group: r, Channel: r, MaxMessageLen: 1 << 16}
}

// nextRef numbers the printed messages.
func (p *Pusher) nextRef() bot.MessageRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.count++
	return bot.MessageRef(fmt.Sprintf("m%d", p.count))
}

// print writes one pushed message in a single write.
func (p *Pusher) print(ctx context.Context, head string, r bot.Reply) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(head)
	if r.Silent {
		b.WriteString(" (silent)")
	}
	b.WriteString("\n")
	b.WriteString(bot.PlainText(r))
	b.WriteString("\n")
	if _, err := io.WriteString(p.Out, b.String()); err != nil {
		return fmt.Errorf("print pushed message: %w", err)
	}
	return nil
}

// Send prints a pushed message.
func (p *Pusher) Send(ctx context.Context, chatID string, r bot.Reply) (bot.MessageRef, error) {
	ref := p.nextRef()
	return ref, p.print(ctx, fmt.Sprintf(">> pushed to %s:%s as %s", Platform, chatID, ref), r)
}

// Edit prints the new text of a pushed message.
func (p *Pusher) Edit(ctx context.Context, chatID string, ref bot.MessageRef, r bot.Reply) error {
	return p.print(ctx, fmt.Sprintf(">> edited %s in %s:%s", ref, Platform, chatID), r)
}

// ReplyTo prints a reply to a pushed message.
func (p *Pusher) ReplyTo(ctx context.Context, chatID string, ref bot.MessageRef, r bot.Reply) (bot.MessageRef, error) {
	nref := p.nextRef()
	return nref, p.print(ctx, fmt.Sprintf(">> reply to %s in %s:%s as %s", ref, Platform, chatID, nref), r)
}
