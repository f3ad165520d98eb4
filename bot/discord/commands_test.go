package discord

import (
	"regexp"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

func TestApplicationCommands(t *testing.T) {
	cmds := []bot.Command{
		{Name: "latest", Summary: "The newest updates", Params: []bot.Param{{Name: "page", Kind: bot.Integer, Keyed: true, Min: 1, Max: 20}, {Name: "n", Help: "How many", Kind: bot.Integer, Min: 1, Max: 20}}},
		{Name: "town", Summary: "Who holds a town", Params: []bot.Param{{Name: "page", Kind: bot.Integer, Min: 1, Max: 20}, {Name: "name", Kind: bot.Town, Required: true}}},
		{Name: "subscribe", Summary: "Push updates", Role: bot.ChatManager, Params: []bot.Param{{Name: "filter", Choices: []string{"all", "town", "group"}}}},
		{Name: "post", Summary: strings.Repeat("x", 150), Role: bot.Moderator, Params: []bot.Param{{Name: "claim", Kind: bot.GroupName, Keyed: true}, {Name: "text", Required: true}}},
	}
	got := ApplicationCommands(cmds)
	valid := regexp.MustCompile(`^[-_\p{Ll}\p{N}]{1,32}$`)
	for _, c := range got {
		if !valid.MatchString(c.Name) || len([]rune(c.Description)) > 100 || c.Description == "" {
			t.Errorf("invalid command %q %q", c.Name, c.Description)
		}
		seenOptional := false
		for _, o := range c.Options {
			if !valid.MatchString(o.Name) || o.Description == "" || len([]rune(o.Description)) > 100 {
				t.Errorf("/%s: invalid option %+v", c.Name, o)
			}
			if o.Required && seenOptional {
				t.Errorf("/%s: required option %s after an optional one", c.Name, o.Name)
			}
			seenOptional = seenOptional || !o.Required
		}
	}
	if o := got[0].Options[1]; o.Type != discordgo.ApplicationCommandOptionInteger || *o.MinValue != 1 || o.MaxValue != 20 {
		t.Errorf("/latest n = %+v", o)
	}
	if o := got[1].Options[0]; o.Name != "name" || !o.Autocomplete || !o.Required {
		t.Errorf("/town name = %+v", o)
	}
	if len(got[2].Options[0].Choices) != 3 || *got[2].DefaultMemberPermissions != discordgo.PermissionManageChannels {
		t.Errorf("/subscribe = %+v", got[2])
	}
	if got[3].DefaultMemberPermissions == nil || got[0].DefaultMemberPermissions != nil {
		t.Errorf("moderator commands must be hidden by default, reading ones not")
	}
}
