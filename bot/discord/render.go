// Package discord is sitrep's Discord adapter on github.com/bwmarrin/discordgo. This
// first part renders replies as embeds, translates the command registry into
// application commands, and implements the delivery contract (bot.Sender); slash-command
// interactions, the gateway and the HTTP interactions endpoint come next.
package discord

import (
	"strings"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// Discord's limits on one message.
const (
	maxTitle       = 256
	maxDescription = 4096
	maxEmbedTotal  = 6000
)

// Embed colours by tone.
const (
	colourInfo  = 0x3B82F6
	colourError = 0xDC2626
	colourDone  = 0x16A34A
)

// statusColour shows a claim's verification status at a glance.
func statusColour(status string) (int, bool) {
	switch status {
	case "unverified":
		return 0xF59E0B, true // amber
	case "confirmed":
		return 0x16A34A, true // green
	case "disputed":
		return 0xEA580C, true // orange
	case "false":
		return 0xDC2626, true // red
	case "retracted":
		return 0x6B7280, true // grey
	}
	return 0, false
}

// noMentions makes Discord ping nobody, whatever user or moderator text says
// (@everyone, roles, users).
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// markdownEscaper escapes Discord markdown in text written by users and moderators.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, ">", `\>`, "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`, "@", "@\u200b")

// Markdown renders a reply's blocks as Discord markdown, escaping all text; a line
// that would start a heading ("# ") is escaped too.
func Markdown(r bot.Reply) string {
	lines := strings.Split(markdown(r), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") {
			lines[i] = `\` + l
		}
	}
	return strings.Join(lines, "\n")
}

// markdown renders the blocks, escaping the text of every span.
func markdown(r bot.Reply) string {
	var b strings.Builder
	for i, blk := range r.Blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		for _, sp := range blk {
			text := markdownEscaper.Replace(sp.Text)
			switch sp.Style {
			case bot.Bold:
				text = "**" + text + "**"
			case bot.Italic:
				text = "*" + text + "*"
			case bot.Code:
				text = "`" + strings.ReplaceAll(sp.Text, "`", "'") + "`"
			case bot.Link:
				if strings.HasPrefix(sp.URL, "https://") || strings.HasPrefix(sp.URL, "http://") {
					text = "[" + text + "](<" + strings.ReplaceAll(sp.URL, ">", "%3E") + ">)"
				}
			}
			b.WriteString(text)
		}
	}
	return b.String()
}

// Embed renders a reply as one embed within Discord's limits: the title cut at 256
// characters, the description at 4,096, and both together under 6,000. A reply too
// long for that is cut at a line break and says so.
func Embed(r bot.Reply) *discordgo.MessageEmbed {
	e := &discordgo.MessageEmbed{Title: clip(r.Title, maxTitle), Color: colourInfo}
	switch r.Tone {
	case bot.Error:
		e.Color = colourError
	case bot.Done:
		e.Color = colourDone
	}
	if c, ok := statusColour(r.Status); ok {
		e.Color = c
	}
	room := min(maxDescription, maxEmbedTotal-utf8.RuneCountInString(e.Title))
	desc := Markdown(r)
	if utf8.RuneCountInString(desc) > room {
		const more = "\n…"
		cut := []rune(desc)[:room-utf8.RuneCountInString(more)]
		s := string(cut)
		if i := strings.LastIndexByte(s, '\n'); i > 0 {
			s = s[:i]
		}
		desc = s + more
	}
	e.Description = desc
	return e
}

// clip shortens s to n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
