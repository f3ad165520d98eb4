package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/bot/discord"
	"github.com/sitrep-bot/sitrep/bot/telegram"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/commands/feed"
	"github.com/sitrep-bot/sitrep/store"
)

// connectFunc connects one chat platform. It returns the platform's sender for the
// delivery dispatcher and, when the platform needs one, a task that receives updates
// until ctx ends or the connection fails.
type connectFunc func(ctx context.Context) (bot.Sender, func(context.Context) error, error)

// platform is one configured chat platform in serve.
type platform struct {
	name    string
	connect connectFunc
	state   *componentState
}

// dispatchers are the running delivery dispatchers, woken when a post is queued.
type dispatchers struct {
	mu   sync.Mutex
	list []*bot.Dispatcher
}

func (ds *dispatchers) add(d *bot.Dispatcher) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	ds.list = append(ds.list, d)
}

func (ds *dispatchers) remove(d *bot.Dispatcher) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for i, x := range ds.list {
		if x == d {
			ds.list = append(ds.list[:i], ds.list[i+1:]...)
			return
		}
	}
}

// wake tells every dispatcher that deliveries were queued.
func (ds *dispatchers) wake() {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for _, d := range ds.list {
		d.Wake()
	}
}

// swapHandler is an HTTP route whose handler is set once its platform has connected;
// until then it answers 503.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "not connected yet", http.StatusServiceUnavailable)
}

// runServe runs the configured chat platforms, each with its delivery dispatcher and
// retried with backoff when it fails, and the HTTP server, until ctx ends; then it
// finishes the sends in flight within cfg.Shutdown.
func runServe(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.TelegramToken == "" && cfg.DiscordToken == "" {
		return errors.New("serve: no chat platform is configured: set SITREP_TELEGRAM_TOKEN or SITREP_DISCORD_TOKEN " +
			"(or their _FILE variants; see sitrep serve --help). `sitrep demo` runs without any token")
	}
	// Libraries that log through the standard logger or slog's default (discordgo,
	// through discord.UseDefaultLogger) write to the same structured log.
	slog.SetDefault(log)
	st, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer st.Close()

	var ds dispatchers
	set := commands.New(st, commands.Options{Admins: cfg.Admins, Logger: log, Enqueued: ds.wake})
	health := &healthCheck{store: st}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health)
	mux.HandleFunc("GET /livez", health.liveness)
	feeds := feed.Options{Logger: log}
	if cfg.PublicURL != nil {
		feeds.BaseURL = cfg.PublicURL.String() // ids are tag: URIs under its host
	} else {
		// Entry ids must not change with the Host a feed is fetched under: without a
		// public URL they are made under the store's own identity.
		id, err := st.Identity(ctx)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		feeds.TagAuthority = strings.ToLower(id) + ".sitrep.invalid"
	}
	if err := feeds.Validate(); err != nil {
		return fmt.Errorf("serve: SITREP_PUBLIC_URL: %w", err)
	}
	feed.New(st, feeds).Register(mux)
	if cfg.AdminToken != "" {
		mux.Handle("GET /admin/backup", backupHandler(st, cfg.AdminToken, log))
	}

	var platforms []*platform
	if cfg.TelegramToken != "" {
		p := &platform{name: telegram.Platform, state: health.component(telegram.Platform)}
		p.connect = telegramConnector(cfg, log, st, set, mux, p.state)
		platforms = append(platforms, p)
	}
	if cfg.DiscordToken != "" {
		p := &platform{name: discord.Platform, state: health.component(discord.Platform)}
		p.connect = discordConnector(cfg, log, set, mux, p.state)
		platforms = append(platforms, p)
	}
	var names []string
	for _, p := range platforms {
		names = append(names, p.name)
	}
	met := newMetrics(st, names)
	mux.Handle("GET /metrics", met.handler())
	set.Router().Use(met.middleware(log, func(name string) bool { _, ok := set.Router().Lookup(name); return ok }))

	var tasks []func(context.Context) error
	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("serve: SITREP_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		tasks = append(tasks, func(ctx context.Context) error { return serveHTTP(ctx, srv, ln) })
	}
	for _, p := range platforms {
		tasks = append(tasks, func(ctx context.Context) error {
			return superviseAdapter(ctx, p, log.With("platform", p.name), func(sender bot.Sender) *bot.Dispatcher {
				return bot.NewDispatcher(sender, outbox{st}, set.RenderDelivery, bot.DispatcherConfig{Logger: log})
			}, &ds)
		})
	}
	log.Info("serving", "platforms", len(platforms), "db", cfg.DB, "admins", len(cfg.Admins), "http", cfg.HTTPAddr)
	errs := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errs <- task(ctx) }()
	}
	var all []error
	var deadline <-chan time.Time
	for pending := len(tasks); pending > 0; {
		select {
		case err := <-errs:
			pending--
			if err != nil {
				all = append(all, err)
			}
		case <-ctx.Done():
			if deadline == nil {
				log.Info("stopping: finishing sends in flight", "within", cfg.Shutdown)
				t := time.NewTimer(cfg.Shutdown)
				defer t.Stop()
				deadline = t.C
			}
		case <-deadline:
			return fmt.Errorf("serve: shutdown took longer than %s; %d tasks still running (SITREP_SHUTDOWN_TIMEOUT)", cfg.Shutdown, pending)
		}
		if ctx.Err() == nil && len(all) > 0 {
			// The HTTP server failed: stop the rest rather than run half a service.
			return errors.Join(all...)
		}
	}
	log.Info("stopped")
	return errors.Join(all...)
}

// superviseAdapter connects a platform and runs its update task and its delivery
// dispatcher until ctx ends. A failed connection or task is retried with backoff, and
// the other platforms go on meanwhile. On shutdown the dispatcher finishes its sends
// in flight before this returns.
func superviseAdapter(ctx context.Context, p *platform, log *slog.Logger, newDispatcher func(bot.Sender) *bot.Dispatcher, ds *dispatchers) error {
	for failures := 0; ctx.Err() == nil; {
		p.state.set(stateConnecting, nil)
		sender, run, err := p.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait := bot.Backoff(failures, time.Second, 5*time.Minute)
			p.state.set(stateFailing, err)
			if errors.Is(err, bot.ErrUnauthorized) {
				log.Error("the platform refused the token: check SITREP_"+strings.ToUpper(p.name)+"_TOKEN; retrying",
					"err", err, "attempt", failures, "retry_in", wait.Round(time.Millisecond))
			} else {
				log.Error("connect failed; retrying", "err", err, "attempt", failures, "retry_in", wait.Round(time.Millisecond))
			}
			bot.Sleep(ctx, wait)
			continue
		}
		failures = 0
		p.state.set(stateRunning, nil)
		d := newDispatcher(sender)
		ds.add(d)
		dctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(dctx) }()
		if run != nil {
			err = run(ctx)
		} else {
			<-ctx.Done()
		}
		if ctx.Err() != nil { // shutting down: let the dispatcher finish
			derr := <-done
			stop()
			return derr
		}
		stop()
		<-done
		ds.remove(d)
		if err == nil {
			err = errors.New("stopped receiving updates")
		}
		failures++
		wait := bot.Backoff(failures, time.Second, 5*time.Minute)
		p.state.set(stateFailing, err)
		log.Error("connection lost; reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
		bot.Sleep(ctx, wait)
	}
	return nil
}

// telegramConnector connects the Telegram adapter: long polling (its task) or, with
// SITREP_TELEGRAM_WEBHOOK_URL, a webhook on the HTTP server (no task).
func telegramConnector(cfg config, log *slog.Logger, st *store.Store, set *commands.Set, mux *http.ServeMux, state *componentState) connectFunc {
	var hook swapHandler
	if cfg.TelegramWebhook != "" {
		u, _ := url.Parse(cfg.TelegramWebhook) // checked by parseConfig
		mux.Handle("POST "+cmp.Or(u.Path, "/"), &hook)
	}
	return func(ctx context.Context) (bot.Sender, func(context.Context) error, error) {
		tg, err := telegram.New(ctx, telegram.Config{
			Token: cfg.TelegramToken, Endpoint: cfg.TelegramEndpoint, Limits: cfg.TelegramLimits,
			Cursor: st, Commands: set.Router().Commands(), Completer: set, Logger: log,
			Polled: func(err error) {
				if err != nil {
					state.set(stateFailing, err)
				} else {
					state.set(stateRunning, nil)
				}
			},
		}, set)
		if err != nil {
			return nil, nil, err
		}
		tg.RegisterCommands(ctx)
		log.Info("telegram connected", "bot", "@"+tg.Username(), "webhook", cfg.TelegramWebhook != "")
		if cfg.TelegramWebhook == "" {
			return tg, tg.Run, nil
		}
		if err := tg.SetWebhook(ctx, cfg.TelegramWebhook, cfg.TelegramSecret); err != nil {
			return nil, nil, err
		}
		hook.set(tg.Webhook(ctx, cfg.TelegramSecret))
		return tg, nil, nil
	}
}

// discordConnector connects the Discord adapter over REST (every call to
// SITREP_DISCORD_API_ENDPOINT when set) and registers the slash commands with one bulk
// overwrite (in SITREP_DISCORD_GUILD when set). It answers interactions on
// /discord/interactions when SITREP_DISCORD_PUBLIC_KEY is set, and otherwise through
// the gateway (its task).
func discordConnector(cfg config, log *slog.Logger, set *commands.Set, mux *http.ServeMux, state *componentState) connectFunc {
	var endpoint swapHandler
	if cfg.DiscordPublicKey != nil {
		mux.Handle("POST /discord/interactions", &endpoint)
	}
	return func(ctx context.Context) (bot.Sender, func(context.Context) error, error) {
		dc, err := discord.Connect(ctx, discord.Config{
			Token: cfg.DiscordToken, API: cfg.DiscordAPI, Guild: cfg.DiscordGuild,
			Commands: set.Router().Commands(), Logger: log,
		})
		if err != nil {
			return nil, nil, err
		}
		session := dc.Session
		x := &discord.Interactions{Handler: set, Completer: set, Commands: set.Router().Commands(), Session: session, Logger: log}
		var task func(context.Context) error
		if cfg.DiscordPublicKey != nil {
			x.PublicKey = cfg.DiscordPublicKey
			endpoint.set(x)
		} else {
			task = func(ctx context.Context) error { return discord.RunGateway(ctx, session, x, log) }
		}
		log.Info("discord connected", "bot", dc.Me.Username, "guild", cfg.DiscordGuild, "gateway", task != nil)
		return &discord.Sender{Session: session, Rates: cfg.DiscordLimits}, task, nil
	}
}

// serveHTTP serves srv on ln until ctx ends, then shuts it down gracefully.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
