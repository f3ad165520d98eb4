package commands

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sitrep-bot/sitrep/bot"
)

// FuzzParseArgs feeds arbitrary argument text to every command's parser: it must never
// panic, must answer either arguments or a problem meant for the user, and what it
// accepts must satisfy the declared parameters.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		"", "5", "၁၂", "Theinni", "Chin Shwe Haw", `"Chin Shwe Haw" MNDAA 3`,
		"claim:MNDAA source:https://www.irrawaddy.com date:2023-10-30 town:Kunlong 41 soldiers left",
		`source:"Myanmar Now" text`, `claim:"unclosed`, "town: x", "a:b:c d", "\x00\x01", "<b>x</b> *y*",
		"1 confirmed note", "add telegram:1 admin", strings.Repeat("x ", 100),
	} {
		f.Add(seed)
	}
	s := &Set{}
	decls := s.declarations()
	f.Fuzz(func(t *testing.T, text string) {
		for _, c := range decls {
			a, err := parseArgs(c.Command, &bot.Request{Command: c.Name, Text: text}, c.ownText)
			if err != nil {
				if _, ok := err.(*problem); !ok {
					t.Fatalf("/%s %q: error %v is not a problem for the user", c.Name, text, err)
				}
				continue
			}
			if c.ownText {
				continue
			}
			for _, p := range c.Params {
				vals := a[p.Name]
				if p.Required && len(vals) == 0 {
					t.Fatalf("/%s %q: accepted without required %s", c.Name, text, p.Name)
				}
				if len(vals) > 1 && !p.Repeat {
					t.Fatalf("/%s %q: %s given %d times", c.Name, text, p.Name, len(vals))
				}
				for _, v := range vals {
					if !utf8.ValidString(v) && utf8.ValidString(text) {
						t.Fatalf("/%s %q: %s = %q is not valid UTF-8", c.Name, text, p.Name, v)
					}
					if p.Kind == bot.Integer {
						n, err := parseInt(v)
						if err != nil || p.Max > 0 && (n < p.Min || n > p.Max) {
							t.Fatalf("/%s %q: %s = %q out of bounds", c.Name, text, p.Name, v)
						}
					}
				}
			}
		}
	})
}
