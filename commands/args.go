package commands

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sitrep-bot/sitrep/bot"
)

// Limits on what a request may carry.
const (
	maxRequestLen = 4000 // bytes of argument text
	maxNameLen    = 100  // runes in a town, group or identity argument
)

// args holds a request's arguments by parameter name, however they were given.
type args map[string][]string

// get returns the first value of a parameter, or "".
func (a args) get(name string) string {
	if v := a[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// has reports whether a parameter was given.
func (a args) has(name string) bool { return len(a[name]) > 0 }

// token is a word of argument text and where it starts.
type token struct {
	text   string // unquoted
	offset int    // byte offset of the token in the argument text
	quoted bool
}

// tokenize splits argument text at white space, keeping "double quoted" runs (also
// after a key:) as one word.
func tokenize(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		start := i
		var b strings.Builder
		quoted := false
		for i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				break
			}
			if r == '"' || r == '“' || r == '”' {
				end := strings.IndexAny(s[i+size:], "\"”")
				if end < 0 {
					return nil, problemf("A quote is not closed.")
				}
				b.WriteString(s[i+size : i+size+end])
				_, q := utf8.DecodeRuneInString(s[i+size+end:])
				i += size + end + q
				quoted = true
				continue
			}
			b.WriteRune(r)
			i += size
		}
		out = append(out, token{text: b.String(), offset: start, quoted: quoted})
	}
	return out, nil
}

// parseArgs reads a request's arguments against a command's parameters: typed options
// as given, or argument text as leading key:value words, one word per positional
// parameter, and the rest of the text for the last one. With ownText, argument text is
// only checked for length and left to the handler.
func parseArgs(c bot.Command, req *bot.Request, ownText bool) (args, error) {
	a := args{}
	if req.Options != nil {
		for _, p := range c.Params {
			if v, ok := req.Options[p.Name]; ok && strings.TrimSpace(v) != "" {
				a[p.Name] = []string{strings.TrimSpace(v)}
			}
		}
		return a, checkArgs(c, a)
	}
	text := req.Text
	if len(text) > maxRequestLen {
		return nil, problemf("That is too long (%d characters); at most %d.", utf8.RuneCountInString(text), maxRequestLen)
	}
	if ownText {
		if strings.ContainsFunc(text, unicode.IsControl) {
			return nil, problemf("The text contains a control character.")
		}
		return a, nil
	}
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	var positional []bot.Param
	for _, p := range c.Params {
		if !p.Keyed {
			positional = append(positional, p)
		}
	}
	// Leading key:value words.
	for len(toks) > 0 {
		key, val, ok := strings.Cut(toks[0].text, ":")
		if !ok || startsWithQuote(text[toks[0].offset:]) {
			break
		}
		p, found := keyedParam(c, key)
		if !found {
			break
		}
		if val == "" {
			return nil, problemf("%s: needs a value, e.g. %s:%s.", p.Name, p.Name, example(p))
		}
		if a.has(p.Name) && !p.Repeat {
			return nil, problemf("%s: is given twice.", p.Name)
		}
		a[p.Name] = append(a[p.Name], val)
		toks = toks[1:]
	}
	for i, p := range positional {
		if len(toks) == 0 {
			break
		}
		if i == len(positional)-1 {
			rest := strings.TrimSpace(text[toks[0].offset:])
			if len(toks) == 1 {
				rest = toks[0].text // unquoted
			}
			a[p.Name] = []string{rest}
			toks = nil
			break
		}
		a[p.Name] = []string{toks[0].text}
		toks = toks[1:]
	}
	if len(toks) > 0 {
		return nil, problemf("Too many arguments.")
	}
	return a, checkArgs(c, a)
}

// keyedParam finds a keyed parameter by its key, ignoring case.
func keyedParam(c bot.Command, key string) (bot.Param, bool) {
	for _, p := range c.Params {
		if p.Keyed && strings.EqualFold(p.Name, key) {
			return p, true
		}
	}
	return bot.Param{}, false
}

// checkArgs enforces required parameters, choices, integer bounds, name lengths and
// the absence of control characters.
func checkArgs(c bot.Command, a args) error {
	for _, p := range c.Params {
		vals := a[p.Name]
		if len(vals) == 0 {
			if p.Required {
				return problemf("Missing %s.", p.Name)
			}
			continue
		}
		for i, v := range vals {
			if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
				return problemf("%s contains a control character.", p.Name)
			}
			switch p.Kind {
			case bot.Town, bot.GroupName:
				if utf8.RuneCountInString(v) > maxNameLen {
					return problemf("That %s name is too long (at most %d characters).", p.Name, maxNameLen)
				}
			case bot.Integer:
				n, err := parseInt(v)
				if err != nil {
					return problemf("%s must be a whole number, not %q.", p.Name, clip(v, 20))
				}
				if p.Max > 0 && (n < p.Min || n > p.Max) {
					return problemf("%s must be between %d and %d.", p.Name, p.Min, p.Max)
				}
				vals[i] = strconv.Itoa(n)
			}
			if len(p.Choices) > 0 {
				ok := false
				for _, ch := range p.Choices {
					if strings.EqualFold(v, ch) {
						vals[i], ok = ch, true
					}
				}
				if !ok {
					return problemf("%s must be one of %s, not %q.", p.Name, strings.Join(p.Choices, ", "), clip(v, 20))
				}
			}
		}
	}
	return nil
}

// parseInt reads a whole number written in ASCII or Burmese digits (၁၂ is 12), with
// an optional leading '#'.
func parseInt(s string) (int, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	s = strings.Map(func(r rune) rune {
		if r >= '၀' && r <= '၉' {
			return '0' + (r - '၀')
		}
		return r
	}, s)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("parse number %q: %w", s, err)
	}
	return n, nil
}

// example gives a sample value for a parameter in an error message.
func example(p bot.Param) string {
	switch {
	case len(p.Choices) > 0:
		return p.Choices[0]
	case p.Kind == bot.Town:
		return "Lashio"
	case p.Kind == bot.GroupName:
		return "MNDAA"
	case p.Kind == bot.Integer:
		return "5"
	}
	return "…"
}

// clip shortens s to at most n runes for quoting back to a user.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// startsWithQuote reports whether s begins with a double quote.
func startsWithQuote(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '"' || r == '“'
}
