// Command sitrep is a chat bot that keeps Telegram groups and Discord servers informed
// about a fast-moving armed conflict. See README.md.
//
// Usage:
//
//	sitrep demo      a local console on a temporary store with demo updates
//	sitrep console   a local admin console on SITREP_DB
//	sitrep serve     the chat adapters whose tokens are configured
package main

import (
	"context"
	"crypto/ed25519"
	_ "embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // Myanmar time in a minimal container

	"github.com/bwmarrin/discordgo"
	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/bot/console"
	"github.com/sitrep-bot/sitrep/bot/discord"
	"github.com/sitrep-bot/sitrep/bot/telegram"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
	"golang.org/x/term"
	"golang.org/x/time/rate"
)

//go:embed demo.txt
var demoScript string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sitrep:", err)
		os.Exit(1)
	}
}

const usageText = `sitrep: conflict updates for Telegram and Discord, from an embedded store.

Usage:
  sitrep demo      chat with sitrep on a temporary store loaded with Operation 1027 updates
  sitrep console   a local admin session on stdin/stdout against SITREP_DB
  sitrep serve     run the chat adapters whose tokens are set

Flags (after the subcommand; they override the environment):
  -db PATH         bbolt store (SITREP_DB, default ./sitrep.db)
  -admins LIST     comma-separated admin identities, telegram:<id> or discord:<id> (SITREP_ADMINS)
  -log-level L     debug, info, warn or error (SITREP_LOG_LEVEL, default info; warn for demo and console)
  -console-rate R  pushed messages a second in demo and console (SITREP_CONSOLE_RATE, default unlimited)

Every secret may also be given as NAME_FILE, a path to a file holding it.
`

// config is what the environment and flags say.
type config struct {
	DB          string
	Admins      []string
	LogLevel    string
	ConsoleRate float64 // pushed messages a second in the console; 0 is unlimited
	HTTPAddr    string  // health and webhooks (SITREP_HTTP_ADDR)
	// Delivery limits per platform: the platforms' documented limits, changed by
	// SITREP_TELEGRAM_LIMITS and SITREP_DISCORD_LIMITS ("global=25/s,group=20/min").
	TelegramLimits, DiscordLimits bot.Limits
}

// loadConfig reads the environment, then the subcommand's flags.
func loadConfig(name string, args []string, stderr io.Writer, getenv func(string) string) (config, error) {
	cfg := config{DB: "./sitrep.db", LogLevel: "info"}
	if name == "demo" || name == "console" {
		cfg.LogLevel = "warn"
	}
	if v := getenv("SITREP_DB"); v != "" {
		cfg.DB = v
	}
	cfg.HTTPAddr = getenv("SITREP_HTTP_ADDR")
	if v := getenv("SITREP_LOG_LEVEL"); v != "" {
		cfg.LogLevel = v
	}
	admins := getenv("SITREP_ADMINS")
	fs := flag.NewFlagSet("sitrep "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	fs.StringVar(&cfg.DB, "db", cfg.DB, "bbolt store path")
	fs.StringVar(&admins, "admins", admins, "comma-separated admin identities")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level")
	if v := getenv("SITREP_CONSOLE_RATE"); v != "" {
		if _, err := fmt.Sscan(v, &cfg.ConsoleRate); err != nil {
			return cfg, fmt.Errorf("SITREP_CONSOLE_RATE %q: %w", v, err)
		}
	}
	fs.Float64Var(&cfg.ConsoleRate, "console-rate", cfg.ConsoleRate, "pushed messages a second in the console (0: unlimited)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see sitrep --help)", fs.Arg(0))
	}
	var err error
	if cfg.TelegramLimits, err = bot.ParseLimits(getenv("SITREP_TELEGRAM_LIMITS"), bot.TelegramLimits()); err != nil {
		return cfg, fmt.Errorf("SITREP_TELEGRAM_LIMITS: %w", err)
	}
	if cfg.DiscordLimits, err = bot.ParseLimits(getenv("SITREP_DISCORD_LIMITS"), bot.DiscordLimits()); err != nil {
		return cfg, fmt.Errorf("SITREP_DISCORD_LIMITS: %w", err)
	}
	for _, a := range strings.Split(admins, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Admins = append(cfg.Admins, a)
		}
	}
	return cfg, nil
}

// newLogger returns a structured logger on w at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// run is the whole program, parameterised for tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return errors.New("no subcommand")
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return nil
	case "demo", "console", "serve":
	case "export", "import", "backup", "check":
		return runData(ctx, name, args[1:], stdin, stdout, stderr, getenv)
	default:
		fmt.Fprint(stderr, usageText)
		return fmt.Errorf("unknown subcommand %q", name)
	}
	cfg, err := loadConfig(name, args[1:], stderr, getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	switch name {
	case "demo":
		return runDemo(ctx, cfg, stdin, stdout, log)
	case "console":
		return runConsole(ctx, cfg, stdin, stdout, log)
	}
	return runServe(ctx, cfg, getenv, log)
}

// consoleUser is the identity of whoever runs the console: a local admin.
func consoleUser() bot.Identity {
	name := "local"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return bot.Identity{Platform: console.Platform, UserID: name, Name: name}
}

// runConsole is a local admin session on the configured store.
func runConsole(ctx context.Context, cfg config, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	st, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	return session(ctx, st, cfg, stdin, stdout, log, nil)
}

// session runs a console session as a local admin, with a dispatcher that prints what
// is pushed to console chats. prepare, if set, runs first on the command set (the demo
// loads its updates). At the end of input it waits for pushes that are due to go out,
// then stops the dispatcher.
func session(ctx context.Context, st *store.Store, cfg config, stdin io.Reader, stdout io.Writer, log *slog.Logger,
	prepare func(context.Context, bot.Handler, bot.Identity) error) error {
	me := consoleUser()
	out := console.NewOutput(stdout)
	var disp *bot.Dispatcher
	set := commands.New(st, commands.Options{Admins: append(cfg.Admins, me.String()), Logger: log, Enqueued: func() { disp.Wake() }})
	pusher := &console.Pusher{Out: out, Rate: rate.Limit(cfg.ConsoleRate)}
	disp = bot.NewDispatcher(pusher, outbox{st}, set.RenderDelivery, bot.DispatcherConfig{Logger: log})
	if prepare != nil {
		if err := prepare(ctx, set, me); err != nil {
			return err
		}
	}
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- disp.Run(dctx) }()

	s := &console.Session{Handler: set, In: stdin, Out: out, User: me}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		s.Prompt = "> " // a person is typing (not /dev/null, a pipe or a file)
	}
	err := s.Run(ctx)
	if err == nil {
		err = disp.WaitIdle(ctx)
	}
	stop()
	if derr := <-done; err == nil {
		err = derr
	}
	return err
}

// runDemo loads the bundled demo updates into a temporary store and starts a console
// on it.
func runDemo(ctx context.Context, cfg config, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "sitrep-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "demo.db"), store.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer st.Close()
	return session(ctx, st, cfg, stdin, stdout, log, func(ctx context.Context, h bot.Handler, me bot.Identity) error {
		if err := loadDemo(ctx, h, me); err != nil {
			return err
		}
		n, err := st.Count(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sitrep demo: a temporary store with %d updates from the first months of Operation 1027.\n"+
			"You are an admin, and this console is subscribed to all updates: what you /post is pushed back here.\n"+
			"Try /latest, /town Hsenwi, /claims MNDAA, /help. End of input quits.\n\n", n)
		return nil
	})
}

// loadDemo runs the bundled demo script as a moderator would type it.
func loadDemo(ctx context.Context, h bot.Handler, me bot.Identity) error {
	chat := bot.Chat{Platform: console.Platform, ID: me.UserID, Kind: bot.Private}
	for i, line := range strings.Split(demoScript, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, args, ok := bot.ParseCommand(line, "")
		if !ok {
			return fmt.Errorf("demo script line %d: not a command", i+1)
		}
		req := &bot.Request{Command: name, Text: args, User: me, Chat: chat, ChatManager: true}
		if r := h.Serve(ctx, req); r.Tone == bot.Error {
			return fmt.Errorf("demo script line %d: %s", i+1, strings.TrimSpace(bot.PlainText(r)))
		}
	}
	return nil
}

// secret reads a secret from NAME or from the file named by NAME_FILE.
func secret(getenv func(string) string, name string) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	path := getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// runServe runs the configured chat adapters, each with its delivery dispatcher,
// until ctx ends.
func runServe(ctx context.Context, cfg config, getenv func(string) string, log *slog.Logger) error {
	tgToken, err := secret(getenv, "SITREP_TELEGRAM_TOKEN")
	if err != nil {
		return err
	}
	dcToken, err := secret(getenv, "SITREP_DISCORD_TOKEN")
	if err != nil {
		return err
	}
	if tgToken == "" && dcToken == "" {
		return errors.New("serve: no platform is configured: set SITREP_TELEGRAM_TOKEN or SITREP_DISCORD_TOKEN (try `sitrep demo` to run without one)")
	}
	st, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	var dispatchers []*bot.Dispatcher
	set := commands.New(st, commands.Options{Admins: cfg.Admins, Logger: log, Enqueued: func() {
		for _, d := range dispatchers {
			d.Wake()
		}
	}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	var tasks []func(context.Context) error
	var senders []bot.Sender
	if tgToken != "" {
		sender, task, err := startTelegram(ctx, cfg, getenv, log, st, set, mux, tgToken)
		if err != nil {
			return err
		}
		senders = append(senders, sender)
		if task != nil {
			tasks = append(tasks, task)
		}
	}
	if dcToken != "" {
		sender, task, err := startDiscord(cfg, getenv, log, set, mux, dcToken)
		if err != nil {
			return err
		}
		senders = append(senders, sender)
		if task != nil {
			tasks = append(tasks, task)
		}
	}
	for _, sender := range senders {
		d := bot.NewDispatcher(sender, outbox{st}, set.RenderDelivery, bot.DispatcherConfig{Logger: log})
		dispatchers = append(dispatchers, d)
		tasks = append(tasks, d.Run)
	}
	if cfg.HTTPAddr != "" {
		srv := &http.Server{Addr: cfg.HTTPAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		tasks = append(tasks, func(ctx context.Context) error { return serveHTTP(ctx, srv) })
	}
	log.Info("serving", "platforms", len(senders), "db", cfg.DB, "admins", len(cfg.Admins), "http", cfg.HTTPAddr)
	errs := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errs <- task(ctx) }()
	}
	var all []error
	for range tasks {
		all = append(all, <-errs)
	}
	log.Info("stopped")
	return errors.Join(all...)
}

// startTelegram connects the Telegram adapter: long polling (its task) or, with
// SITREP_TELEGRAM_WEBHOOK_URL, a webhook on the HTTP server (no task).
func startTelegram(ctx context.Context, cfg config, getenv func(string) string, log *slog.Logger, st *store.Store, set *commands.Set, mux *http.ServeMux, token string) (bot.Sender, func(context.Context) error, error) {
	tg, err := telegram.New(ctx, telegram.Config{
		Token: token, Endpoint: getenv("SITREP_TELEGRAM_API_ENDPOINT"), Limits: cfg.TelegramLimits,
		Cursor: st, Commands: set.Router().Commands(), Completer: set, Logger: log,
	}, set)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	tg.RegisterCommands()
	log.Info("telegram connected", "bot", "@"+tg.Username())
	hook := getenv("SITREP_TELEGRAM_WEBHOOK_URL")
	if hook == "" {
		return tg, tg.Run, nil
	}
	secretToken, err := secret(getenv, "SITREP_TELEGRAM_WEBHOOK_SECRET")
	if err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(hook)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		return nil, nil, fmt.Errorf("SITREP_TELEGRAM_WEBHOOK_URL %q: want an https URL", hook)
	case secretToken == "":
		return nil, nil, errors.New("SITREP_TELEGRAM_WEBHOOK_URL needs SITREP_TELEGRAM_WEBHOOK_SECRET")
	case cfg.HTTPAddr == "":
		return nil, nil, errors.New("SITREP_TELEGRAM_WEBHOOK_URL needs SITREP_HTTP_ADDR to listen on")
	}
	mux.Handle("POST "+cmpOr(u.Path, "/"), tg.Webhook(ctx, secretToken))
	if err := tg.SetWebhook(hook, secretToken); err != nil {
		return nil, nil, err
	}
	return tg, nil, nil
}

// startDiscord connects the Discord adapter over REST (every call to
// SITREP_DISCORD_API_ENDPOINT when set) and registers the slash commands with one bulk
// overwrite (in SITREP_DISCORD_GUILD when set). It answers interactions on
// /discord/interactions when SITREP_DISCORD_PUBLIC_KEY is set, and otherwise through
// the gateway (its task).
func startDiscord(cfg config, getenv func(string) string, log *slog.Logger, set *commands.Set, mux *http.ServeMux, token string) (bot.Sender, func(context.Context) error, error) {
	session, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: discord: %w", err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	if base := getenv("SITREP_DISCORD_API_ENDPOINT"); base != "" {
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return nil, nil, fmt.Errorf("SITREP_DISCORD_API_ENDPOINT %q: want a base URL", base)
		}
		client.Transport = discord.Rewrite{Base: u}
	}
	session.Client = client
	me, err := session.User("@me")
	if err != nil {
		return nil, nil, fmt.Errorf("serve: discord: who am I: %w", err)
	}
	guild := getenv("SITREP_DISCORD_GUILD")
	if _, err := session.ApplicationCommandBulkOverwrite(me.ID, guild, discord.ApplicationCommands(set.Router().Commands())); err != nil {
		log.Warn("discord command registration failed; the command list may be stale", "err", err)
	}
	x := &discord.Interactions{Handler: set, Completer: set, Commands: set.Router().Commands(), Session: session, Logger: log}
	var task func(context.Context) error
	if key := getenv("SITREP_DISCORD_PUBLIC_KEY"); key != "" {
		pub, err := hex.DecodeString(key)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, nil, errors.New("SITREP_DISCORD_PUBLIC_KEY: want the application's hex public key")
		}
		if cfg.HTTPAddr == "" {
			return nil, nil, errors.New("SITREP_DISCORD_PUBLIC_KEY needs SITREP_HTTP_ADDR to listen on")
		}
		x.PublicKey = pub
		mux.Handle("POST /discord/interactions", x)
	} else {
		task = func(ctx context.Context) error { return discord.RunGateway(ctx, session, x, log) }
	}
	log.Info("discord connected", "bot", me.Username, "guild", guild, "gateway", task != nil)
	return &discord.Sender{Session: session, Rates: cfg.DiscordLimits}, task, nil
}

// cmpOr returns a unless it is empty, else b.
func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// serveHTTP runs srv until ctx ends, then shuts it down gracefully.
func serveHTTP(ctx context.Context, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("http %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
