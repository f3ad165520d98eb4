package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// Rewrite is an http.RoundTripper that sends every request to Base (scheme and host)
// instead of discord.com: discordgo computes its endpoint strings once when it loads,
// so repointing the session's client is the one way to move every call, e.g. to a
// rate-limit proxy (SITREP_DISCORD_API_ENDPOINT) or a test server.
type Rewrite struct {
	Base *url.URL
	Next http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip rewrites the request's scheme and host and sends it.
func (rw Rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = rw.Base.Scheme, rw.Base.Host, rw.Base.Host
	next := rw.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(out)
}

// Sender delivers pushes to Discord channels through a discordgo session. In an
// announcement channel it also publishes (crossposts) each push, so that servers
// following the channel receive it too.
type Sender struct {
	Session *discordgo.Session
	Rates   bot.Limits // zero: bot.DiscordLimits()

	mu           sync.Mutex
	announcement map[string]bool // channel id → is an announcement channel
}

// isAnnouncement reports whether a channel is an announcement channel, asking Discord
// once per channel.
func (s *Sender) isAnnouncement(ctx context.Context, channelID string) bool {
	s.mu.Lock()
	known, ok := s.announcement[channelID]
	s.mu.Unlock()
	if ok {
		return known
	}
	ch, err := s.Session.Channel(channelID, options(ctx)...)
	if err != nil {
		return false // try again next time
	}
	news := ch.Type == discordgo.ChannelTypeGuildNews
	s.mu.Lock()
	if s.announcement == nil {
		s.announcement = map[string]bool{}
	}
	s.announcement[channelID] = news
	s.mu.Unlock()
	return news
}

var _ bot.Sender = (*Sender)(nil)

// Platform is "discord".
func (s *Sender) Platform() string { return Platform }

// Limits are the configured limits, or Discord's.
func (s *Sender) Limits() bot.Limits {
	if s.Rates.Global.Limit == 0 {
		return bot.DiscordLimits()
	}
	return s.Rates
}

// options for every delivery call: discordgo's own 429 handling sleeps without a
// context and retries forever, so it is off and the dispatcher honours retry-after.
func options(ctx context.Context) []discordgo.RequestOption {
	return []discordgo.RequestOption{discordgo.WithContext(ctx), discordgo.WithRetryOnRatelimit(false)}
}

// message builds the message for a reply.
func message(r bot.Reply) *discordgo.MessageSend {
	m := &discordgo.MessageSend{Embeds: []*discordgo.MessageEmbed{Embed(r)}, AllowedMentions: noMentions()}
	if r.Silent {
		m.Flags = discordgo.MessageFlagsSuppressNotifications
	}
	return m
}

// Send posts a reply in a channel and returns the message id.
func (s *Sender) Send(ctx context.Context, channelID string, r bot.Reply) (bot.MessageRef, error) {
	m, err := s.Session.ChannelMessageSendComplex(channelID, message(r), options(ctx)...)
	if err != nil {
		return "", classify(err)
	}
	s.publish(ctx, channelID, m.ID)
	return bot.MessageRef(m.ID), nil
}

// publish crossposts a message sent in an announcement channel, so that servers
// following the channel receive it too. The message is sent either way; a failed
// publication only means followers miss it.
func (s *Sender) publish(ctx context.Context, channelID, messageID string) {
	if s.isAnnouncement(ctx, channelID) {
		_, _ = s.Session.ChannelMessageCrosspost(channelID, messageID, options(ctx)...)
	}
}

// ReplyTo posts a reply that refers to one of the bot's messages (a correction), and
// publishes it in an announcement channel like Send.
func (s *Sender) ReplyTo(ctx context.Context, channelID string, ref bot.MessageRef, r bot.Reply) (bot.MessageRef, error) {
	msg := message(r)
	msg.Reference = &discordgo.MessageReference{MessageID: string(ref), ChannelID: channelID}
	m, err := s.Session.ChannelMessageSendComplex(channelID, msg, options(ctx)...)
	if err != nil {
		return "", classify(err)
	}
	s.publish(ctx, channelID, m.ID) // followers need the correction as much
	return bot.MessageRef(m.ID), nil
}

// Edit replaces a sent message's embed.
func (s *Sender) Edit(ctx context.Context, channelID string, ref bot.MessageRef, r bot.Reply) error {
	embeds := []*discordgo.MessageEmbed{Embed(r)}
	edit := &discordgo.MessageEdit{ID: string(ref), Channel: channelID, Embeds: &embeds, AllowedMentions: noMentions()}
	if _, err := s.Session.ChannelMessageEditComplex(edit, options(ctx)...); err != nil {
		return classify(err)
	}
	return nil
}

// classify maps discordgo's errors onto the delivery contract.
func classify(err error) error {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil {
		return bot.RetryAfterError(rl.RetryAfter, err)
	}
	var re *discordgo.RESTError
	if !errors.As(err, &re) || re.Response == nil {
		return err // network trouble: transient
	}
	if re.Message != nil {
		switch re.Message.Code {
		case discordgo.ErrCodeUnknownChannel, discordgo.ErrCodeMissingAccess, discordgo.ErrCodeMissingPermissions:
			return bot.ChatGoneError(err)
		case discordgo.ErrCodeUnknownMessage:
			return errors.Join(bot.ErrCannotEdit, err)
		}
	}
	switch code := re.Response.StatusCode; {
	case code == http.StatusTooManyRequests:
		return bot.RetryAfterError(time.Second, err)
	case code == http.StatusForbidden, code == http.StatusNotFound:
		return bot.ChatGoneError(err)
	case code >= 500:
		return err
	case code >= 400:
		return bot.PermanentError(fmt.Errorf("discord %d: %w", code, err))
	}
	return err
}
