// Package commands holds every sitrep command: its name, arguments, who may run it and
// its handler. Handlers read and write the store and answer with platform-neutral
// replies; they never know which platform asked.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Yangon even where the system has no zone database

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
	"github.com/sitrep-bot/sitrep/store/names"
)

// Options configure the command set.
type Options struct {
	// Admins are identities ("telegram:123") that are admins by configuration,
	// whatever the store says.
	Admins []string
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil means time.Now
	// Location is where times are shown; nil means Asia/Yangon.
	Location *time.Location
	// Enqueued, if set, is called after a command queued deliveries (a post, or a
	// correction), so that dispatchers can start at once instead of at their next poll.
	Enqueued func()
	// NoCache turns off the reuse of answers to reading commands (benchmarks of the
	// full path use it).
	NoCache bool
}

// Set is sitrep's command set on one store.
type Set struct {
	store  *store.Store
	admins []string
	log    *slog.Logger
	now    func() time.Time
	loc    *time.Location
	notify func()
	router bot.Router
	cache  *answers // nil: off
}

// New returns the command set, ready to serve, on st.
func New(st *store.Store, opts Options) *Set {
	s := &Set{store: st, admins: opts.Admins, log: opts.Logger, now: opts.Now, loc: opts.Location, notify: opts.Enqueued}
	if !opts.NoCache {
		s.cache = &answers{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		loc, err := time.LoadLocation("Asia/Yangon")
		if err != nil {
			loc = time.FixedZone("MMT", 6*3600+1800)
		}
		s.loc = loc
	}
	for _, c := range s.declarations() {
		c.Handler = s.guard(c)
		s.router.Handle(c.Command)
	}
	s.router.Unknown = bot.HandlerFunc(s.unknown)
	return s
}

// enqueued tells the dispatchers that deliveries are waiting.
func (s *Set) enqueued() {
	if s.notify != nil {
		s.notify()
	}
}

// Router is the router to hand to adapters.
func (s *Set) Router() *bot.Router { return &s.router }

// Serve answers one request.
func (s *Set) Serve(ctx context.Context, req *bot.Request) bot.Reply { return s.router.Serve(ctx, req) }

// handlerFunc is what each command implements: parsed arguments in, a reply or an
// error out.
type handlerFunc func(ctx context.Context, req *bot.Request, a args) (bot.Reply, error)

// command is a declaration plus its implementation.
type command struct {
	bot.Command
	run handlerFunc
	// ownText marks commands that read multi-word names from req.Text themselves
	// (/control, /alias); typed options are still parsed for them.
	ownText bool
	// cached marks reading commands whose answer depends only on the store and the
	// arguments, so that it may be reused (see answers).
	cached bool
}

// guard wraps a command's implementation: it checks the role, parses the arguments,
// runs it, and turns errors into replies.
func (s *Set) guard(c command) bot.Handler {
	return bot.HandlerFunc(func(ctx context.Context, req *bot.Request) bot.Reply {
		if ok, err := s.allowed(ctx, req, c.Role); err != nil {
			return s.internal(ctx, req, err)
		} else if !ok {
			s.log.InfoContext(ctx, "command refused", "command", c.Name, "user", req.User.String(), "needs", c.Role.String())
			err := s.store.Audit(ctx, store.AuditEntry{Actor: req.User.String(), Action: "denied", Record: "command/" + c.Name, Note: "needs " + c.Role.String()})
			if err != nil {
				s.log.ErrorContext(ctx, "audit refusal", "err", err)
			}
			return bot.Errorf("Only %s can use /%s.", c.Role, c.Name)
		}
		cacheKey := ""
		if c.cached && s.cache != nil && req.Options == nil {
			cacheKey = c.Name + "\x00" + req.Text
			if r, ok := s.cache.get(cacheKey, s.store.Version(), s.now()); ok {
				return r
			}
		}
		version := s.store.Version() // before reading, so a change during the read is not cached as current
		a, err := parseArgs(c.Command, req, c.ownText)
		if err != nil {
			// Arguments that do not parse: say why, and how they go.
			return bot.Errorf("%s Usage: %s", err, usage(c.Command))
		}
		reply, err := c.run(ctx, req, a)
		if err != nil {
			return s.failure(ctx, req, err)
		}
		if cacheKey != "" {
			s.cache.put(cacheKey, version, s.now(), reply)
		}
		return reply
	})
}

// allowed reports whether the request's user has the role.
func (s *Set) allowed(ctx context.Context, req *bot.Request, role bot.Role) (bool, error) {
	if role == bot.Everyone {
		return true, nil
	}
	have, err := s.role(ctx, req.User)
	if err != nil {
		return false, err
	}
	if role == bot.ChatManager && req.ChatManager {
		return true, nil
	}
	return have >= role, nil
}

// role returns the most a user may do as a moderator or admin.
func (s *Set) role(ctx context.Context, user bot.Identity) (bot.Role, error) {
	id := user.String()
	if slices.Contains(s.admins, id) {
		return bot.Admin, nil
	}
	m, ok, err := s.store.Moderator(ctx, id)
	switch {
	case err != nil:
		return bot.Everyone, err
	case !ok:
		return bot.Everyone, nil
	case m.Role == store.AdminRole:
		return bot.Admin, nil
	}
	return bot.Moderator, nil
}

// problem is an error whose message is meant for the user: bad input or a refusal.
type problem struct{ msg string }

func (p *problem) Error() string { return p.msg }

// problemf returns a problem with a formatted message.
func problemf(format string, a ...any) error { return &problem{fmt.Sprintf(format, a...)} }

// failure turns a handler's error into a private one-line reply: a problem, an unknown
// name or a store refusal is shown as it is; anything else is logged and reported as an
// internal error.
func (s *Set) failure(ctx context.Context, req *bot.Request, err error) bot.Reply {
	var p *problem
	var ne *store.NameError
	switch {
	case errors.As(err, &ne):
		return bot.Errorf("%s", ne.Explain())
	case errors.As(err, &p):
		return bot.Errorf("%s", p.msg)
	case errors.Is(err, store.ErrNotFound):
		return bot.Errorf("%s.", upperFirst(lastReason(err, store.ErrNotFound)))
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrLastAdmin):
		return bot.Errorf("Refused: %s.", lastReason(err, nil))
	}
	return s.internal(ctx, req, err)
}

// internal logs an unexpected error and answers without details.
func (s *Set) internal(ctx context.Context, req *bot.Request, err error) bot.Reply {
	s.log.ErrorContext(ctx, "command failed", "command", req.Command, "user", req.User.String(), "err", err)
	if errors.Is(err, store.ErrDisk) {
		return bot.Errorf("The store cannot be written right now; nothing was changed. Please tell the operator.")
	}
	return bot.Errorf("Something went wrong on our side; nothing was changed. Please try again.")
}

// lastReason extracts the user-facing tail of a wrapped store error: the text after
// the last "invalid: " or similar marker, or the whole message.
func lastReason(err, sentinel error) string {
	msg := err.Error()
	for _, marker := range []string{store.ErrInvalid.Error() + ": ", store.ErrExists.Error() + ": ", store.ErrLastAdmin.Error() + ": "} {
		if i := strings.LastIndex(msg, marker); i >= 0 {
			return msg[i+len(marker):]
		}
	}
	if sentinel != nil {
		// "edit update 99: update 99: not found" → "update 99 not found"
		parts := strings.Split(msg, ": ")
		if len(parts) >= 2 {
			return parts[len(parts)-2] + " " + parts[len(parts)-1]
		}
	}
	return msg
}

// upperFirst capitalises the first letter.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// usage is a command's syntax line.
func usage(c bot.Command) string {
	return strings.TrimSpace("/" + c.Name + " " + c.Usage)
}

// unknown answers a command the router does not have, suggesting the closest.
func (s *Set) unknown(ctx context.Context, req *bot.Request) bot.Reply {
	var known []string
	for _, c := range s.router.Commands() {
		known = append(known, c.Name)
	}
	cands := names.Closest(req.Command, known, 1, 2)
	if len(cands) > 0 {
		return bot.Errorf("Unknown command /%s. Did you mean /%s? /help lists them all.", clip(req.Command, 32), cands[0].Key)
	}
	return bot.Errorf("Unknown command /%s. /help lists them all.", clip(req.Command, 32))
}
