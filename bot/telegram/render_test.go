package telegram

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sitrep-bot/sitrep/bot"
)

func TestHTMLEscapesEverything(t *testing.T) {
	var b bot.Builder
	b.Bold(`#1 <script>`).Plain(` & "x" <b>not bold</b>`).Line().Link(`a"b`, `https://example.org/?q="><script>`).Plain(" ").Link("bad", "javascript:alert(1)")
	got := HTML(bot.Reply{Title: "T<", Blocks: []bot.Block{b.Block()}})
	want := "<b>T&lt;</b>\n\n<b>#1 &lt;script&gt;</b> &amp; &#34;x&#34; &lt;b&gt;not bold&lt;/b&gt;\n" +
		`<a href="https://example.org/?q=&#34;&gt;&lt;script&gt;">a&#34;b</a> bad`
	if got != want {
		t.Fatalf("HTML =\n%s\nwant\n%s", got, want)
	}
}

func TestItemsAndFooterAreParagraphs(t *testing.T) {
	var b bot.Builder
	r := bot.Reply{
		Title:  "Latest 1",
		Blocks: []bot.Block{{{Text: "Newest first:"}}},
		Items: []bot.Item{{
			Heading: b.Bold("#2").Plain(" · ").Bold("[UNVERIFIED]").Block(),
			Body:    b.Plain("Claimed by ").Bold("MNDAA").Plain(": a & b").Block(),
			Source:  b.Plain("Source: ").Link("Irrawaddy", "https://www.irrawaddy.com").Block(),
		}},
		Footer: bot.Block{{Text: "Claims are unverified unless marked [CONFIRMED].", Style: bot.Italic}},
	}
	want := "<b>Latest 1</b>\n\nNewest first:\n\n<b>#2</b> · <b>[UNVERIFIED]</b>\nClaimed by <b>MNDAA</b>: a &amp; b\n" +
		`Source: <a href="https://www.irrawaddy.com">Irrawaddy</a>` + "\n\n<i>Claims are unverified unless marked [CONFIRMED].</i>"
	if got := HTML(r); got != want {
		t.Fatalf("HTML =\n%s\nwant\n%s", got, want)
	}
}

// balanced reports whether every tag opened in s is closed, in order.
func balanced(s string) bool {
	var stack []string
	for _, tok := range tokens(s) {
		switch {
		case tok.open != "":
			stack = append(stack, tagName(tok.open))
		case tok.close:
			if len(stack) == 0 || "</"+stack[len(stack)-1]+">" != tok.text {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0
}

func TestSplitLongAnswers(t *testing.T) {
	var lines []string
	for i := range 200 {
		lines = append(lines, "<b>#"+strings.Repeat("x", i%7)+"</b> line about Laukkai &amp; Lashio, "+strings.Repeat("word ", 4))
	}
	text := strings.Join(lines, "\n")
	if n := utf8.RuneCountInString(text); n < 6000 {
		t.Fatalf("test text is only %d characters", n)
	}
	parts := Split(text, maxMessage)
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	if strings.Join(parts, "\n") != text {
		t.Fatal("splitting at lines lost or changed text")
	}
	for i, p := range parts {
		if utf8.RuneCountInString(p) > maxMessage || !balanced(p) {
			t.Fatalf("part %d: %d characters, balanced %v", i, utf8.RuneCountInString(p), balanced(p))
		}
	}
}

func TestSplitOneLongLineKeepsTagsAndSyllables(t *testing.T) {
	burmese := "လားရှိုးမြို့ကို တိုက်ခိုက်ခဲ့သည် " // letters with stacked marks and medials
	line := "<b>" + strings.Repeat(burmese, 300) + "</b> <i>" + strings.Repeat("ႏွ", 50) + "</i>"
	parts := Split(line, 500)
	if len(parts) < 10 {
		t.Fatalf("%d parts", len(parts))
	}
	var plain strings.Builder
	for i, p := range parts {
		if utf8.RuneCountInString(p) > 500 {
			t.Fatalf("part %d has %d characters", i, utf8.RuneCountInString(p))
		}
		if !balanced(p) || !utf8.ValidString(p) {
			t.Fatalf("part %d is not whole: %q", i, p)
		}
		r, _ := utf8.DecodeRuneInString(strings.TrimPrefix(strings.TrimPrefix(p, "<b>"), "<i>"))
		if r >= 0x102B && r <= 0x103E && r != 0x103F { // a dependent sign would start the piece
			t.Fatalf("part %d starts inside a syllable: %q", i, p[:12])
		}
		plain.WriteString(strings.NewReplacer("<b>", "", "</b>", "", "<i>", "", "</i>", "").Replace(p))
	}
	if plain.String() != strings.NewReplacer("<b>", "", "</b>", "", "<i>", "", "</i>", "").Replace(line) {
		t.Fatal("the pieces do not add up to the line")
	}
}
