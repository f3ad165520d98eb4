package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/sitrep-bot/sitrep/bot"
)

// Platform is Discord's name in chats, subscriptions and identities ("discord:<id>").
const Platform = "discord"

// Config is how to reach Discord as a bot.
type Config struct {
	Token string
	// API, if set, replaces https://discord.com for every REST call and the gateway
	// lookup (a rate-limit proxy, or a fake in tests).
	API *url.URL
	// Guild, if set, is the one guild the slash commands are registered in (changes
	// show at once); otherwise they are registered globally.
	Guild    string
	Commands []bot.Command // registered with one bulk overwrite
	Logger   *slog.Logger
}

// Bot is a connected Discord application.
type Bot struct {
	// Session makes every REST call, and opens the gateway in RunGateway.
	Session *discordgo.Session
	// Me is the bot's own user.
	Me *discordgo.User
}

// Connect checks the token by asking Discord who the bot is, then registers the slash
// commands with one bulk overwrite; a failed registration is logged, not fatal, since
// the commands registered before still work.
func Connect(ctx context.Context, cfg Config) (*Bot, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	session, err := discordgo.New("Bot " + cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	if cfg.API != nil {
		client.Transport = Rewrite{Base: cfg.API}
	}
	session.Client = client
	me, err := session.User("@me", discordgo.WithContext(ctx))
	if err != nil {
		var re *discordgo.RESTError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized {
			err = errors.Join(bot.ErrUnauthorized, err)
		}
		return nil, fmt.Errorf("discord: who am I: %w", err)
	}
	if _, err := session.ApplicationCommandBulkOverwrite(me.ID, cfg.Guild, ApplicationCommands(cfg.Commands), discordgo.WithContext(ctx)); err != nil {
		log.WarnContext(ctx, "discord command registration failed; the command list may be stale", "err", err)
	}
	return &Bot{Session: session, Me: me}, nil
}

// UseDefaultLogger sends discordgo's own log lines (gateway reconnects, heartbeat
// trouble) to slog.Default() instead of the standard logger's plain text, so that a
// JSON log stays JSON. discordgo keeps its logger in a package variable: call this
// once, at program start.
func UseDefaultLogger() {
	discordgo.Logger = func(msgL, _ int, format string, a ...any) {
		level := slog.LevelDebug
		switch msgL {
		case discordgo.LogError:
			level = slog.LevelError
		case discordgo.LogWarning:
			level = slog.LevelWarn
		case discordgo.LogInformational:
			level = slog.LevelInfo
		}
		slog.Default().Log(context.Background(), level, "discordgo: "+fmt.Sprintf(format, a...), "platform", Platform)
	}
}
