package names

import (
	"strings"
	"unicode"
)

// maxWords is the longest run of words a known name may span ("Three Brotherhood
// Alliance" is three).
const maxWords = 5

// Finder finds the known names that a piece of free text mentions. The zero value knows
// no names; build one with NewFinder.
type Finder struct {
	latin  map[string]bool // keys matched as whole runs of words
	script []string        // keys in other scripts, matched inside the folded text
}

// NewFinder returns a Finder for the given keys (as made by Key).
func NewFinder(keys []string) *Finder {
	f := &Finder{latin: make(map[string]bool, len(keys))}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if isLatin(k) {
			f.latin[k] = true
		} else {
			f.script = append(f.script, k)
		}
	}
	return f
}

// Find returns the keys of the known names mentioned in text, each once, in the order
// they are first mentioned (names in other scripts after the Latin ones). Latin names
// match whole words only, longest first: "Chin Shwe Haw" is one mention, and "AA" does
// not match inside "AAA".
func (f *Finder) Find(text string) []string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '\'' || r == '’' || r == '-')
	})
	keys := make([]string, len(words))
	for i, w := range words {
		// A possessive names the same thing: "the junta's troops".
		for _, suffix := range []string{"'s", "’s"} {
			w = strings.TrimSuffix(w, suffix)
		}
		keys[i] = Key(w)
	}
	var found []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			found = append(found, k)
		}
	}
	for i := 0; i < len(keys); {
		n := min(maxWords, len(keys)-i)
		for ; n > 0; n-- {
			if k := strings.Join(keys[i:i+n], ""); f.latin[k] {
				add(k)
				break
			}
		}
		i += max(n, 1)
	}
	if len(f.script) > 0 {
		folded := Key(text)
		for _, k := range f.script {
			if strings.Contains(folded, k) {
				add(k)
			}
		}
	}
	return found
}

// isLatin reports whether every letter of key is Latin (digits allowed).
func isLatin(key string) bool {
	for _, r := range key {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return true
}
