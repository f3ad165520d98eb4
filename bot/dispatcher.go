package bot

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Dispatcher drains one platform's outbox: it sends due jobs in post order, to many
// chats at once so that a slow or rate-limited chat never holds the others, within the
// platform's global and per-chat limits, and records each outcome. Build one with
// NewDispatcher.
type Dispatcher struct {
	sender Sender
	outbox Outbox
	render RenderFunc
	cfg    DispatcherConfig

	wake   chan struct{}
	global *rate.Limiter
	sends  chan struct{} // semaphore of sends in flight

	mu       sync.Mutex
	held     map[uint64]bool          // jobs fetched and not yet finished
	chats    map[string]*chatQueue    // per chat with work: its queued jobs
	limiters map[string]*rate.Limiter // per chat, kept while they have tokens to refill
	idle     chan struct{}            // closed when held drops to zero
	wg       sync.WaitGroup
	doneCh   chan struct{} // a chat worker finished
}

// DispatcherConfig tunes a dispatcher; zero fields take the defaults shown.
type DispatcherConfig struct {
	Limits      *Limits          // nil: the sender's own limits
	MaxAttempts int              // transient failures before a job is parked (8)
	BaseBackoff time.Duration    // first transient retry delay, doubled each time, with jitter (1s)
	MaxBackoff  time.Duration    // longest retry delay (5m)
	Poll        time.Duration    // how often to look for due jobs when not woken (1s)
	MaxInFlight int              // sends in flight at once (64)
	SendTimeout time.Duration    // one send, edit or reply (30s)
	Logger      *slog.Logger     // nil discards
	Now         func() time.Time // nil: time.Now
}

// chatQueue is one chat's jobs waiting in memory, oldest first.
type chatQueue struct {
	id      string
	jobs    []Job
	limiter *rate.Limiter
	running bool
}

// limiterFor returns a chat's limiter, creating it at the rate for its kind. Callers
// hold d.mu.
func (d *Dispatcher) limiterFor(chatID string, kind ChatKind) *rate.Limiter {
	if l := d.limiters[chatID]; l != nil {
		return l
	}
	r := d.cfg.Limits.PerChat(kind)
	l := rate.NewLimiter(r.Limit, max(r.Burst, 1))
	if r.Limit == 0 {
		l = rate.NewLimiter(rate.Inf, 1)
	}
	d.limiters[chatID] = l
	return l
}

// pruneLimiters forgets the limiters of idle chats whose buckets are full again, so
// that memory follows the chats with recent traffic, not every chat ever sent to.
func (d *Dispatcher) pruneLimiters() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.limiters) <= 10*d.maxHeld() {
		return
	}
	for id, l := range d.limiters {
		if d.chats[id] == nil && l.Tokens() >= float64(l.Burst()) {
			delete(d.limiters, id)
		}
	}
}

// NewDispatcher returns a dispatcher for one platform.
func NewDispatcher(sender Sender, outbox Outbox, render RenderFunc, cfg DispatcherConfig) *Dispatcher {
	if cfg.Limits == nil {
		l := sender.Limits()
		cfg.Limits = &l
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := cfg.Limits.Global
	return &Dispatcher{
		sender: sender, outbox: outbox, render: render, cfg: cfg,
		wake:     make(chan struct{}, 1),
		global:   rate.NewLimiter(g.Limit, max(g.Burst, 1)),
		sends:    make(chan struct{}, cfg.MaxInFlight),
		held:     map[uint64]bool{},
		chats:    map[string]*chatQueue{},
		limiters: map[string]*rate.Limiter{},
		idle:     make(chan struct{}),
		doneCh:   make(chan struct{}, 1),
	}
}

// Wake makes the dispatcher look for due jobs now rather than at its next poll. It
// never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Platform is the platform the dispatcher sends to.
func (d *Dispatcher) Platform() string { return d.sender.Platform() }

// fetchChunk is how many jobs one read of the outbox takes, so that the first sends of
// a large fan-out start while the rest is still being read.
const fetchChunk = 256

// maxHeld is how many jobs the dispatcher keeps in memory: about ten seconds of
// sending at the global rate, at least 100.
func (d *Dispatcher) maxHeld() int {
	return max(100, int(float64(d.cfg.Limits.Global.Limit)*10))
}

// Run sends due jobs until ctx is done, then stops taking new work, lets the sends in
// flight finish and be recorded, and returns. Jobs it had not started stay pending in
// the outbox for the next run.
func (d *Dispatcher) Run(ctx context.Context) error {
	platform := d.sender.Platform()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			d.wg.Wait()
			return nil
		case <-d.wake:
		case <-d.doneCh:
		case <-timer.C:
		}
		d.mu.Lock()
		room := min(d.maxHeld()-len(d.held), fetchChunk)
		d.mu.Unlock()
		if room > 0 {
			jobs, err := d.outbox.Due(ctx, platform, d.cfg.Now(), room, d.isHeld)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.ErrorContext(ctx, "read due deliveries", "platform", platform, "err", err)
			}
			d.queue(ctx, jobs)
			if len(jobs) == room {
				d.Wake() // more may be due: fetch the next chunk right away
			}
		}
		d.markIdle()
		d.pruneLimiters()
		timer.Reset(d.cfg.Poll)
	}
}

// isHeld reports whether a job is already in memory.
func (d *Dispatcher) isHeld(id uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held[id]
}

// queue adds fetched jobs to their chats' queues and starts a worker for each chat
// that has none.
func (d *Dispatcher) queue(ctx context.Context, jobs []Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, j := range jobs {
		if d.held[j.ID] {
			continue
		}
		d.held[j.ID] = true
		q := d.chats[j.ChatID]
		if q == nil {
			q = &chatQueue{id: j.ChatID, limiter: d.limiterFor(j.ChatID, j.ChatKind)}
			d.chats[j.ChatID] = q
		}
		i, _ := slices.BinarySearchFunc(q.jobs, j.ID, func(a Job, id uint64) int { return compare(a.ID, id) })
		q.jobs = slices.Insert(q.jobs, i, j)
		if !q.running {
			q.running = true
			d.wg.Add(1)
			go d.work(ctx, q)
		}
	}
}

// compare orders ids.
func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// markIdle signals WaitIdle callers when nothing is held.
func (d *Dispatcher) markIdle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.held) == 0 {
		close(d.idle)
		d.idle = make(chan struct{})
	}
}

// WaitIdle returns once the dispatcher holds no job and the outbox has none due, or
// when ctx is done. Jobs waiting for a later retry do not count.
func (d *Dispatcher) WaitIdle(ctx context.Context) error {
	for {
		d.mu.Lock()
		n, idle := len(d.held), d.idle
		d.mu.Unlock()
		if n == 0 {
			due, err := d.outbox.Due(ctx, d.sender.Platform(), d.cfg.Now(), 1, nil)
			if err != nil {
				return err
			}
			if len(due) == 0 {
				return nil
			}
		}
		d.Wake()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next pops a chat's oldest job, or ends the worker when there is none.
func (d *Dispatcher) next(q *chatQueue) (Job, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(q.jobs) == 0 {
		q.running = false
		delete(d.chats, q.id)
		return Job{}, false
	}
	j := q.jobs[0]
	q.jobs = q.jobs[1:]
	return j, true
}

// release forgets jobs the worker no longer holds, and tells Run when there is room
// for another chunk (or nothing is held, for WaitIdle).
func (d *Dispatcher) release(ids ...uint64) {
	d.mu.Lock()
	for _, id := range ids {
		delete(d.held, id)
	}
	held := len(d.held)
	d.mu.Unlock()
	if held == 0 || held <= d.maxHeld()-fetchChunk {
		select {
		case d.doneCh <- struct{}{}:
		default:
		}
	}
}

// dropChat forgets every job queued for a chat (after it was gone or moved: the
// outbox has already dealt with them) and ends its worker.
func (d *Dispatcher) dropChat(q *chatQueue) {
	d.mu.Lock()
	ids := make([]uint64, 0, len(q.jobs))
	for _, j := range q.jobs {
		ids = append(ids, j.ID)
	}
	q.jobs = nil
	d.mu.Unlock()
	d.release(ids...)
}

// work sends one chat's jobs one at a time, in order, so that at most one message to a
// chat is ever in flight (a crash can duplicate at most one per chat).
func (d *Dispatcher) work(ctx context.Context, q *chatQueue) {
	defer d.wg.Done()
	for {
		j, ok := d.next(q)
		if !ok {
			return
		}
		if !d.deliver(ctx, q, j) {
			// Shutting down: the job stays pending in the outbox.
			d.dropChat(q)
			d.release(j.ID)
			d.mu.Lock()
			q.running = false
			delete(d.chats, q.id)
			d.mu.Unlock()
			return
		}
	}
}

// deliver tries a job until it is sent, parked or handed back to the outbox; it returns
// false when ctx ended before the job was attempted or while it waited to retry. A
// digest job takes every digest job queued for the chat with it into one message.
func (d *Dispatcher) deliver(ctx context.Context, q *chatQueue, j Job) bool {
	batch := []Job{j}
	if j.Digest && j.Kind == NewMessage {
		batch = append(batch, d.takeDigest(q)...)
	}
	ids := make([]uint64, len(batch))
	for i, b := range batch {
		ids[i] = b.ID
	}
	log := d.cfg.Logger.With("platform", d.sender.Platform(), "delivery", j.ID, "update", j.UpdateID, "chat", j.ChatID)
	each := func(ctx context.Context, what string, fn func(Job) error) {
		for _, b := range batch {
			if err := fn(b); err != nil {
				log.ErrorContext(ctx, "record delivery outcome", "outcome", what, "delivery", b.ID, "err", err)
			}
		}
	}
	for {
		if err := q.limiter.Wait(ctx); err != nil {
			d.release(ids[1:]...)
			return false
		}
		if err := d.global.Wait(ctx); err != nil {
			d.release(ids[1:]...)
			return false
		}
		// From here the attempt runs to its end even if ctx is cancelled: the message
		// may be on its way, and its outcome must be recorded.
		bg := context.WithoutCancel(ctx)
		d.sends <- struct{}{}
		ref, revisions, err := d.attempt(bg, batch)
		<-d.sends
		if err == nil {
			for i, b := range batch {
				if merr := d.outbox.Sent(bg, b, ref, revisions[i]); merr != nil {
					log.ErrorContext(ctx, "record sent delivery", "delivery", b.ID, "err", merr)
				}
			}
			d.release(ids...)
			return true
		}
		se := Classify(err)
		var wait time.Duration
		switch se.Kind {
		case RetryLater:
			wait = se.After
			log.WarnContext(ctx, "delivery rate limited; retrying", "retry_in", wait, "err", err)
			each(bg, "retry", func(b Job) error { return d.outbox.Retry(bg, b, d.cfg.Now().Add(wait), err, false) })
		case Transient:
			j.Attempts++
			if j.Attempts >= d.cfg.MaxAttempts {
				log.WarnContext(ctx, "delivery parked", "attempts", j.Attempts, "err", err)
				each(bg, "failed", func(b Job) error { return d.outbox.Failed(bg, b, err) })
				d.release(ids...)
				return true
			}
			wait = d.backoff(j.Attempts)
			log.WarnContext(ctx, "delivery failed; retrying", "attempts", j.Attempts, "retry_in", wait.Round(time.Millisecond), "err", err)
			each(bg, "retry", func(b Job) error { return d.outbox.Retry(bg, b, d.cfg.Now().Add(wait), err, true) })
		case Gone:
			log.InfoContext(ctx, "chat gone; unsubscribed", "err", err)
			d.mark(bg, log, "gone", d.outbox.Gone(bg, j, err)) // parks the chat's other jobs too
			d.dropChat(q)
			d.release(ids...)
			return true
		case Moved:
			log.InfoContext(ctx, "chat moved", "to", se.NewChatID)
			d.mark(bg, log, "moved", d.outbox.Moved(bg, j, se.NewChatID)) // moves the chat's other jobs too
			d.dropChat(q)
			d.release(ids...)
			d.Wake() // the moved jobs are due under the new id
			return true
		default:
			log.WarnContext(ctx, "delivery failed permanently", "err", err)
			each(bg, "failed", func(b Job) error { return d.outbox.Failed(bg, b, err) })
			d.release(ids...)
			return true
		}
		// Wait for the retry here, holding only this chat: order is kept, and the
		// outbox already knows when to retry should the process stop meanwhile.
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			d.release(ids[1:]...)
			return false
		case <-t.C:
		}
	}
}

// takeDigest removes and returns the digest jobs queued for a chat.
func (d *Dispatcher) takeDigest(q *chatQueue) []Job {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out, keep []Job
	for _, j := range q.jobs {
		if j.Digest && j.Kind == NewMessage {
			out = append(out, j)
		} else {
			keep = append(keep, j)
		}
	}
	q.jobs = keep
	return out
}

// mark logs a failure to record an outcome.
func (d *Dispatcher) mark(ctx context.Context, log *slog.Logger, what string, err error) {
	if err != nil {
		log.ErrorContext(ctx, "record delivery outcome", "outcome", what, "err", err)
	}
}

// attempt renders and sends a batch (one job, or a chat's digest) once.
func (d *Dispatcher) attempt(ctx context.Context, batch []Job) (MessageRef, []int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	defer cancel()
	j := batch[0]
	reply, revisions, err := d.render(ctx, batch)
	if err != nil {
		return "", nil, PermanentError(err)
	}
	reply.Silent = reply.Silent || j.Silent
	switch {
	case j.Kind != Correction:
		ref, err := d.sender.Send(ctx, j.ChatID, reply)
		return ref, revisions, err
	case !j.Digest:
		err = d.sender.Edit(ctx, j.ChatID, j.Ref, reply)
		if err == nil {
			return j.Ref, revisions, nil
		}
		if !errors.Is(err, ErrCannotEdit) && Classify(err).Kind != Permanent {
			return "", nil, err
		}
	}
	// A digest holds other updates, and some messages cannot be edited: say what
	// changed in a reply to the original.
	reply.Title = "Correction: " + reply.Title
	_, err = d.sender.ReplyTo(ctx, j.ChatID, j.Ref, reply)
	return j.Ref, revisions, err
}

// backoff is the delay before transient retry n of a delivery.
func (d *Dispatcher) backoff(n int) time.Duration {
	return Backoff(n, d.cfg.BaseBackoff, d.cfg.MaxBackoff)
}

// Backoff is the delay before retry n (from 1): doubling from base up to most, with
// ±25% jitter so that many clients do not retry in step.
func Backoff(n int, base, most time.Duration) time.Duration {
	wait := base << min(max(n-1, 0), 20)
	if wait <= 0 || wait > most {
		wait = most
	}
	jitter := time.Duration(rand.Int64N(int64(wait)/2+1)) - wait/4
	return wait + jitter
}

// Sleep waits d or until ctx ends, reporting whether it waited the whole time.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
