package telegram

import (
	"html"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sitrep-bot/sitrep/bot"
)

// maxMessage is how many characters one Telegram message may hold.
const maxMessage = 4096

// HTML renders a reply in Telegram's HTML parse mode. Every text is escaped with
// html.EscapeString (tgbotapi's EscapeText leaves quotes alone, which breaks href
// attributes), and no tag spans a line break, so that a message can be split at any
// line. Items and the footer are paragraphs like the others (bot.Reply.Paragraphs).
func HTML(r bot.Reply) string {
	var b strings.Builder
	b.Grow(replySize(r) + replySize(r)/8 + 64)
	if r.Title != "" {
		b.WriteString("<b>")
		escape(&b, r.Title)
		b.WriteString("</b>\n")
	}
	first := r.Title == ""
	// paragraph writes one paragraph made of parts on lines of their own, as
	// bot.Item.Block joins them, without building the joined block.
	paragraph := func(parts ...bot.Block) {
		if !first {
			b.WriteString("\n")
		}
		first = false
		wrote := false
		for _, part := range parts {
			if len(part) == 0 {
				continue
			}
			if wrote {
				b.WriteString("\n")
			}
			wrote = true
			for _, sp := range part {
				writeSpan(&b, sp)
			}
		}
		b.WriteString("\n")
	}
	for _, blk := range r.Blocks {
		paragraph(blk)
	}
	for _, it := range r.Items {
		paragraph(it.Heading, it.Body, it.Source)
	}
	if len(r.Footer) > 0 {
		paragraph(r.Footer)
	}
	return strings.TrimRight(b.String(), "\n")
}

// replySize is about the length of a reply's rendering, to size its buffer once.
func replySize(r bot.Reply) int {
	n := len(r.Title)
	add := func(blk bot.Block) {
		for _, sp := range blk {
			n += len(sp.Text) + len(sp.URL) + 16
		}
	}
	for _, blk := range r.Blocks {
		add(blk)
	}
	for _, it := range r.Items {
		add(it.Heading)
		add(it.Body)
		add(it.Source)
	}
	add(r.Footer)
	return n
}

// escape writes s with html.EscapeString's escaping; text without a special character,
// which is most of it, is written as it is.
func escape(b *strings.Builder, s string) {
	if strings.ContainsAny(s, `<>&'"`) {
		s = html.EscapeString(s)
	}
	b.WriteString(s)
}

// writeSpan writes one span, line by line, each line wrapped in the span's tag.
func writeSpan(b *strings.Builder, sp bot.Span) {
	open, closeTag := "", ""
	switch sp.Style {
	case bot.Bold:
		open, closeTag = "<b>", "</b>"
	case bot.Italic:
		open, closeTag = "<i>", "</i>"
	case bot.Code:
		open, closeTag = "<code>", "</code>"
	case bot.Link:
		if webLink(sp.URL) {
			open, closeTag = `<a href="`+html.EscapeString(sp.URL)+`">`, "</a>"
		}
	}
	for rest, first := sp.Text, true; ; first = false {
		line, more, found := strings.Cut(rest, "\n")
		if !first {
			b.WriteString("\n")
		}
		if line != "" {
			b.WriteString(open)
			escape(b, line)
			b.WriteString(closeTag)
		}
		if !found {
			return
		}
		rest = more
	}
}

// Split cuts rendered HTML into messages of at most max characters: at line breaks
// where it can, and a line that is too long on its own between words, or else between
// characters, but never inside a tag, an entity, a character or a Burmese syllable (a
// letter with its marks, or a consonant stacked under a virama); a tag open at a cut is
// closed before it and opened again after it.
func Split(text string, max int) []string {
	if utf8.RuneCountInString(text) <= max {
		return []string{text}
	}
	var out []string
	var cur strings.Builder
	curLen := 0
	flush := func() {
		if s := strings.Trim(cur.String(), "\n"); s != "" {
			out = append(out, s)
		}
		cur.Reset()
		curLen = 0
	}
	for _, line := range strings.Split(text, "\n") {
		n := utf8.RuneCountInString(line)
		if curLen > 0 && curLen+1+n > max {
			flush()
		}
		if n > max {
			pieces := splitLine(line, max)
			out = append(out, pieces[:len(pieces)-1]...)
			line = pieces[len(pieces)-1]
			n = utf8.RuneCountInString(line)
		}
		if curLen > 0 {
			cur.WriteString("\n")
			curLen++
		}
		cur.WriteString(line)
		curLen += n
	}
	flush()
	return out
}

// token is a piece of an HTML line that must not be cut: a tag, an entity, or a
// character with the marks that follow it.
type token struct {
	text  string
	open  string // the tag it opens, e.g. "<b>"
	close bool   // it closes the innermost open tag
	space bool   // a space: a good place to cut after
}

// tokens splits an HTML line into uncuttable pieces.
func tokens(line string) []token {
	var out []token
	for i := 0; i < len(line); {
		switch line[i] {
		case '<':
			j := strings.IndexByte(line[i:], '>')
			if j < 0 {
				j = len(line) - i - 1
			}
			t := line[i : i+j+1]
			out = append(out, token{text: t, open: openTag(t), close: strings.HasPrefix(t, "</")})
			i += j + 1
			continue
		case '&':
			if j := strings.IndexByte(line[i:], ';'); j > 0 && j < 10 {
				out = append(out, token{text: line[i : i+j+1]})
				i += j + 1
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		j := i + size
		// Keep the marks that follow, and a consonant stacked under a virama.
		for j < len(line) {
			next, nsize := utf8.DecodeRuneInString(line[j:])
			prev, _ := utf8.DecodeLastRuneInString(line[:j])
			if !unicode.In(next, unicode.Mn, unicode.Mc) && prev != '\u1039' && next != '\u200d' && prev != '\u200d' {
				break
			}
			j += nsize
		}
		out = append(out, token{text: line[i:j], space: unicode.IsSpace(r)})
		i = j
	}
	return out
}

// openTag returns t if it is an opening tag.
func openTag(t string) string {
	if strings.HasPrefix(t, "</") || !strings.HasPrefix(t, "<") {
		return ""
	}
	return t
}

// tagName returns "b" for "<b>" or `<a href="…">`.
func tagName(open string) string {
	name := strings.TrimPrefix(open, "<")
	if i := strings.IndexAny(name, " >"); i >= 0 {
		name = name[:i]
	}
	return name
}

// splitLine cuts one line into pieces of at most max characters.
func splitLine(line string, max int) []string {
	toks := tokens(line)
	var out []string
	var stack []string // open tags
	start := 0         // first token of the current piece
	for start < len(toks) {
		// Room for the tags to reopen and to close.
		budget := max
		for _, o := range stack {
			budget -= utf8.RuneCountInString(o) + len(tagName(o)) + 3
		}
		n, end, lastSpace := 0, start, -1
		for end < len(toks) && n+utf8.RuneCountInString(toks[end].text) <= budget {
			n += utf8.RuneCountInString(toks[end].text)
			if toks[end].space {
				lastSpace = end
			}
			end++
		}
		if end < len(toks) && lastSpace > start {
			end = lastSpace + 1
		}
		if end == start {
			end++ // a single token longer than max: it cannot be cut
		}
		var b strings.Builder
		for _, o := range stack {
			b.WriteString(o)
		}
		for _, t := range toks[start:end] {
			b.WriteString(t.text)
			switch {
			case t.open != "":
				stack = append(stack, t.open)
			case t.close && len(stack) > 0:
				stack = stack[:len(stack)-1]
			}
		}
		for i := len(stack) - 1; i >= 0; i-- {
			b.WriteString("</" + tagName(stack[i]) + ">")
		}
		out = append(out, b.String())
		start = end
	}
	return out
}

// webLink reports whether raw is an absolute http or https URL, the only links a
// message carries.
func webLink(raw string) bool {
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && u.Host != ""
}
