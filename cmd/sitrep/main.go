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
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	_ "time/tzdata" // Myanmar time in a minimal container

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/bot/console"
	"github.com/sitrep-bot/sitrep/bot/discord"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
	"golang.org/x/term"
	"golang.org/x/time/rate"
)

//go:embed demo.txt
var demoScript string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	discord.UseDefaultLogger() // serve makes its logger the default
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

  sitrep export    write every update as JSON lines or CSV
  sitrep import    read updates exported as JSON lines
  sitrep backup    a consistent copy of the store
  sitrep check     check the store's integrity

Configuration is environment variables, each with a flag override; see
sitrep <subcommand> --help for each subcommand's settings and defaults.
`

// newLogger returns a structured logger on w at cfg's level: JSON, or text when w is
// a terminal and the format is auto.
func newLogger(w io.Writer, cfg config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // checked by parseConfig
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration { // "1.5s", not nanoseconds
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
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
	cfg, err := loadConfig(name, args[1:], stdout, stderr, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg)
	switch name {
	case "demo":
		return runDemo(ctx, cfg, stdin, stdout, log)
	case "console":
		return runConsole(ctx, cfg, stdin, stdout, log)
	}
	return runServe(ctx, cfg, log)
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
