package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
	"golang.org/x/time/rate"
)

// fakePlatform is an in-process chat platform behind the delivery contract. Each chat
// can be scripted to fail its next attempts; every message it accepts is recorded.
type fakePlatform struct {
	name   string
	limits bot.Limits
	gate   *rate.Limiter // when set, sends beyond it are answered 429
	first  chan time.Time

	mu       sync.Mutex
	script   map[string][]error // chat → errors for its next attempts
	block    map[string]int     // chat → attempts that hang until the send times out
	noEdit   map[string]bool
	sent     map[string][]string // chat → texts
	edits    map[string][]string
	replies  map[string][]string
	attempts map[string][]time.Time
	refused  int // 429s answered because of gate
	n        int
	started  chan struct{} // when set, each send says it started, then waits for hold
	hold     chan struct{}
}

func newFake(name string) *fakePlatform {
	inf := bot.Rate{Limit: rate.Inf, Burst: 1}
	return &fakePlatform{
		name: name, limits: bot.Limits{Global: inf, Private: inf, Group: inf, Channel: inf, MaxMessageLen: 4096},
		first:  make(chan time.Time, 1),
		script: map[string][]error{}, block: map[string]int{}, noEdit: map[string]bool{},
		sent: map[string][]string{}, edits: map[string][]string{}, replies: map[string][]string{}, attempts: map[string][]time.Time{},
	}
}

func (f *fakePlatform) Platform() string   { return f.name }
func (f *fakePlatform) Limits() bot.Limits { return f.limits }

// fail returns the scripted outcome of an attempt on chat, if any.
func (f *fakePlatform) fail(ctx context.Context, chat string) error {
	f.mu.Lock()
	f.attempts[chat] = append(f.attempts[chat], time.Now())
	if f.gate != nil && !f.gate.Allow() {
		f.refused++
		f.mu.Unlock()
		return bot.RetryAfterError(time.Second, errors.New("429 Too Many Requests"))
	}
	if f.block[chat] > 0 {
		f.block[chat]--
		f.mu.Unlock()
		<-ctx.Done() // a platform that never answers
		return fmt.Errorf("send: %w", ctx.Err())
	}
	if q := f.script[chat]; len(q) > 0 {
		f.script[chat] = q[1:]
		f.mu.Unlock()
		return q[0]
	}
	f.mu.Unlock()
	return nil
}

func (f *fakePlatform) Send(ctx context.Context, chat string, r bot.Reply) (bot.MessageRef, error) {
	if err := f.fail(ctx, chat); err != nil {
		return "", err
	}
	if f.started != nil {
		f.started <- struct{}{}
		<-f.hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.n == 1 {
		f.first <- time.Now()
	}
	text := bot.PlainText(r)
	if r.Silent {
		text = "(silent) " + text
	}
	f.sent[chat] = append(f.sent[chat], text)
	return bot.MessageRef(fmt.Sprintf("%s/%d", chat, len(f.sent[chat]))), nil
}

func (f *fakePlatform) Edit(ctx context.Context, chat string, ref bot.MessageRef, r bot.Reply) error {
	if err := f.fail(ctx, chat); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noEdit[chat] {
		return bot.ErrCannotEdit
	}
	f.edits[chat] = append(f.edits[chat], string(ref)+" "+bot.PlainText(r))
	return nil
}

func (f *fakePlatform) ReplyTo(ctx context.Context, chat string, ref bot.MessageRef, r bot.Reply) (bot.MessageRef, error) {
	if err := f.fail(ctx, chat); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[chat] = append(f.replies[chat], string(ref)+" "+bot.PlainText(r))
	return bot.MessageRef(chat + "/reply"), nil
}

// watchedOutbox is the real outbox that also signals after every recorded outcome, so
// that a test can wait for the dispatcher without sleeping.
type watchedOutbox struct {
	outbox
	marked chan struct{}
}

func (w watchedOutbox) signal(err error) error {
	select {
	case w.marked <- struct{}{}:
	default:
	}
	return err
}
func (w watchedOutbox) Sent(ctx context.Context, j bot.Job, ref bot.MessageRef, rev int) error {
	return w.signal(w.outbox.Sent(ctx, j, ref, rev))
}
func (w watchedOutbox) Retry(ctx context.Context, j bot.Job, at time.Time, cause error, counted bool) error {
	return w.signal(w.outbox.Retry(ctx, j, at, cause, counted))
}
func (w watchedOutbox) Failed(ctx context.Context, j bot.Job, cause error) error {
	return w.signal(w.outbox.Failed(ctx, j, cause))
}
func (w watchedOutbox) Gone(ctx context.Context, j bot.Job, cause error) error {
	return w.signal(w.outbox.Gone(ctx, j, cause))
}
func (w watchedOutbox) Moved(ctx context.Context, j bot.Job, to string) error {
	return w.signal(w.outbox.Moved(ctx, j, to))
}

// deliveryRig is a real store and command set with a dispatcher on a fake platform.
type deliveryRig struct {
	t     *testing.T
	st    *store.Store
	set   *commands.Set
	fake  *fakePlatform
	disp  *bot.Dispatcher
	watch watchedOutbox
	stop  func()
}

var moderator = bot.Identity{Platform: "console", UserID: "mod", Name: "Mod"}

func newRig(t *testing.T, cfg bot.DispatcherConfig, chats ...string) *deliveryRig {
	t.Helper()
	var subs []store.Subscription
	for _, c := range chats {
		subs = append(subs, store.Subscription{Chat: store.Chat{Platform: "fake", ID: c}, ChatKind: "group", Filter: store.Filter{Kind: store.AllUpdates}})
	}
	return newRigWith(t, cfg, subs...)
}

// newRigWith is newRig with the subscriptions given in full.
func newRigWith(t *testing.T, cfg bot.DispatcherConfig, subs ...store.Subscription) *deliveryRig {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "sitrep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	r := &deliveryRig{t: t, st: st, fake: newFake("fake")}
	r.watch = watchedOutbox{outbox: outbox{st}, marked: make(chan struct{}, 1)}
	r.set = commands.New(st, commands.Options{Admins: []string{moderator.String()}, Enqueued: func() { r.disp.Wake() }})
	r.disp = bot.NewDispatcher(r.fake, r.watch, r.set.RenderDelivery, cfg)
	for _, sub := range subs {
		if _, err := st.Subscribe(t.Context(), sub); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// start runs the dispatcher until the test ends.
func (r *deliveryRig) start() {
	ctx, cancel := context.WithCancel(r.t.Context())
	done := make(chan struct{})
	go func() { _ = r.disp.Run(ctx); close(done) }()
	r.stop = func() { cancel(); <-done }
	r.t.Cleanup(r.stop)
}

// do runs a moderator command, fails the test on an error reply, and returns the
// reply's text.
func (r *deliveryRig) do(line string) string {
	r.t.Helper()
	name, args, _ := bot.ParseCommand(line, "")
	reply := r.set.Serve(r.t.Context(), &bot.Request{Command: name, Text: args, User: moderator, Chat: bot.Chat{Platform: "console", ID: "mod", Kind: bot.Private}})
	if reply.Tone == bot.Error {
		r.t.Fatalf("%s: %s", line, bot.PlainText(reply))
	}
	return bot.PlainText(reply)
}

// settle waits, without sleeping, until no delivery of the given updates is pending.
func (r *deliveryRig) settle(updates ...uint64) []store.Delivery {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 20*time.Second)
	defer cancel()
	for {
		var all []store.Delivery
		pending := 0
		for _, id := range updates {
			ds, err := r.st.Deliveries(ctx, id)
			if err != nil {
				r.t.Fatal(err)
			}
			for _, d := range ds {
				if d.State == store.Pending {
					pending++
				}
			}
			all = append(all, ds...)
		}
		if pending == 0 {
			return all
		}
		select {
		case <-r.watch.marked:
		case <-ctx.Done():
			r.t.Fatalf("%d deliveries still pending: %+v", pending, all)
		}
	}
}

func TestDeliveryEndsSentOrParked(t *testing.T) {
	r := newRig(t, bot.DispatcherConfig{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, SendTimeout: 500 * time.Millisecond},
		"ok", "limited", "flaky", "slow", "gone", "moved", "broken", "refused")
	r.fake.script["limited"] = []error{bot.RetryAfterError(30*time.Millisecond, errors.New("429: retry after 0.03"))}
	r.fake.script["flaky"] = []error{errors.New("502 Bad Gateway"), errors.New("503 Service Unavailable")}
	r.fake.block["slow"] = 1
	r.fake.script["gone"] = []error{bot.ChatGoneError(errors.New("403: bot was kicked from the group chat"))}
	r.fake.script["moved"] = []error{bot.ChatMovedError("moved2", errors.New("400: group chat was upgraded to a supergroup chat"))}
	for range 6 { // three attempts for each of the two updates
		r.fake.script["broken"] = append(r.fake.script["broken"], errors.New("500 Internal Server Error"))
	}
	tooLong := bot.PermanentError(errors.New("400: message is too long"))
	r.fake.script["refused"] = []error{tooLong, tooLong}
	r.do("/post claim:TNLA Fighting in Namhsan")
	r.do("/post claim:MNDAA Fighting in Laukkai")
	r.start()
	all := r.settle(1, 2)

	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	for _, chat := range []string{"ok", "limited", "flaky", "slow", "moved2"} {
		if got := r.fake.sent[chat]; len(got) != 2 || !strings.Contains(got[0], "Namhsan") || !strings.Contains(got[1], "Laukkai") {
			t.Errorf("%s got %q, want both updates once, in order", chat, got)
		}
	}
	if a := r.fake.attempts["limited"]; len(a) < 2 || a[1].Sub(a[0]) < 30*time.Millisecond || a[1].Sub(a[0]) > 2*time.Second {
		t.Errorf("retry-after 30ms not honoured: attempts %v", a)
	}
	for _, chat := range []string{"gone", "broken", "refused"} {
		if len(r.fake.sent[chat]) != 0 {
			t.Errorf("%s was sent %q", chat, r.fake.sent[chat])
		}
	}
	states := map[string][]string{}
	for _, d := range all {
		states[d.Chat.ID] = append(states[d.Chat.ID], string(d.State)+":"+d.LastError)
	}
	for chat, want := range map[string]string{"gone": "chat gone", "broken": "500", "refused": "too long"} {
		for _, st := range states[chat] {
			if !strings.HasPrefix(st, "failed:") || !strings.Contains(st, want) {
				t.Errorf("%s: %v, want parked with %q", chat, states[chat], want)
			}
		}
	}
	if len(states["moved"]) != 0 || len(states["moved2"]) != 2 {
		t.Errorf("moved chat: %v / %v", states["moved"], states["moved2"])
	}
	r.fake.mu.Unlock()
	report := r.do("/deliveries 1")
	r.fake.mu.Lock()
	for _, want := range []string{"fake: 5 sent, 0 pending, 3 failed", "failed post to gone: chat gone", "failed post to broken: 500 Internal Server Error", "failed post to refused: permanent"} {
		if !strings.Contains(report, want) {
			t.Errorf("/deliveries 1 lacks %q:\n%s", want, report)
		}
	}
	if subs, _ := r.st.Subscriptions(t.Context(), store.Chat{Platform: "fake", ID: "gone"}); len(subs) != 0 {
		t.Errorf("gone chat still subscribed")
	}
	log, _ := r.st.AuditLog(t.Context(), 10)
	audited := false
	for _, e := range log {
		if e.Action == "unsubscribe" && e.Record == "chat/fake:gone" && e.Actor == "system:delivery" {
			audited = true
		}
	}
	if !audited {
		t.Errorf("unsubscribing the gone chat was not audited: %+v", log)
	}
}

func TestRetractionEditsEveryCopy(t *testing.T) {
	r := newRig(t, bot.DispatcherConfig{}, "a", "b", "c", "old")
	r.fake.noEdit["old"] = true // this message cannot be edited: a reply says what changed
	r.start()
	r.do("/post claim:AA source:AP The AA says it took Paletwa")
	r.settle(1)
	r.do("/retract 1 the town was not taken")
	r.settle(1)
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	for _, chat := range []string{"a", "b", "c"} {
		if e := r.fake.edits[chat]; len(e) != 1 || !strings.HasPrefix(e[0], chat+"/1 ") || !strings.Contains(e[0], "RETRACTED: the town was not taken") {
			t.Errorf("%s edits = %q, want its message edited to say RETRACTED and why", chat, e)
		}
	}
	if rep := r.fake.replies["old"]; len(rep) != 1 || !strings.HasPrefix(rep[0], "old/1 Correction") || !strings.Contains(rep[0], "RETRACTED") {
		t.Errorf("old replies = %q", rep)
	}
	for _, chat := range []string{"a", "b", "c", "old"} {
		if len(r.fake.sent[chat]) != 1 {
			t.Errorf("%s was sent %d messages, want the original only", chat, len(r.fake.sent[chat]))
		}
	}
}

func TestShutdownFinishesSendsInFlight(t *testing.T) {
	r := newRig(t, bot.DispatcherConfig{}, "a")
	r.fake.started, r.fake.hold = make(chan struct{}), make(chan struct{})
	r.start()
	r.do("/post Fighting near Hsipaw")
	<-r.fake.started // the message is on its way
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	close(r.fake.hold) // the platform answers after shutdown began
	<-stopped
	ds, _ := r.st.Deliveries(t.Context(), 1)
	if len(ds) != 1 || ds[0].State != store.Sent || ds[0].Ref != "a/1" {
		t.Fatalf("after shutdown: %+v, want the in-flight send recorded as sent", ds)
	}
}

func TestShutdownLeavesUnsentWorkPending(t *testing.T) {
	r := newRig(t, bot.DispatcherConfig{Limits: &bot.Limits{Global: bot.Every(1, time.Hour), Group: bot.Every(1, time.Hour)}}, "a", "b")
	r.start()
	r.do("/post Fighting near Muse")
	<-r.watch.marked // the first of the two went out; the second waits an hour for a token
	r.stop()
	ds, _ := r.st.Deliveries(t.Context(), 1)
	states := map[store.DeliveryState]int{}
	for _, d := range ds {
		states[d.State]++
	}
	if states[store.Sent] != 1 || states[store.Pending] != 1 {
		t.Fatalf("after shutdown: %v, want one sent and one pending", states)
	}
}

// clock is the time with a settable offset, for a dispatcher's idea of now.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time       { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) Skip(d time.Duration) { c.mu.Lock(); c.offset += d; c.mu.Unlock() }

func TestQuietDigestAndControlChanges(t *testing.T) {
	clk := &clock{}
	all := store.Filter{Kind: store.AllUpdates}
	sub := func(chat string, quiet, digest bool) store.Subscription {
		return store.Subscription{Chat: store.Chat{Platform: "fake", ID: chat}, ChatKind: "group", Filter: all, Quiet: quiet, Digest: digest, DigestHour: 7}
	}
	r := newRigWith(t, bot.DispatcherConfig{Now: clk.Now}, sub("loud", false, false), sub("quiet", true, false), sub("digest", false, true))
	r.start()
	r.do("/post Clashes near Kutkai")
	r.do("/post claim:TNLA Namhsan attacked")
	r.do("/post control:MNDAA town:Laukkai claim:MNDAA The MNDAA says it holds Laukkai")
	contains := func(what, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, text)
			}
		}
	}
	contains("/town Laukkai", r.do("/town Laukkai"), "Control: MNDAA", "per update #3")

	// Everything but the digest goes out now.
	for {
		r.fake.mu.Lock()
		n := len(r.fake.sent["loud"]) + len(r.fake.sent["quiet"])
		r.fake.mu.Unlock()
		if n == 6 {
			break
		}
		<-r.watch.marked
	}
	r.fake.mu.Lock()
	loud, quiet, digest := r.fake.sent["loud"], r.fake.sent["quiet"], r.fake.sent["digest"]
	r.fake.mu.Unlock()
	for i, text := range loud {
		if strings.HasPrefix(text, "(silent)") {
			t.Errorf("loud message %d was silent", i)
		}
	}
	if !strings.HasPrefix(quiet[0], "(silent)") || !strings.HasPrefix(quiet[1], "(silent)") || strings.HasPrefix(quiet[2], "(silent)") {
		t.Errorf("quiet chat: ordinary updates must be silent and the change of control must notify: %q", quiet)
	}
	if len(digest) != 0 {
		t.Fatalf("digest chat got %q before its hour", digest)
	}

	// At the digest hour, one message with all three.
	clk.Skip(25 * time.Hour)
	r.disp.Wake()
	r.settle(1, 2, 3)
	r.fake.mu.Lock()
	digest = r.fake.sent["digest"]
	r.fake.mu.Unlock()
	if len(digest) != 1 {
		t.Fatalf("digest chat got %d messages, want 1: %q", len(digest), digest)
	}
	contains("digest", digest[0], "daily digest: 3 updates", "Kutkai", "Namhsan", "Laukkai")

	// A retraction edits the single messages and replies under the digest.
	r.do("/retract 2 wrong town")
	r.settle(2)
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	if len(r.fake.edits["loud"]) != 1 || len(r.fake.edits["quiet"]) != 1 || len(r.fake.edits["digest"]) != 0 {
		t.Errorf("edits: %v", r.fake.edits)
	}
	if rep := r.fake.replies["digest"]; len(rep) != 1 || !strings.Contains(rep[0], "RETRACTED: wrong town") {
		t.Errorf("digest replies: %q", rep)
	}
}
