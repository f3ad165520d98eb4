package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// Interactions answers Discord's HTTP interactions (SITREP_DISCORD_PUBLIC_KEY): it
// verifies each request's Ed25519 signature, answers PING, runs slash commands through
// the handler, and completes town and group names. Several instances can serve it
// behind a load balancer; no gateway connection is needed.
type Interactions struct {
	PublicKey ed25519.PublicKey
	Handler   bot.Handler
	Completer bot.Completer
	Commands  []bot.Command // to know which option is a town or a group
	// DeferAfter is how long an answer may take before it is deferred (2s).
	DeferAfter time.Duration
	// Session, when set, completes deferred answers; without it every answer is
	// given in the HTTP response however long it takes.
	Session *discordgo.Session
	Logger  *slog.Logger
}

// ServeHTTP implements http.Handler.
func (x *Interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if !discordgo.VerifyInteraction(r, x.PublicKey) {
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	var in discordgo.Interaction
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, "bad interaction", http.StatusBadRequest)
		return
	}
	write := func(resp *discordgo.InteractionResponse) error {
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(resp)
	}
	if x.Session == nil {
		_ = write(x.Respond(r.Context(), &in))
		return
	}
	log := x.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	respondInTime(context.WithoutCancel(r.Context()), x.Session, &in, x, log, write)
}

// Respond computes the response to one interaction; the gateway path uses it too.
func (x *Interactions) Respond(ctx context.Context, in *discordgo.Interaction) *discordgo.InteractionResponse {
	switch in.Type {
	case discordgo.InteractionPing:
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}
	case discordgo.InteractionApplicationCommandAutocomplete:
		return x.autocomplete(ctx, in)
	case discordgo.InteractionApplicationCommand:
		data := in.ApplicationCommandData()
		req := request(in, data.Name)
		for _, o := range data.Options {
			req.Options[o.Name] = fmt.Sprint(o.Value)
			if o.Type == discordgo.ApplicationCommandOptionUser {
				req.Options[o.Name] = "discord:" + req.Options[o.Name] // as moderators are configured
			}
		}
		return Response(x.Handler.Serve(ctx, req))
	case discordgo.InteractionMessageComponent:
		// An "Older ›" button: its custom id is the page's command line.
		line := in.MessageComponentData().CustomID
		name, args, ok := bot.ParseCommand("/"+line, "")
		if !ok {
			return Response(bot.Errorf("That button has expired."))
		}
		req := request(in, name)
		req.Options, req.Text = nil, args
		reply := x.Handler.Serve(ctx, req)
		resp := Response(reply)
		if reply.Tone == bot.Error {
			return resp // a new message only the presser sees; the page stays as it was
		}
		resp.Type = discordgo.InteractionResponseUpdateMessage
		resp.Data.Flags = 0 // an update keeps the message's own flags
		return resp
	}
	return Response(bot.Errorf("sitrep cannot answer that kind of interaction."))
}

// request builds the platform-neutral request of an interaction. In a DM, Member is
// nil and User is set.
func request(in *discordgo.Interaction, command string) *bot.Request {
	req := &bot.Request{
		Command:  command,
		Options:  map[string]string{},
		Chat:     bot.Chat{Platform: Platform, ID: in.ChannelID, Kind: bot.Group},
		Language: string(in.Locale),
		// Discord may deliver an interaction twice (a gateway resume); its id is unique.
		Origin: "discord:" + in.ID,
	}
	if req.Language == "" && in.GuildLocale != nil {
		req.Language = string(*in.GuildLocale)
	}
	if t, err := discordgo.SnowflakeTimestamp(in.ID); err == nil {
		req.Time = t
	}
	user := in.User
	if in.Member != nil {
		user = in.Member.User
		// The member's permissions in this channel, overwrites included.
		const manage = discordgo.PermissionManageChannels | discordgo.PermissionAdministrator
		req.ChatManager = in.Member.Permissions&manage != 0
	} else {
		req.Chat.Kind, req.ChatManager = bot.Private, true
	}
	if user != nil {
		req.User = bot.Identity{Platform: Platform, UserID: user.ID, Name: orDefault(user.GlobalName, user.Username)}
	}
	return req
}

// Response turns a reply into an interaction response: an embed, no mentions,
// ephemeral for errors and other private replies, and an "Older ›" button when there
// is a next page.
func Response(r bot.Reply) *discordgo.InteractionResponse {
	data := &discordgo.InteractionResponseData{Embeds: []*discordgo.MessageEmbed{Embed(r)}, AllowedMentions: noMentions()}
	if r.Private || r.Tone != bot.Info {
		data.Flags = discordgo.MessageFlagsEphemeral // errors and confirmations: only the asker sees them
	}
	// An empty list, not none, so that updating a page to the last one removes the
	// button.
	data.Components = []discordgo.MessageComponent{}
	if r.More != "" && len(r.More) <= maxCustomID {
		data.Components = []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "Older ›", Style: discordgo.SecondaryButton, CustomID: r.More},
		}}}
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: data}
}

// autocomplete offers up to 25 names for the focused option, when it names a town or
// a group: names starting with what was typed, then the nearest spellings.
func (x *Interactions) autocomplete(ctx context.Context, in *discordgo.Interaction) *discordgo.InteractionResponse {
	data := in.ApplicationCommandData()
	var choices []*discordgo.ApplicationCommandOptionChoice
	for _, o := range data.Options {
		if !o.Focused || x.Completer == nil {
			continue
		}
		kind := x.paramKind(data.Name, o.Name, data.Options)
		if kind != bot.Town && kind != bot.GroupName {
			continue
		}
		for _, n := range x.Completer.Complete(ctx, kind, strings.TrimSpace(fmt.Sprint(o.Value)), maxChoices) {
			if len(choices) == maxChoices {
				break
			}
			if runes(n) > maxChoiceLen {
				continue // a value Discord cannot carry; cut, it would name nothing
			}
			choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: n, Value: n})
		}
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: choices}}
}

// Discord's limits on interaction answers.
const (
	maxChoices   = 25  // autocomplete choices
	maxChoiceLen = 100 // a choice's name and value
	maxCustomID  = 100 // a button's custom id
)

// chosenKind is the kind of name the chooser option's value picks: "town" or "group".
func chosenKind(opts []*discordgo.ApplicationCommandInteractionDataOption, chooser string) bot.ParamKind {
	for _, o := range opts {
		if o.Name != chooser {
			continue
		}
		switch fmt.Sprint(o.Value) {
		case "town":
			return bot.Town
		case "group":
			return bot.GroupName
		}
	}
	return bot.String
}

// privateAnswers reports whether a command's answers are private: those of the
// commands for moderators and admins (confirmations and errors).
func (x *Interactions) privateAnswers(command string) bool {
	for _, c := range x.Commands {
		if c.Name == command {
			return c.Role >= bot.Moderator
		}
	}
	return false
}

// paramKind finds the declared kind of a command's option; for a name whose kind
// another option chooses, it is the kind chosen there.
func (x *Interactions) paramKind(command, option string, opts []*discordgo.ApplicationCommandInteractionDataOption) bot.ParamKind {
	for _, c := range x.Commands {
		if c.Name != command {
			continue
		}
		for i, p := range c.Params {
			if p.Name != option {
				continue
			}
			if chooser, ok := kindChooser(c, i); ok {
				return chosenKind(opts, chooser)
			}
			return p.Kind
		}
	}
	return bot.String
}
