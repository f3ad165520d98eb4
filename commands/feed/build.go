package feed

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sitrep-bot/sitrep/store"
)

// errNoName is a name in a feed address with no letters or digits.
var errNoName = errors.New("no letters or digits in the name")

// footer reminds readers how to read the labels, as the chat does.
const footer = "Claims are unverified unless marked [CONFIRMED]."

// build reads a feed's updates and makes its document.
func (h *Handler) build(ctx context.Context, s site, k kind, name string) (*atomFeed, error) {
	var (
		updates []store.Update
		err     error
		f       = &atomFeed{Lang: "en"}
		path    string // the canonical path of the feed, escaped
		ownID   string // for a claims feed: the group asked for
	)
	switch k {
	case latestFeed:
		if updates, err = h.st.LatestPage(ctx, 0, Size); err != nil {
			return nil, err
		}
		path = "/feed.atom"
		f.ID = h.tag(s, "feed/latest")
		f.Title = atomText{Type: "text", Body: "sitrep: latest updates"}
		f.Subtitle = &atomText{Type: "text", Body: "The newest updates on the conflict in northern Shan State, Myanmar, each with who claims it and whether it is verified. " + footer}
	case townFeed:
		id, err := h.resolve(ctx, store.KindTown, name)
		if err != nil {
			return nil, err
		}
		t, err := h.st.Town(ctx, id)
		if err != nil {
			return nil, err
		}
		if updates, err = h.st.AboutTownPage(ctx, id, 0, Size); err != nil {
			return nil, err
		}
		path = "/town/" + url.PathEscape(t.Name) + "/feed.atom"
		f.ID = h.tag(s, "feed/town/"+url.PathEscape(id))
		f.Title = atomText{Type: "text", Body: "sitrep: " + t.Name}
		about := t.Name
		if also := nonEmpty(append(slices.Clone(t.Aliases), t.Burmese)); len(also) > 0 {
			about += " (also " + strings.Join(also, ", ") + ")"
		}
		f.Subtitle = &atomText{Type: "text", Body: "Updates about " + about + ", newest first. " + footer}
	case claimsFeed:
		id, err := h.resolve(ctx, store.KindGroup, name)
		if err != nil {
			return nil, err
		}
		alliances, err := h.st.AlliancesOf(ctx, id)
		if err != nil {
			return nil, err
		}
		g, err := h.st.Group(ctx, id)
		if err != nil {
			return nil, err
		}
		if updates, err = h.st.ClaimsByPage(ctx, append([]string{id}, alliances...), 0, Size); err != nil {
			return nil, err
		}
		ownID = id
		path = "/claims/" + url.PathEscape(g.Name) + "/feed.atom"
		f.ID = h.tag(s, "feed/claims/"+url.PathEscape(id))
		f.Title = atomText{Type: "text", Body: "sitrep: claims by " + g.Name}
		who := g.Name
		if g.FullName != "" {
			who += " (" + g.FullName + ")"
		}
		if len(alliances) > 0 {
			names := make([]string, len(alliances))
			for i, a := range alliances {
				names[i] = h.st.Name(ctx, store.KindGroup, a)
			}
			who += " and statements of " + orList(names)
		}
		f.Subtitle = &atomText{Type: "text", Body: "Claims by " + who + ", newest first. " + footer}
	default:
		return nil, fmt.Errorf("unknown feed %q", k)
	}
	f.Authors = []atomPerson{{Name: h.author}}
	f.Links = []atomLink{{Rel: "self", Type: "application/atom+xml", Href: s.base + path}}
	if h.site != "" {
		f.Links = append(f.Links, atomLink{Rel: "alternate", Type: "text/html", Href: h.site})
	}
	f.Generator = atomGenerator{URI: generatorURI, Name: "sitrep"}
	newest := h.epoch
	for _, u := range updates {
		e, updated := h.entry(ctx, s, u, ownID)
		if updated.After(newest) {
			newest = updated
		}
		f.Entries = append(f.Entries, e)
	}
	f.Updated = atomTime(newest)
	return f, nil
}

// resolve finds the town or group a name in a feed address means, as /town and
// /claims do.
func (h *Handler) resolve(ctx context.Context, k store.Kind, name string) (string, error) {
	if len(name) > maxNameLen {
		return "", &store.NameError{Kind: k, Query: name}
	}
	id, err := h.st.Resolve(ctx, k, name)
	if errors.Is(err, store.ErrInvalid) {
		return "", errNoName
	}
	return id, err
}

// entry makes the entry of one update and says when it last changed. ownID, in a
// claims feed, is the group asked for: claims by its alliances are marked as such.
func (h *Handler) entry(ctx context.Context, s site, u store.Update, ownID string) (atomEntry, time.Time) {
	posted := u.Posted
	if posted.IsZero() {
		posted = u.Happened
	}
	if posted.IsZero() {
		posted = h.epoch
	}
	updated := posted
	if n := len(u.History); n > 0 && u.History[n-1].At.After(updated) {
		updated = u.History[n-1].At
	}

	claimant := ""
	if u.Claimant != "" {
		claimant = h.st.Name(ctx, store.KindGroup, u.Claimant)
	}
	towns := make([]string, len(u.Towns))
	for i, t := range u.Towns {
		towns[i] = h.st.Name(ctx, store.KindTown, t)
	}
	groups := make([]string, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = h.st.Name(ctx, store.KindGroup, g)
	}
	source := u.Source.Label()
	link := sourceLink(u.Source.URL)

	e := atomEntry{
		ID:        h.tag(s, fmt.Sprintf("update/%d", u.ID)),
		Title:     atomText{Type: "text", Body: title(u, claimant, source, towns)},
		Updated:   atomTime(updated),
		Published: atomTime(posted),
	}
	switch {
	case claimant != "":
		e.Authors = []atomPerson{{Name: claimant}}
	case source != "":
		e.Authors = []atomPerson{{Name: source, URI: link}}
	default:
		e.Authors = []atomPerson{{Name: h.author}}
	}
	if link != "" {
		e.Links = []atomLink{{Rel: "alternate", Type: "text/html", Href: link}}
	}
	e.Categories = append(e.Categories, atomCategory{Term: string(u.Status), Scheme: h.tag(s, "status"), Label: u.Status.Badge()})
	for i, t := range u.Towns {
		e.Categories = append(e.Categories, atomCategory{Term: t, Scheme: h.tag(s, "town"), Label: towns[i]})
	}
	for i, g := range u.Groups {
		e.Categories = append(e.Categories, atomCategory{Term: g, Scheme: h.tag(s, "group"), Label: groups[i]})
	}

	c := content{
		ID:     u.ID,
		Badge:  u.Status.Badge(),
		Status: string(u.Status),
		Text:   u.Text,
		Source: source,
		Link:   link,
		Date:   h.eventDate(u),
		Towns:  strings.Join(towns, ", "),
		Groups: strings.Join(groups, ", "),
	}
	if u.Claimant != "" {
		c.Claimant = claimant
		if g, err := h.st.Group(ctx, u.Claimant); err == nil && g.FullName != "" {
			c.Claimant += " (" + g.FullName + ")"
		}
		if ownID != "" && u.Claimant != ownID {
			c.Statement = claimant + " statement"
		}
	}
	if u.Note != "" {
		c.NoteLabel = upperFirst(string(u.Status))
		c.Note = u.Note
	}
	if at, ok := u.Edited(); ok {
		c.Edited = h.shortTime(at)
	}
	e.Content = atomText{Type: "html", Body: contentHTML(c)}
	return e, updated
}

// title is an entry's short title: "[UNVERIFIED] MNDAA claims: Laukkai".
func title(u store.Update, claimant, source string, towns []string) string {
	var b strings.Builder
	b.WriteString(u.Status.Badge() + " ")
	switch {
	case claimant != "":
		b.WriteString(claimant + " claims")
	case source != "":
		b.WriteString(source)
	default:
		fmt.Fprintf(&b, "Update #%d", u.ID)
	}
	b.WriteString(": ")
	switch {
	case len(towns) > 3:
		fmt.Fprintf(&b, "%s and %d more", strings.Join(towns[:3], ", "), len(towns)-3)
	case len(towns) > 0:
		b.WriteString(strings.Join(towns, ", "))
	default:
		b.WriteString(clip(strings.Join(strings.Fields(u.Text), " "), 60))
	}
	return b.String()
}

// sourceLink is a source URL fit to link to (absolute http or https), or "".
func sourceLink(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

// eventDate shows when an update's event happened, as precisely as it is known.
func (h *Handler) eventDate(u store.Update) string {
	switch {
	case u.Happened.IsZero():
		return ""
	case u.Precision == store.Exact:
		return h.shortTime(u.Happened)
	}
	return u.Precision.Format(u.Happened.In(h.loc))
}

// shortTime shows a moment in the handler's time zone: "2 Nov 2023 15:30 +0630".
func (h *Handler) shortTime(t time.Time) string {
	return t.In(h.loc).Format("2 Jan 2006 15:04 -0700")
}

// upperFirst capitalises the first letter.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// nonEmpty drops empty strings.
func nonEmpty(list []string) []string {
	out := list[:0:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// contentHTML renders an entry's content as an HTML fragment. Every value from the
// store goes through html.EscapeString; only the constant markup is written as is.
func contentHTML(c content) string {
	var b strings.Builder
	b.Grow(512 + len(c.Text))
	esc := func(s string) { b.WriteString(html.EscapeString(s)) }
	b.WriteString("<p><strong>")
	esc(c.Badge)
	b.WriteString("</strong>")
	if c.Statement != "" {
		b.WriteString(" · <em>")
		esc(c.Statement)
		b.WriteString("</em>")
	}
	b.WriteString("</p>\n")
	if c.Note != "" {
		b.WriteString("<p><strong>")
		esc(c.NoteLabel)
		b.WriteString(":</strong> ")
		esc(c.Note)
		b.WriteString("</p>\n")
	}
	b.WriteString("<p>")
	if c.Claimant != "" {
		b.WriteString("Claimed by <strong>")
		esc(c.Claimant)
		b.WriteString("</strong>: ")
	}
	for i, line := range strings.Split(c.Text, "\n") {
		if i > 0 {
			b.WriteString("<br>")
		}
		esc(line)
	}
	b.WriteString("</p>\n<ul>\n<li>Status: ")
	esc(c.Status)
	b.WriteString("</li>\n<li>Claimed by: ")
	if c.Claimant != "" {
		esc(c.Claimant)
	} else {
		b.WriteString("no group; the source&#39;s own reporting")
	}
	b.WriteString("</li>\n<li>Source: ")
	switch {
	case c.Link != "":
		b.WriteString(`<a href="`)
		esc(c.Link)
		b.WriteString(`">`)
		esc(c.Source)
		b.WriteString("</a> (")
		esc(c.Link)
		b.WriteString(")")
	case c.Source != "":
		esc(c.Source)
	default:
		b.WriteString("a sitrep moderator")
	}
	b.WriteString("</li>\n")
	for _, item := range [][2]string{{"Event date", c.Date}, {"Towns", c.Towns}, {"Groups", c.Groups}, {"Edited", c.Edited}} {
		if item[1] != "" {
			b.WriteString("<li>" + item[0] + ": ")
			esc(item[1])
			b.WriteString("</li>\n")
		}
	}
	fmt.Fprintf(&b, "</ul>\n<p><small>sitrep update #%d. ", c.ID)
	esc(footer)
	b.WriteString("</small></p>")
	return b.String()
}

// content is what an entry's HTML content shows.
type content struct {
	ID        uint64
	Badge     string
	Status    string
	Statement string // "Brotherhood Alliance statement", in a member's claims feed
	Claimant  string // with its full name
	Text      string
	NoteLabel string // "Retracted", "Disputed", …
	Note      string
	Source    string
	Link      string // an http(s) URL (sourceLink) or ""
	Date      string
	Towns     string
	Groups    string
	Edited    string
}

// orList joins items as "a, b or c".
func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
