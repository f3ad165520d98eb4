package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/sitrep-bot/sitrep/bot"
)

// RunGateway connects the session to Discord's gateway and answers the interactions
// that arrive there with x, until ctx ends. The answer is the interaction's response
// callback, made over REST like every other call of the session.
func RunGateway(ctx context.Context, session *discordgo.Session, x *Interactions, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	session.Identify.Intents = discordgo.IntentsGuilds
	remove := session.AddHandler(func(s *discordgo.Session, ic *discordgo.InteractionCreate) {
		respondInTime(ctx, s, ic.Interaction, x, log, func(resp *discordgo.InteractionResponse) error {
			return s.InteractionRespond(ic.Interaction, resp, discordgo.WithContext(ctx))
		})
	})
	defer remove()
	if err := session.Open(); err != nil {
		return fmt.Errorf("discord gateway: %w", err)
	}
	<-ctx.Done()
	if err := session.Close(); err != nil {
		return fmt.Errorf("discord gateway close: %w", err)
	}
	return nil
}

// deferAfter is how long an answer may take before Discord is told it is coming:
// Discord drops an interaction not answered within three seconds.
const deferAfter = 2 * time.Second

// respondInTime answers an interaction with send, deferring first when the handler is
// slower than x.DeferAfter (2s); the deferred answer is then completed, in the
// background, by editing the original response through the session.
func respondInTime(ctx context.Context, s *discordgo.Session, in *discordgo.Interaction, x *Interactions, log *slog.Logger,
	send func(*discordgo.InteractionResponse) error) {
	wait := x.DeferAfter
	if wait <= 0 {
		wait = deferAfter
	}
	done := make(chan *discordgo.InteractionResponse, 1)
	go func() { done <- x.Respond(ctx, in) }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case resp := <-done:
		if err := send(resp); err != nil {
			log.WarnContext(ctx, "discord interaction response failed", "err", redactToken(err))
		}
		return
	case <-timer.C:
	}
	// Answers to moderators are confirmations and errors, which only they should see:
	// their deferral is ephemeral already.
	private := in.Type == discordgo.InteractionApplicationCommand && x.privateAnswers(in.ApplicationCommandData().Name)
	deferred := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{AllowedMentions: noMentions()}}
	if private {
		deferred.Data.Flags = discordgo.MessageFlagsEphemeral
	}
	if in.Type == discordgo.InteractionMessageComponent {
		deferred = &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}
	}
	if err := send(deferred); err != nil {
		log.WarnContext(ctx, "discord deferral failed", "err", redactToken(err))
		return
	}
	go func() {
		resp := <-done
		if resp.Data == nil {
			return
		}
		if err := complete(context.WithoutCancel(ctx), s, in, private, resp); err != nil {
			log.WarnContext(ctx, "discord deferred answer failed", "err", redactToken(err))
		}
	}()
}

// complete gives the answer to a deferred interaction: it edits the original response
// (InteractionResponseEdit) when that shows the answer to the right people. An error
// after an "Older" button, or an answer whose visibility differs from the deferral's
// (a public deferral cannot become ephemeral), is sent as a followup instead, after
// the deferral's placeholder is deleted.
func complete(ctx context.Context, s *discordgo.Session, in *discordgo.Interaction, private bool, resp *discordgo.InteractionResponse) error {
	data := resp.Data
	ephemeral := data.Flags&discordgo.MessageFlagsEphemeral != 0
	edit := ephemeral == private
	if in.Type == discordgo.InteractionMessageComponent {
		edit = resp.Type == discordgo.InteractionResponseUpdateMessage
	}
	if edit {
		e := &discordgo.WebhookEdit{Embeds: &data.Embeds, Components: &data.Components, AllowedMentions: noMentions()}
		if _, err := s.InteractionResponseEdit(in, e, discordgo.WithContext(ctx)); err != nil {
			return fmt.Errorf("edit the original response: %w", err)
		}
		return nil
	}
	if in.Type != discordgo.InteractionMessageComponent {
		if err := s.InteractionResponseDelete(in, discordgo.WithContext(ctx)); err != nil {
			return fmt.Errorf("delete the deferral: %w", err)
		}
	}
	params := &discordgo.WebhookParams{Embeds: data.Embeds, Components: data.Components, AllowedMentions: noMentions(), Flags: data.Flags}
	if _, err := s.FollowupMessageCreate(in, true, params, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("followup: %w", err)
	}
	return nil
}

// redactToken hides an interaction token in an error's text: interaction callbacks
// and webhook edits carry the token in their URL path, which a network error quotes.
// The token is short-lived, but it answers for the bot while it lives.
func redactToken(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	text := err.Error()
	for _, marker := range []string{"/interactions/", "/webhooks/"} {
		i := strings.Index(text, marker)
		if i < 0 {
			continue
		}
		// ".../interactions/<id>/<token>/callback", ".../webhooks/<app>/<token>/messages/..."
		rest := text[i+len(marker):]
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) >= 2 && parts[1] != "" {
			tail := ""
			if len(parts) == 3 {
				tail = "/" + parts[2]
			}
			text = text[:i+len(marker)] + parts[0] + "/<token>" + tail
		}
	}
	return bot.Redacted(err, text)
}
