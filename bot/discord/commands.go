package discord

import (
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// ApplicationCommands translates the command registry into Discord slash commands, for
// one bulk overwrite: typed options (integers with their bounds, choices, autocomplete
// for town and group names), required options first as Discord demands, descriptions
// cut to 100 characters, and default member permissions that hide moderator commands
// from ordinary members (sitrep still checks its own moderator list) and subscription
// commands from members who cannot manage channels.
func ApplicationCommands(cmds []bot.Command) []*discordgo.ApplicationCommand {
	out := make([]*discordgo.ApplicationCommand, 0, len(cmds))
	for _, c := range cmds {
		ac := &discordgo.ApplicationCommand{
			Type:        discordgo.ChatApplicationCommand,
			Name:        c.Name,
			Description: clip(orDefault(c.Summary, c.Name), 100),
		}
		switch c.Role {
		case bot.ChatManager:
			ac.DefaultMemberPermissions = permission(discordgo.PermissionManageChannels)
		case bot.Moderator, bot.Admin:
			ac.DefaultMemberPermissions = permission(discordgo.PermissionManageMessages)
		}
		for i, p := range c.Params {
			o := option(p)
			if _, ok := kindChooser(c, i); ok {
				o.Autocomplete = true
			}
			ac.Options = append(ac.Options, o)
		}
		// Discord wants the required options before the optional ones.
		slices.SortStableFunc(ac.Options, func(a, b *discordgo.ApplicationCommandOption) int {
			switch {
			case a.Required == b.Required:
				return 0
			case a.Required:
				return -1
			}
			return 1
		})
		out = append(out, ac)
	}
	return out
}

// option translates one parameter.
func option(p bot.Param) *discordgo.ApplicationCommandOption {
	o := &discordgo.ApplicationCommandOption{
		Type:        discordgo.ApplicationCommandOptionString,
		Name:        strings.ToLower(p.Name),
		Description: clip(orDefault(p.Help, p.Name), 100),
		Required:    p.Required,
	}
	switch p.Kind {
	case bot.Integer:
		o.Type = discordgo.ApplicationCommandOptionInteger
		if p.Max > 0 {
			lo := float64(p.Min)
			o.MinValue, o.MaxValue = &lo, float64(p.Max)
		}
	case bot.Town, bot.GroupName:
		o.Autocomplete = true
	case bot.Person:
		o.Type = discordgo.ApplicationCommandOptionUser
	}
	for _, ch := range p.Choices {
		if len(o.Choices) == 25 {
			break
		}
		o.Choices = append(o.Choices, &discordgo.ApplicationCommandOptionChoice{Name: ch, Value: ch})
	}
	return o
}

// kindChooser reports whether parameter i of c is a free-text name whose kind the
// parameter before it chooses, with "town" and "group" among its choices (/subscribe
// filter:town name:…), and names that parameter. Such a name is autocompleted as a
// town or a group, as chosen.
func kindChooser(c bot.Command, i int) (string, bool) {
	if i == 0 || c.Params[i].Kind != bot.String || len(c.Params[i].Choices) > 0 {
		return "", false
	}
	prev := c.Params[i-1]
	if slices.Contains(prev.Choices, "town") && slices.Contains(prev.Choices, "group") {
		return prev.Name, true
	}
	return "", false
}

// permission returns a pointer to a permission bit set.
func permission(p int64) *int64 { return &p }

// orDefault returns s, or d when s is empty.
func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
