package discord

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bwmarrin/discordgo"
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
		resp := x.Respond(ctx, ic.Interaction)
		if err := s.InteractionRespond(ic.Interaction, resp, discordgo.WithContext(ctx)); err != nil {
			log.WarnContext(ctx, "discord interaction response failed", "err", err)
		}
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
