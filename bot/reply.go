package bot

import (
	"fmt"
	"strings"
)

// Style is how a span of text is shown.
type Style uint8

// The styles a span can have. Every platform can show them all, or fall back to plain
// text.
const (
	Plain Style = iota
	Bold
	Italic
	Code
	Link // Span.URL holds the target
)

// Span is a run of text in one style. Text is always as written by its author: each
// renderer escapes it for its platform.
type Span struct {
	Text  string
	Style Style
	URL   string // for Link
}

// Block is a paragraph: spans on one or more lines ("\n" inside a span breaks a line).
type Block []Span

// Tone says what kind of answer a reply is, so platforms can colour or mark it.
type Tone uint8

// The tones of a reply.
const (
	Info  Tone = iota // an ordinary answer
	Error             // the request could not be done; nothing changed
	Done              // a change was made
)

// Item is one entry of a list answer, such as an update. Platforms that show structure
// make it a unit of its own (a Discord embed field); elsewhere it is one paragraph, its
// parts on lines of their own.
type Item struct {
	Heading Block // one line that names the entry, e.g. "#12 · 2 Nov 2023 · [UNVERIFIED]"
	Body    Block // what follows the heading; may be empty
	// Source, when set, is the entry's last line, saying where it comes from: it is
	// kept whole when the entry must be shortened.
	Source Block
}

// Block returns the item as one paragraph: heading, body and source, each part that is
// not empty on lines of its own.
func (it Item) Block() Block {
	var blk Block
	for _, part := range []Block{it.Heading, it.Body, it.Source} {
		if len(part) == 0 {
			continue
		}
		if len(blk) > 0 {
			blk = append(blk, Span{Text: "\n"})
		}
		blk = append(blk, part...)
	}
	return blk
}

// Reply is a platform-neutral rich-text answer: a title, paragraphs, the entries of a
// list, and a closing note, shown in that order.
type Reply struct {
	Title  string  // a short heading; may be empty
	Blocks []Block // paragraphs, shown in order before the items
	// Items are the entries of a list answer (updates, platforms, …), shown after
	// the paragraphs.
	Items []Item
	// Footer is a closing note, such as how to read the status labels, shown last.
	Footer Block
	Tone   Tone
	// Private asks the platform to show the reply only to the asker where it can
	// (a Discord ephemeral reply). Errors are private.
	Private bool
	// Silent asks the platform not to notify (Telegram disable_notification).
	Silent bool
	// Status, when the reply is about one claim, is its verification status
	// ("unverified", "confirmed", …), which platforms may show as a colour. Such a
	// reply holds the claim as its only item, so that a platform can give it, and its
	// source, a place of their own.
	Status string
	// More, when set, is the command line (without the slash, at most 64 bytes) that
	// shows the next, older page; platforms offer it as a button where they can.
	More string
}

// Errorf returns a private error reply with a one-line message.
func Errorf(format string, args ...any) Reply {
	return Reply{Tone: Error, Private: true, Blocks: []Block{{{Text: fmt.Sprintf(format, args...)}}}}
}

// Text returns an informational reply of one plain paragraph.
func Text(format string, args ...any) Reply {
	return Reply{Blocks: []Block{{{Text: fmt.Sprintf(format, args...)}}}}
}

// Paragraphs returns the reply's paragraphs in reading order: its blocks, each item as
// one block, then the footer. It is the whole reply for a platform that shows text
// without structure.
func (r Reply) Paragraphs() []Block {
	out := make([]Block, 0, len(r.Blocks)+len(r.Items)+1)
	out = append(out, r.Blocks...)
	for _, it := range r.Items {
		out = append(out, it.Block())
	}
	if len(r.Footer) > 0 {
		out = append(out, r.Footer)
	}
	return out
}

// PlainText renders a reply as plain text, with links as "text (url)"; it is what a
// console shows, and what a platform that cannot format falls back to.
func PlainText(r Reply) string {
	var b strings.Builder
	if r.Title != "" {
		b.WriteString(r.Title)
		b.WriteString("\n")
	}
	for i, blk := range r.Paragraphs() {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, s := range blk {
			b.WriteString(s.Text)
			if s.Style == Link && s.URL != "" && s.URL != s.Text {
				b.WriteString(" (" + s.URL + ")")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Builder assembles a Block span by span. The zero value is ready to use.
type Builder struct {
	blk Block
}

// Plain appends plain text.
func (b *Builder) Plain(s string) *Builder { return b.add(Span{Text: s}) }

// Bold appends bold text.
func (b *Builder) Bold(s string) *Builder { return b.add(Span{Text: s, Style: Bold}) }

// Italic appends italic text.
func (b *Builder) Italic(s string) *Builder { return b.add(Span{Text: s, Style: Italic}) }

// Code appends monospaced text.
func (b *Builder) Code(s string) *Builder { return b.add(Span{Text: s, Style: Code}) }

// Link appends a link; with an empty URL it is plain text.
func (b *Builder) Link(text, url string) *Builder {
	if url == "" {
		return b.Plain(text)
	}
	return b.add(Span{Text: text, Style: Link, URL: url})
}

// Line ends the current line.
func (b *Builder) Line() *Builder { return b.Plain("\n") }

// Block returns what was built and resets the builder.
func (b *Builder) Block() Block {
	blk := b.blk
	b.blk = nil
	// A trailing line break is the paragraph's end, not content.
	if n := len(blk); n > 0 && blk[n-1].Style == Plain && blk[n-1].Text == "\n" {
		blk = blk[:n-1]
	}
	return blk
}

func (b *Builder) add(s Span) *Builder {
	if s.Text != "" {
		b.blk = append(b.blk, s)
	}
	return b
}
