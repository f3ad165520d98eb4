// Package names matches the names people type against the names sitrep knows:
// it folds case, diacritics, spacing and punctuation into one key, measures how far
// a typo is from a known name, and finds every known name mentioned in free text.
package names

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Key folds a name into the form it is matched and indexed by: Unicode-normalised,
// case-folded, Latin diacritics removed, and spaces, hyphens, apostrophes and other
// punctuation dropped. "Chin Shwe Haw", "chin-shwe-haw" and "Chìn Shwé Haw" share a
// key. Burmese script keeps its vowel signs and is only normalised.
func Key(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	latinBase := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r):
			// A combining mark: drop it on a Latin letter (a diacritic),
			// keep it on any other script (Burmese vowel signs, for instance).
			if !latinBase {
				b.WriteRune(r)
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			latinBase = unicode.Is(unicode.Latin, r)
			b.WriteRune(r)
		default:
			latinBase = false
		}
	}
	return norm.NFC.String(cases.Fold().String(b.String()))
}

// Distance is the optimal-string-alignment edit distance between a and b:
// insertions, deletions, substitutions and swaps of two neighbouring runes each cost one,
// so "thienni" is one edit from "theinni".
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows: two back (for swaps), previous, current.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Tolerance is how many edits a typed key of this length may be from a known key and
// still count as a typo of it: none for very short names (AA, KIA), one up to six
// runes, two beyond.
func Tolerance(key string) int {
	switch n := utf8.RuneCountInString(key); {
	case n <= 3:
		return 0
	case n <= 6:
		return 1
	default:
		return 2
	}
}

// prefixDistance is how far q is from the start of k, plus one for being incomplete;
// a k no longer than q gets no such credit.
func prefixDistance(q, k string) int {
	qr, kr := []rune(q), []rune(k)
	if len(kr) <= len(qr) || len(qr) < 3 {
		return 1 << 30
	}
	return Distance(q, string(kr[:len(qr)])) + 1
}

// Candidate is a known name and how far a query was from it.
type Candidate struct {
	Key      string // the known name's key
	Distance int    // edits from the query's key
}

// Closest ranks known keys by their distance from query's key, nearest first (ties by
// key), and returns at most limit of them within maxDistance edits. A known key that
// starts with the query counts as one edit away, so "laukk" suggests "laukkai", and one
// that starts with a typo of it as one more ("thien" is two from "theinni").
func Closest(query string, known []string, limit, maxDistance int) []Candidate {
	q := Key(query)
	qn := utf8.RuneCountInString(q)
	var out []Candidate
	for _, k := range known {
		var d int
		switch kn := utf8.RuneCountInString(k); {
		case k == q:
			d = 0
		case q != "" && strings.HasPrefix(k, q):
			d = 1
		case kn-qn > maxDistance || qn-kn > maxDistance:
			// The lengths alone are too far apart for a typo; a name being typed
			// may still start like this one ("Thien…" for Theinni).
			d = prefixDistance(q, k)
		default:
			d = min(Distance(q, k), prefixDistance(q, k))
		}
		if d <= maxDistance {
			out = append(out, Candidate{Key: k, Distance: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Distance != out[j].Distance {
			return out[i].Distance < out[j].Distance
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
