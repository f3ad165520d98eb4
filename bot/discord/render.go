// Package discord is sitrep's Discord adapter on github.com/bwmarrin/discordgo: it
// renders replies as embeds within Discord's limits, translates the command registry
// into application commands, answers interactions (over the gateway or the HTTP
// interactions endpoint) through the platform-neutral handlers, and implements the
// delivery contract (bot.Sender).
package discord

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// Discord's limits on one message, in characters. sitrep sends no message content
// (everything is in the embed), so maxContent is checked by the tests only.
const (
	maxContent     = 2000
	maxTitle       = 256
	maxDescription = 4096
	maxFields      = 25
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxFooter      = 2048
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

// Markdown renders a reply's paragraphs (bot.Reply.Paragraphs) as Discord markdown,
// escaping all text; a line that would start a heading ("# ") is escaped too.
func Markdown(r bot.Reply) string {
	paragraphs := r.Paragraphs()
	parts := make([]string, len(paragraphs))
	for i, blk := range paragraphs {
		parts[i] = render(lines(blk), -1)
	}
	return strings.Join(parts, "\n\n")
}

// line is one line of a block: spans without line breaks.
type line []bot.Span

// lines splits a block at its line breaks.
func lines(blk bot.Block) []line {
	out := []line{nil}
	for _, sp := range blk {
		for i, piece := range strings.Split(sp.Text, "\n") {
			if i > 0 {
				out = append(out, nil)
			}
			if piece != "" {
				part := sp
				part.Text = piece
				out[len(out)-1] = append(out[len(out)-1], part)
			}
		}
	}
	return out
}

// plain is a line's text without any markup, for the parts of an embed that Discord
// shows as they are (field names, the footer).
func plain(l line) string {
	var b strings.Builder
	for _, sp := range l {
		b.WriteString(sp.Text)
	}
	return strings.TrimSpace(b.String())
}

// linkOf is the target of a line's first web link, if any.
func linkOf(l line) string {
	for _, sp := range l {
		if sp.Style == bot.Link && webURL(sp.URL) {
			return sp.URL
		}
	}
	return ""
}

// webURL reports whether u is a link Discord may show.
func webURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

// span renders one span of a line as Discord markdown, its text escaped; start says
// whether it begins the line, where "#" would make a heading.
func span(sp bot.Span, start bool) string {
	text := markdownEscaper.Replace(sp.Text)
	switch sp.Style {
	case bot.Bold:
		text = "**" + text + "**"
	case bot.Italic:
		text = "*" + text + "*"
	case bot.Code:
		text = "`" + strings.ReplaceAll(sp.Text, "`", "'") + "`"
	case bot.Link:
		if webURL(sp.URL) {
			text = "[" + text + "](<" + strings.ReplaceAll(sp.URL, ">", "%3E") + ">)"
		}
	}
	if start && strings.HasPrefix(text, "#") {
		text = `\` + text
	}
	return text
}

// ellipsis marks text that was cut to fit.
const ellipsis = "…"

// render renders lines as markdown in at most n characters (n < 0: no limit). Text too
// long is cut inside a span, never inside markup, an escape or a Burmese syllable, and
// ends with "…".
func render(ls []line, n int) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteString("\n")
		}
		for j, sp := range l {
			b.WriteString(span(sp, j == 0))
		}
	}
	if n < 0 || runes(b.String()) <= n {
		return b.String()
	}
	if n <= runes(ellipsis) {
		return ""
	}
	b.Reset()
	used, room := 0, n-runes(ellipsis)
	for i, l := range ls {
		if i > 0 {
			if used+1 > room {
				return cutDone(&b)
			}
			b.WriteString("\n")
			used++
		}
		for j, sp := range l {
			s := span(sp, j == 0)
			if k := runes(s); used+k <= room {
				b.WriteString(s)
				used += k
				continue
			}
			b.WriteString(cutSpan(sp, j == 0, room-used))
			return cutDone(&b)
		}
	}
	return cutDone(&b)
}

// cutDone ends cut text with an ellipsis, after dropping trailing spaces and breaks.
func cutDone(b *strings.Builder) string {
	return strings.TrimRight(b.String(), " \n") + ellipsis
}

// cutSpan renders the longest beginning of a span that fits in room characters, as
// plain text for a link (its target cannot be cut).
func cutSpan(sp bot.Span, start bool, room int) string {
	if sp.Style == bot.Link {
		sp.Style = bot.Plain
	}
	rs := []rune(sp.Text)
	k := min(len(rs), room)
	for k > 0 {
		k = syllableStart(rs, k)
		part := sp
		part.Text = string(rs[:k])
		s := span(part, start)
		over := utf8.RuneCountInString(s) - room
		if over <= 0 {
			return s
		}
		k -= over
	}
	return ""
}

// syllableStart moves a cut at k back to the start of a character with its marks,
// so that a vowel sign or a stacked Burmese consonant is never cut off its letter.
func syllableStart(rs []rune, k int) int {
	for k > 0 && k < len(rs) && (unicode.In(rs[k], unicode.Mn, unicode.Mc) || rs[k-1] == '\u1039' || rs[k] == '\u103a') {
		k--
	}
	return k
}

// item is one entry of a list as an embed field: its heading as plain text (the
// field's name), then its body and source lines (the field's value).
type item struct {
	head         string
	body, source []line
}

// asItem prepares a reply's item for a field.
func asItem(it bot.Item) item {
	out := item{head: strings.Join(plainLines(lines(it.Heading)), " ")}
	if len(it.Body) > 0 {
		out.body = lines(it.Body)
	}
	if len(it.Source) > 0 {
		out.source = lines(it.Source)
	}
	return out
}

// value is every line of the field's value.
func (it item) value() []line {
	return append(slices.Clip(it.body), it.source...)
}

// Embed renders a reply as one embed within Discord's limits (title 256 characters,
// description 4,096, 25 fields of 1,024 under names of 256, footer 2,048, 6,000 in
// all), cutting text with "…" where it must.
//
// The reply's blocks are the description, its items are fields (one each, named by
// the heading) and its footer is the embed's footer. A reply about one claim (it has a
// Status) shows the claim in the description instead, its source line in the footer,
// and links the title to the source; without a title to carry that link, the claim
// stays a field. A list longer than Discord's 25 fields is all description.
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
	desc := make([][]line, 0, len(r.Blocks)+1)
	for _, blk := range r.Blocks {
		desc = append(desc, lines(blk))
	}
	footer := strings.Join(plainLines(lines(r.Footer)), "\n")
	var items []item
	switch {
	case len(r.Items) == 1 && r.Status != "" && len(r.Items[0].Source) > 0 && (e.Title != "" || linkOf(line(r.Items[0].Source)) == ""):
		claim := r.Items[0]
		desc = append(desc, lines(bot.Item{Heading: claim.Heading, Body: claim.Body}.Block()))
		e.URL = linkOf(line(claim.Source))
		footer = joinFooter(strings.Join(plainLines(lines(claim.Source)), "\n"), footer)
	case len(r.Items) <= maxFields:
		for _, it := range r.Items {
			items = append(items, asItem(it))
		}
	default:
		for _, it := range r.Items {
			desc = append(desc, lines(it.Block()))
		}
	}
	fit(e, desc, items, footer)
	return e
}

// nameEscaper escapes what a field name would show as bold, italics, strikethrough,
// code or a spoiler, and mentions. Field names show no links, headings or quotes, so
// "[UNVERIFIED]" and "#12" are left as they read.
var nameEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, "@", "@\u200b")

// fieldName is a heading as a field name of at most room characters.
func fieldName(head string, room int) string {
	rs := []rune(head)
	for k := len(rs); k > 0; {
		name := nameEscaper.Replace(string(rs[:k]))
		if k < len(rs) {
			name += ellipsis
		}
		over := runes(name) - room
		if over <= 0 {
			return name
		}
		k = syllableStart(rs, k-max(over, 1))
	}
	return ""
}

// plainLines is each line as plain text.
func plainLines(ls []line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = plain(l)
	}
	return out
}

// joinFooter puts a source line and a closing note together.
func joinFooter(source, note string) string {
	if note == "" {
		return source
	}
	return source + "\n" + note
}

// fit fills the embed's description, fields and footer, within Discord's limits: the
// footer and the field names first, then the description and the field values share
// what is left fairly, each cut only as much as it must be.
func fit(e *discordgo.MessageEmbed, desc [][]line, items []item, footer string) {
	e.Footer = nil
	if footer != "" {
		e.Footer = &discordgo.MessageEmbedFooter{Text: clip(footer, min(maxFooter, (maxEmbedTotal-runes(e.Title))/4))}
	}
	left := maxEmbedTotal - runes(e.Title) - footerLen(e)
	if len(items) > 0 {
		nameRoom := min(maxFieldName, left/(2*len(items)))
		for _, it := range items {
			f := &discordgo.MessageEmbedField{Name: fieldName(it.head, nameRoom)}
			if f.Name == "" {
				f.Name = "\u200b" // Discord refuses an empty name
			}
			left -= runes(f.Name)
			e.Fields = append(e.Fields, f)
		}
	}
	var paragraph []line
	for i, p := range desc {
		if i > 0 {
			paragraph = append(paragraph, nil) // a blank line between paragraphs
		}
		paragraph = append(paragraph, p...)
	}
	full := make([]string, 0, 1+len(items))
	caps := make([]int, 0, 1+len(items))
	full = append(full, render(paragraph, -1))
	caps = append(caps, maxDescription)
	for _, it := range items {
		full = append(full, render(it.value(), -1))
		caps = append(caps, maxFieldValue)
	}
	rooms := share(left, full, caps)
	e.Description = fitted(paragraph, full[0], rooms[0])
	for i, it := range items {
		e.Fields[i].Value = fittedItem(it, full[i+1], rooms[i+1])
		if e.Fields[i].Value == "" {
			e.Fields[i].Value = "\u200b" // Discord refuses an empty field
		}
	}
}

// fitted is the rendered text when it fits in room, else the lines rendered again
// within room.
func fitted(ls []line, full string, room int) string {
	if runes(full) <= room {
		return full
	}
	return render(ls, room)
}

// fittedItem is like fitted for an item's value, but a cut item keeps its source
// whole when that takes at most half the room.
func fittedItem(it item, full string, room int) string {
	if runes(full) <= room || len(it.source) == 0 || len(it.body) == 0 {
		return fitted(it.value(), full, room)
	}
	source := render(it.source, -1)
	if runes(source) > room/2 {
		return fitted(it.value(), full, room)
	}
	return render(it.body, room-runes(source)-1) + "\n" + source
}

// share divides total characters among texts, none above its cap: short texts get
// what they need and the rest is shared evenly among the long ones.
func share(total int, texts []string, caps []int) []int {
	rooms := make([]int, len(texts))
	want := make([]int, len(texts))
	order := make([]int, len(texts))
	for i, t := range texts {
		want[i] = min(runes(t), caps[i])
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return want[a] - want[b] })
	for n, i := range order {
		fair := max(total, 0) / (len(order) - n)
		rooms[i] = min(want[i], fair)
		total -= rooms[i]
	}
	return rooms
}

// footerLen is the length of the embed's footer text.
func footerLen(e *discordgo.MessageEmbed) int {
	if e.Footer == nil {
		return 0
	}
	return runes(e.Footer.Text)
}

// embedLen counts an embed's characters as Discord does against its 6,000 limit.
func embedLen(e *discordgo.MessageEmbed) int {
	n := runes(e.Title) + runes(e.Description) + footerLen(e)
	for _, f := range e.Fields {
		n += runes(f.Name) + runes(f.Value)
	}
	if e.Author != nil {
		n += runes(e.Author.Name)
	}
	return n
}

// runes counts characters.
func runes(s string) int { return utf8.RuneCountInString(s) }

// clip shortens s to n runes, ending with "…".
func clip(s string, n int) string {
	if runes(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	rs := []rune(s)
	return string(rs[:syllableStart(rs, n-1)]) + ellipsis
}
