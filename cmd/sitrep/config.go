package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
)

// setting is one configuration value: an environment variable, the flag that overrides
// it, and for secrets a NAME_FILE variant holding a path to a file with the value.
type setting struct {
	env     string // SITREP_…
	flag    string // flag name without the dash
	def     string // default, as text
	usage   string
	secret  bool   // never printed; also read from NAME_FILE and -flag-file
	only    string // subcommands that use it ("serve", "console demo"); empty: all
	example string // the value's shape in --help ("PATH", "ADDR")
}

// webhookSecret is what Telegram accepts as a webhook's secret_token.
var webhookSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// settings lists every configuration value sitrep reads, in the order --help shows them.
func settings() []setting {
	return []setting{
		{env: "SITREP_DB", flag: "db", def: "./sitrep.db", example: "PATH", usage: "bbolt store file", only: "console serve"},
		{env: "SITREP_ADMINS", flag: "admins", example: "LIST", usage: "comma-separated admin identities: telegram:<user id>, discord:<user id>"},
		{env: "SITREP_LOG_LEVEL", flag: "log-level", def: "info", example: "LEVEL", usage: "debug, info, warn or error (demo and console: warn)"},
		{env: "SITREP_LOG_FORMAT", flag: "log-format", def: "auto", example: "FORMAT", usage: "json, text, or auto (JSON unless stderr is a terminal)"},
		{env: "SITREP_CONSOLE_RATE", flag: "console-rate", def: "0", example: "N", usage: "pushed messages a second in the console (0: unlimited)", only: "console demo"},
		{env: "SITREP_HTTP_ADDR", flag: "http-addr", def: "127.0.0.1:8080", example: "ADDR", usage: "health, metrics, feeds and webhooks (off: no HTTP server)", only: "serve"},
		{env: "SITREP_PUBLIC_URL", flag: "public-url", example: "URL", usage: "the public base URL of the HTTP server, for feed links (default: from each request)", only: "serve"},
		{env: "SITREP_ADMIN_TOKEN", flag: "admin-token", secret: true, example: "TOKEN", usage: "bearer token for admin HTTP endpoints such as /admin/backup (unset: they are off)", only: "serve"},
		{env: "SITREP_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "10s", example: "DURATION", usage: "how long a shutdown may take to finish sends in flight", only: "serve"},
		{env: "SITREP_TELEGRAM_TOKEN", flag: "telegram-token", secret: true, example: "TOKEN", usage: "Telegram bot token from @BotFather (enables Telegram)", only: "serve"},
		{env: "SITREP_TELEGRAM_API_ENDPOINT", flag: "telegram-api-endpoint", example: "URL", usage: "Bot API endpoint in tgbotapi's format …/bot%s/%s (default: the public Bot API)", only: "serve"},
		{env: "SITREP_TELEGRAM_WEBHOOK_URL", flag: "telegram-webhook-url", example: "URL", usage: "https URL Telegram posts updates to (unset: long polling)", only: "serve"},
		{env: "SITREP_TELEGRAM_WEBHOOK_SECRET", flag: "telegram-webhook-secret", secret: true, example: "SECRET", usage: "secret Telegram sends with each webhook request", only: "serve"},
		{env: "SITREP_TELEGRAM_LIMITS", flag: "telegram-limits", example: "LIMITS", usage: "delivery rates, e.g. global=25/s,chat=1/s,group=20/min (default: Telegram's documented limits)", only: "serve"},
		{env: "SITREP_DISCORD_TOKEN", flag: "discord-token", secret: true, example: "TOKEN", usage: "Discord bot token (enables Discord)", only: "serve"},
		{env: "SITREP_DISCORD_GUILD", flag: "discord-guild", example: "ID", usage: "register slash commands in this guild only (unset: globally)", only: "serve"},
		{env: "SITREP_DISCORD_API_ENDPOINT", flag: "discord-api-endpoint", example: "URL", usage: "base URL replacing https://discord.com, e.g. a rate-limit proxy", only: "serve"},
		{env: "SITREP_DISCORD_PUBLIC_KEY", flag: "discord-public-key", example: "HEX", usage: "application public key: answer interactions over HTTP at /discord/interactions instead of the gateway", only: "serve"},
		{env: "SITREP_DISCORD_LIMITS", flag: "discord-limits", example: "LIMITS", usage: "delivery rates (default: Discord's limits)", only: "serve"},
	}
}

// usedBy reports whether the setting applies to subcommand name.
func (s setting) usedBy(name string) bool {
	return s.only == "" || strings.Contains(" "+s.only+" ", " "+name+" ")
}

// config is what the environment and flags say, parsed and checked.
type config struct {
	DB          string
	Admins      []string
	LogLevel    string
	LogFormat   string
	ConsoleRate float64       // pushed messages a second in the console; 0 is unlimited
	HTTPAddr    string        // health, metrics, feeds and webhooks; "" is none
	PublicURL   *url.URL      // base of feed links; nil: from the request
	AdminToken  string        // admin HTTP endpoints; "" turns them off
	Shutdown    time.Duration // how long stopping may take

	TelegramToken, TelegramEndpoint, TelegramWebhook, TelegramSecret string
	DiscordToken, DiscordGuild                                       string
	DiscordAPI                                                       *url.URL // nil: discord.com
	DiscordPublicKey                                                 ed25519.PublicKey

	// Delivery limits per platform: the platforms' documented limits, changed by
	// SITREP_TELEGRAM_LIMITS and SITREP_DISCORD_LIMITS ("global=25/s,group=20/min").
	TelegramLimits, DiscordLimits bot.Limits
}

// writeUsage prints the subcommand's settings with their variables and defaults.
func writeUsage(w io.Writer, name string) {
	fmt.Fprintf(w, "Usage: sitrep %s [flags]\n\n", name)
	switch name {
	case "serve":
		fmt.Fprintln(w, "Runs the chat adapters whose tokens are set, their delivery workers and the HTTP server.")
	case "console":
		fmt.Fprintln(w, "A local admin session on stdin/stdout against the store.")
	case "demo":
		fmt.Fprintln(w, "A console on a temporary store loaded with Operation 1027 updates; needs no token.")
	}
	fmt.Fprintln(w, "\nEvery setting is an environment variable; the flag overrides it. Secrets may also be\ngiven as NAME_FILE (or -flag-file), a path to a file holding the value.")
	fmt.Fprintln(w)
	for _, s := range settings() {
		if !s.usedBy(name) {
			continue
		}
		env := s.env
		if s.secret {
			env += " or " + s.env + "_FILE"
		}
		if s.def != "" {
			env += ", default " + s.def
		}
		fmt.Fprintf(w, "  -%s %s  (%s)\n      %s\n", s.flag, s.example, env, s.usage)
	}
}

// loadConfig reads the settings of subcommand name from the environment, then its
// flags, and checks every value. An error names the variable at fault and never
// quotes a secret.
func loadConfig(name string, args []string, stdout, stderr io.Writer, getenv func(string) string) (config, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			writeUsage(stdout, name) // asked for: on standard output, so that it pages
			return config{}, flag.ErrHelp
		}
	}
	raw := map[string]string{}
	fs := flag.NewFlagSet("sitrep "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { writeUsage(stderr, name) }
	vals := map[string]*string{}
	files := map[string]*string{}
	for _, s := range settings() {
		if !s.usedBy(name) {
			continue
		}
		v := s.def
		if name != "serve" && s.env == "SITREP_LOG_LEVEL" {
			v = "warn" // a console is for people: only what goes wrong
		}
		if e := getenv(s.env); e != "" {
			v = e
		}
		vals[s.env] = fs.String(s.flag, v, s.usage)
		if s.secret {
			files[s.env] = fs.String(s.flag+"-file", getenv(s.env+"_FILE"), "file holding "+s.env)
		}
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (see sitrep %s --help)", fs.Arg(0), name)
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, s := range settings() {
		if !s.usedBy(name) {
			continue
		}
		v := *vals[s.env]
		// A secret given as a file is read unless a value was given directly.
		if s.secret && *files[s.env] != "" && (v == "" || explicit[s.flag+"-file"] && !explicit[s.flag]) {
			data, err := os.ReadFile(*files[s.env])
			if err != nil {
				return config{}, fmt.Errorf("%s_FILE: %w", s.env, err)
			}
			v = strings.TrimSpace(string(data))
		}
		raw[s.env] = v
	}
	return parseConfig(raw)
}

// parseConfig turns raw setting values into a config, rejecting invalid ones with the
// variable's name.
func parseConfig(raw map[string]string) (config, error) {
	cfg := config{
		DB: raw["SITREP_DB"], LogLevel: raw["SITREP_LOG_LEVEL"], LogFormat: raw["SITREP_LOG_FORMAT"],
		AdminToken:    raw["SITREP_ADMIN_TOKEN"],
		TelegramToken: raw["SITREP_TELEGRAM_TOKEN"], TelegramSecret: raw["SITREP_TELEGRAM_WEBHOOK_SECRET"],
		DiscordToken: raw["SITREP_DISCORD_TOKEN"], DiscordGuild: raw["SITREP_DISCORD_GUILD"],
		Shutdown: 10 * time.Second,
	}
	bad := func(env, why string) error {
		return fmt.Errorf("%s: %s", env, why)
	}
	if _, ok := raw["SITREP_DB"]; ok && cfg.DB == "" {
		return cfg, bad("SITREP_DB", "want a file path")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return cfg, bad("SITREP_LOG_LEVEL", fmt.Sprintf("%q: want debug, info, warn or error", cfg.LogLevel))
	}
	switch cfg.LogFormat {
	case "auto", "json", "text":
	default:
		return cfg, bad("SITREP_LOG_FORMAT", fmt.Sprintf("%q: want json, text or auto", cfg.LogFormat))
	}
	for _, a := range strings.Split(raw["SITREP_ADMINS"], ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		platform, id, ok := strings.Cut(a, ":")
		if !ok || platform == "" || id == "" || strings.ContainsAny(id, " \t") {
			return cfg, bad("SITREP_ADMINS", fmt.Sprintf("%q: want platform:<user id>, e.g. telegram:123456", a))
		}
		cfg.Admins = append(cfg.Admins, a)
	}
	if v, ok := raw["SITREP_CONSOLE_RATE"]; ok {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 {
			return cfg, bad("SITREP_CONSOLE_RATE", fmt.Sprintf("%q: want a number of messages a second, 0 for unlimited", v))
		}
		cfg.ConsoleRate = r
	}
	if v, ok := raw["SITREP_HTTP_ADDR"]; ok && v != "off" && v != "" {
		_, port, err := net.SplitHostPort(v)
		if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
			return cfg, bad("SITREP_HTTP_ADDR", fmt.Sprintf("%q: want host:port such as 127.0.0.1:8080, or off", v))
		}
		cfg.HTTPAddr = v
	}
	if v := raw["SITREP_PUBLIC_URL"]; v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, bad("SITREP_PUBLIC_URL", fmt.Sprintf("%q: want an absolute http(s) URL", v))
		}
		cfg.PublicURL = u
	}
	if v, ok := raw["SITREP_SHUTDOWN_TIMEOUT"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return cfg, bad("SITREP_SHUTDOWN_TIMEOUT", fmt.Sprintf("%q: want a duration such as 10s", v))
		}
		cfg.Shutdown = d
	}
	if v := raw["SITREP_TELEGRAM_API_ENDPOINT"]; v != "" {
		u, err := url.Parse(strings.ReplaceAll(v, "%s", "x"))
		if err != nil || u.Host == "" || strings.Count(v, "%s") != 2 {
			return cfg, bad("SITREP_TELEGRAM_API_ENDPOINT", fmt.Sprintf("%q: want a URL with two %%s, e.g. https://api.example.org/bot%%s/%%s", v))
		}
		cfg.TelegramEndpoint = v
	}
	if v := raw["SITREP_TELEGRAM_WEBHOOK_URL"]; v != "" {
		u, err := url.Parse(v)
		switch {
		case err != nil || u.Scheme != "https" || u.Host == "":
			return cfg, bad("SITREP_TELEGRAM_WEBHOOK_URL", fmt.Sprintf("%q: want an https URL", v))
		case cfg.TelegramSecret == "":
			return cfg, bad("SITREP_TELEGRAM_WEBHOOK_URL", "needs SITREP_TELEGRAM_WEBHOOK_SECRET")
		case cfg.HTTPAddr == "":
			return cfg, bad("SITREP_TELEGRAM_WEBHOOK_URL", "needs SITREP_HTTP_ADDR to listen on")
		}
		if !webhookSecret.MatchString(cfg.TelegramSecret) {
			return cfg, bad("SITREP_TELEGRAM_WEBHOOK_SECRET", "want 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule; value not shown)")
		}
		cfg.TelegramWebhook = v
	}
	if g := cfg.DiscordGuild; g != "" {
		if _, err := strconv.ParseUint(g, 10, 64); err != nil {
			return cfg, bad("SITREP_DISCORD_GUILD", fmt.Sprintf("%q: want the guild's numeric id", g))
		}
	}
	if v := raw["SITREP_DISCORD_API_ENDPOINT"]; v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, bad("SITREP_DISCORD_API_ENDPOINT", fmt.Sprintf("%q: want a base URL such as https://proxy.example.org", v))
		}
		cfg.DiscordAPI = u
	}
	if v := raw["SITREP_DISCORD_PUBLIC_KEY"]; v != "" {
		pub, err := hex.DecodeString(v)
		switch {
		case err != nil || len(pub) != ed25519.PublicKeySize:
			return cfg, bad("SITREP_DISCORD_PUBLIC_KEY", "want the application's public key: 64 hex digits")
		case cfg.HTTPAddr == "":
			return cfg, bad("SITREP_DISCORD_PUBLIC_KEY", "needs SITREP_HTTP_ADDR to listen on")
		}
		cfg.DiscordPublicKey = pub
	}
	var err error
	if cfg.TelegramLimits, err = bot.ParseLimits(raw["SITREP_TELEGRAM_LIMITS"], bot.TelegramLimits()); err != nil {
		return cfg, fmt.Errorf("SITREP_TELEGRAM_LIMITS: %w", err)
	}
	if cfg.DiscordLimits, err = bot.ParseLimits(raw["SITREP_DISCORD_LIMITS"], bot.DiscordLimits()); err != nil {
		return cfg, fmt.Errorf("SITREP_DISCORD_LIMITS: %w", err)
	}
	for _, tok := range []struct{ env, v string }{{"SITREP_TELEGRAM_TOKEN", cfg.TelegramToken}, {"SITREP_DISCORD_TOKEN", cfg.DiscordToken}} {
		if strings.ContainsAny(tok.v, " \t\r\n") {
			return cfg, errors.New(tok.env + ": the token contains white space (value not shown)")
		}
	}
	return cfg, nil
}
