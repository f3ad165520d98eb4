package discord

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// update is an update as the commands render it: a heading in bold, the text, and a
// source line naming the towns and the source.
func update(id int, status, text, source, link string) bot.Item {
	var b bot.Builder
	var it bot.Item
	it.Heading = b.Bold(fmt.Sprintf("#%d", id)).Plain(" · 2 Nov 2023 · ").Bold("[" + strings.ToUpper(status) + "]").Block()
	it.Body = b.Plain("Claimed by ").Bold("MNDAA").Plain(": " + text).Block()
	it.Source = b.Plain("Hsenwi, Lashio · Source: ").Link(source, link).Block()
	return it
}

// note is the closing note of a list of updates.
var note = bot.Block{{Text: "Claims are unverified unless marked [CONFIRMED].", Style: bot.Italic}}

// checkLimits fails the test where an embed breaks one of Discord's limits.
func checkLimits(t *testing.T, e *discordgo.MessageEmbed) {
	t.Helper()
	n := utf8.RuneCountInString
	if n(e.Title) > maxTitle || n(e.Description) > maxDescription || len(e.Fields) > maxFields || embedLen(e) > maxEmbedTotal {
		t.Errorf("title %d, description %d, %d fields, %d in all", n(e.Title), n(e.Description), len(e.Fields), embedLen(e))
	}
	if e.Footer != nil && n(e.Footer.Text) > maxFooter {
		t.Errorf("footer %d", n(e.Footer.Text))
	}
	for i, f := range e.Fields {
		if n(f.Name) > maxFieldName || n(f.Value) > maxFieldValue || f.Name == "" || f.Value == "" {
			t.Errorf("field %d: name %d, value %d", i, n(f.Name), n(f.Value))
		}
	}
	total := 0
	for _, f := range e.Fields {
		total += n(f.Name) + n(f.Value)
	}
	if e.Footer != nil {
		total += n(e.Footer.Text)
	}
	if total += n(e.Title) + n(e.Description); total != embedLen(e) {
		t.Errorf("embedLen %d, counted %d", embedLen(e), total)
	}
}

func TestListIsFieldsWithFooter(t *testing.T) {
	r := bot.Reply{Title: "Latest 2, as of 2 Nov 2023", More: "latest page:2 2", Items: []bot.Item{
		update(12, "unverified", "The alliance claims complete control of Hseni.", "Irrawaddy", "https://www.irrawaddy.com/x"),
		update(11, "confirmed", "Fighting near Lashio.", "Myanmar-Now", "https://myanmar-now.org/y"),
	}, Footer: note}
	e := Embed(r)
	checkLimits(t, e)
	if e.Description != "" || len(e.Fields) != 2 || e.Footer == nil || e.Footer.Text != "Claims are unverified unless marked [CONFIRMED]." {
		t.Fatalf("embed = %+v", e)
	}
	if f := e.Fields[0]; f.Name != "#12 · 2 Nov 2023 · [UNVERIFIED]" ||
		f.Value != "Claimed by **MNDAA**: The alliance claims complete control of Hseni.\nHsenwi, Lashio · Source: [Irrawaddy](<https://www.irrawaddy.com/x>)" {
		t.Errorf("field = %q / %q", f.Name, f.Value)
	}
	// An introduction stays the description.
	r.Blocks = []bot.Block{{{Text: "Control: "}, {Text: "MNDAA", Style: bot.Bold}}}
	if e := Embed(r); e.Description != "Control: **MNDAA**" || len(e.Fields) != 2 {
		t.Errorf("with an introduction: %q, %d fields", e.Description, len(e.Fields))
	}
}

func TestItemsAreFieldsWhateverTheirStyle(t *testing.T) {
	// Structure comes from the reply, not from styles: a plain paragraph that starts in
	// bold stays in the description, an italic one is not taken for the footer, and
	// an item is a field even with a heading in plain text and no body.
	r := bot.Reply{Title: "Deliveries of update #3",
		Blocks: []bot.Block{{{Text: "Bold", Style: bot.Bold}, {Text: " start\nsecond line"}}, {{Text: "in italics", Style: bot.Italic}}},
		Items: []bot.Item{
			{Heading: bot.Block{{Text: "telegram", Style: bot.Bold}, {Text: ": 2 sent, 0 pending, 1 failed"}}, Body: bot.Block{{Text: "• failed new to -100: blocked"}}},
			{Heading: bot.Block{{Text: "discord: 1 sent, 0 pending, 0 failed"}}},
			{Body: bot.Block{{Text: "no heading"}}},
		}}
	e := Embed(r)
	checkLimits(t, e)
	if e.Description != "**Bold** start\nsecond line\n\n*in italics*" || e.Footer != nil {
		t.Fatalf("description %q, footer %+v", e.Description, e.Footer)
	}
	want := [][2]string{
		{"telegram: 2 sent, 0 pending, 1 failed", "• failed new to -100: blocked"},
		{"discord: 1 sent, 0 pending, 0 failed", "\u200b"},
		{"\u200b", "no heading"},
	}
	if len(e.Fields) != len(want) {
		t.Fatalf("%d fields", len(e.Fields))
	}
	for i, w := range want {
		if f := e.Fields[i]; f.Name != w[0] || f.Value != w[1] {
			t.Errorf("field %d = %q / %q, want %q / %q", i, f.Name, f.Value, w[0], w[1])
		}
	}
}

func TestOneClaimHasItsSourceInTheFooter(t *testing.T) {
	r := bot.Reply{Title: "sitrep update", Status: "confirmed", Items: []bot.Item{
		update(25, "confirmed", "Theinni was among the first towns to fall.", "Irrawaddy", "https://www.irrawaddy.com/z"),
	}}
	e := Embed(r)
	checkLimits(t, e)
	if e.Footer == nil || e.Footer.Text != "Hsenwi, Lashio · Source: Irrawaddy" || e.URL != "https://www.irrawaddy.com/z" {
		t.Fatalf("footer %+v, url %q", e.Footer, e.URL)
	}
	if !strings.HasPrefix(e.Description, "**#25** · 2 Nov 2023 · **\\[CONFIRMED\\]**\nClaimed by **MNDAA**") || strings.Contains(e.Description, "Source") || len(e.Fields) != 0 {
		t.Errorf("description %q, %d fields", e.Description, len(e.Fields))
	}
	if e.Color != 0x16A34A {
		t.Errorf("colour %x", e.Color)
	}
	// A confirmation without a title: the claim follows the message, its source in
	// the footer if it has no link to lose, else the claim is a field.
	r = bot.Reply{Tone: bot.Done, Status: "confirmed", Blocks: []bot.Block{{{Text: "Update #25 is now confirmed."}}},
		Items: []bot.Item{update(25, "confirmed", "Theinni fell.", "Irrawaddy", "")}}
	if e := Embed(r); e.Footer == nil || e.Footer.Text != "Hsenwi, Lashio · Source: Irrawaddy" || e.URL != "" ||
		!strings.HasPrefix(e.Description, "Update #25 is now confirmed.\n\n**#25**") || len(e.Fields) != 0 {
		t.Errorf("no title, no link: %+v", e)
	}
	r.Items[0] = update(25, "confirmed", "Theinni fell.", "Irrawaddy", "https://www.irrawaddy.com/z")
	if e := Embed(r); e.Footer != nil || e.Description != "Update #25 is now confirmed." || len(e.Fields) != 1 ||
		!strings.HasSuffix(e.Fields[0].Value, "[Irrawaddy](<https://www.irrawaddy.com/z>)") {
		t.Errorf("no title, a link: %+v", e)
	}
}

func TestVeryLongAnswersStayWithinEveryLimit(t *testing.T) {
	long := strings.Repeat("@everyone *Fighting* near [Lashio](http://x) မြို့နယ် ", 120) // ~6,000 characters, Burmese included
	var items []bot.Item
	for i := range 25 {
		var b bot.Builder
		items = append(items, bot.Item{
			Heading: b.Bold(fmt.Sprintf("#%d", i+1)).Plain(" · " + strings.Repeat("heading ", 60)).Block(),
			Body:    b.Plain(long).Block(),
			Source:  b.Plain("Source: ").Link("Irrawaddy", "https://www.irrawaddy.com").Block(),
		})
	}
	note := bot.Block{{Text: strings.Repeat("A note. ", 400), Style: bot.Italic}}
	cases := map[string]bot.Reply{
		"25 long items":      {Title: strings.Repeat("T", 300), Blocks: []bot.Block{{{Text: long}}}, Items: items, Footer: note},
		"30 items":           {Title: "Latest 30", Items: append(slices.Clip(items), items[:5]...), Footer: note},
		"one long claim":     {Title: "sitrep update", Status: "unverified", Items: []bot.Item{update(1, "unverified", long, long, "https://x.org")}, Footer: note},
		"one long paragraph": {Blocks: []bot.Block{{{Text: long + long}}}},
		"many short paragraphs": {Blocks: func() (bs []bot.Block) {
			for range 800 {
				bs = append(bs, bot.Block{{Text: "Fighting reported near Lashio.", Style: bot.Bold}})
			}
			return bs
		}()},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			e := Embed(r)
			checkLimits(t, e)
			if embedLen(e) < maxEmbedTotal/2 {
				t.Errorf("only %d characters used of %d", embedLen(e), maxEmbedTotal)
			}
			texts := []string{e.Description}
			for _, f := range e.Fields {
				texts = append(texts, f.Value)
			}
			for _, s := range texts {
				if strings.Count(s, "**")%2 != 0 || strings.Contains(s, "@everyone") {
					t.Errorf("markup cut or a mention left: %q", s)
				}
				// A cut never separates a Burmese letter from its marks.
				if i := strings.Index(s, "…"); i > 0 {
					before, _ := utf8.DecodeLastRuneInString(s[:i])
					if before == '\u1039' {
						t.Errorf("cut after a virama: %q", s[max(0, i-20):i])
					}
				}
			}
			// Through an interaction response and a channel message too.
			for _, body := range []any{Response(r), message(r)} {
				raw, err := json.Marshal(body)
				if err != nil {
					t.Fatal(err)
				}
				var m struct {
					Content string `json:"content"`
					Data    struct {
						Content string `json:"content"`
					} `json:"data"`
				}
				_ = json.Unmarshal(raw, &m)
				if utf8.RuneCountInString(m.Content) > maxContent || utf8.RuneCountInString(m.Data.Content) > maxContent {
					t.Errorf("content too long")
				}
			}
		})
	}
	if e := Embed(cases["25 long items"]); len(e.Fields) != 25 || !strings.HasSuffix(e.Fields[24].Value, "…") {
		t.Errorf("25 items: %d fields", len(e.Fields))
	}
	if e := Embed(cases["30 items"]); len(e.Fields) != 0 || !strings.HasPrefix(e.Description, "**#1** · heading") || e.Footer == nil {
		t.Errorf("more items than fields should be one description under the footer, got %d fields, footer %+v", len(e.Fields), e.Footer)
	}
}

func TestCutsKeepSyllablesWhole(t *testing.T) {
	text := strings.Repeat("မြို့နယ်", 100) // letters with vowel signs, medials, asat
	for n := 2; n < 60; n++ {
		s := render([]line{{{Text: text}}}, n)
		if utf8.RuneCountInString(s) > n || !strings.HasSuffix(s, "…") {
			t.Fatalf("render(%d) = %q", n, s)
		}
		rest := []rune(strings.TrimPrefix(text, strings.TrimSuffix(s, "…")))
		if len(rest) > 0 && (unicode.In(rest[0], unicode.Mn, unicode.Mc) || rest[0] == '\u103a') {
			t.Errorf("render(%d) cut before the mark %U", n, rest[0])
		}
	}
}

func TestACutItemKeepsItsSource(t *testing.T) {
	long := strings.Repeat("Fighting near Lashio. ", 200)
	e := Embed(bot.Reply{Title: "Latest 2", Items: []bot.Item{
		update(2, "unverified", long, "Irrawaddy", "https://www.irrawaddy.com/a"),
		update(1, "unverified", "Short.", "AP", "https://apnews.com/b"),
	}})
	checkLimits(t, e)
	if v := e.Fields[0].Value; !strings.HasSuffix(v, "…\nHsenwi, Lashio · Source: [Irrawaddy](<https://www.irrawaddy.com/a>)") || utf8.RuneCountInString(v) < maxFieldValue-30 {
		t.Errorf("cut field = %q", v)
	}
}
