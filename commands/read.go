package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// How many updates the reading commands show.
const (
	defaultLatest = 5
	townUpdates   = 5
	claimsShown   = 5
)

// pageOf is the page asked for, 1 by default.
func pageOf(a args) int {
	if p, err := strconv.Atoi(a.get("page")); err == nil && p > 1 {
		return p
	}
	return 1
}

// pageLabel marks an older page in a title.
func pageLabel(page int) string {
	if page == 1 {
		return ""
	}
	return fmt.Sprintf(" (page %d)", page)
}

// more is the command line for the next page, when the page was full and may not be
// the last: "claims page:2 mndaa" (the page comes first: it is a keyed argument).
func more(page int, full bool, command string, args ...string) string {
	if !full || page >= maxPages {
		return ""
	}
	line := strings.Join(append([]string{command, fmt.Sprintf("page:%d", page+1)}, args...), " ")
	if len(line) > 64 {
		return "" // too long for a Telegram button
	}
	return line
}

// labelNote reminds readers how to read the labels; lists of updates end with it.
func labelNote() bot.Block {
	return bot.Block{{Text: "Claims are unverified unless marked [CONFIRMED].", Style: bot.Italic}}
}

// latest answers /latest [n].
func (s *Set) latest(ctx context.Context, _ *bot.Request, a args) (bot.Reply, error) {
	n := defaultLatest
	if a.has("count") {
		n, _ = strconv.Atoi(a.get("count"))
	}
	page := pageOf(a)
	updates, err := s.store.LatestPage(ctx, (page-1)*n, n)
	if err != nil {
		return bot.Reply{}, err
	}
	if len(updates) == 0 {
		return bot.Text("No updates yet."), nil
	}
	r := bot.Reply{Title: fmt.Sprintf("Latest %d, %s", len(updates), s.freshness(updates)) + pageLabel(page)}
	r.More = more(page, len(updates) == n, "latest", strconv.Itoa(n))
	for _, u := range updates {
		r.Items = append(r.Items, s.updateItem(ctx, u, ""))
	}
	r.Footer = labelNote()
	return r, nil
}

// town answers /town <name>.
func (s *Set) town(ctx context.Context, _ *bot.Request, a args) (bot.Reply, error) {
	id, err := s.store.Resolve(ctx, store.KindTown, a.get("name"))
	if err != nil {
		return bot.Reply{}, err
	}
	t, err := s.store.Town(ctx, id)
	if err != nil {
		return bot.Reply{}, err
	}
	page := pageOf(a)
	updates, err := s.store.AboutTownPage(ctx, id, (page-1)*townUpdates, townUpdates)
	if err != nil {
		return bot.Reply{}, err
	}
	r := bot.Reply{Title: t.Name + pageLabel(page), More: more(page, len(updates) == townUpdates, "town", id)}
	if t.Burmese != "" {
		r.Title += " · " + t.Burmese
	}
	var b bot.Builder
	var where []string
	if len(t.Aliases) > 0 {
		where = append(where, "also "+strings.Join(t.Aliases, ", "))
	}
	for _, part := range []string{t.Kind, t.Township, t.Region} {
		if part != "" {
			where = append(where, part)
		}
	}
	if t.Lat != 0 || t.Lon != 0 {
		where = append(where, fmt.Sprintf("%.2f°N %.2f°E", t.Lat, t.Lon))
	}
	b.Plain(strings.Join(where, " · "))
	r.Blocks = append(r.Blocks, b.Block())
	ctl, err := s.controlBlock(ctx, t)
	if err != nil {
		return bot.Reply{}, err
	}
	r.Blocks = append(r.Blocks, ctl)
	if len(updates) == 0 {
		r.Blocks = append(r.Blocks, bot.Block{{Text: "No updates about " + t.Name + " yet."}})
		return r, nil
	}
	r.Blocks = append(r.Blocks, bot.Block{{Text: "Newest updates, " + s.freshness(updates) + ":", Style: bot.Bold}})
	for _, u := range updates {
		r.Items = append(r.Items, s.updateItem(ctx, u, ""))
	}
	r.Footer = labelNote()
	return r, nil
}

// controlBlock says who holds a town, how sure that is and when it was set.
func (s *Set) controlBlock(ctx context.Context, t store.Town) (bot.Block, error) {
	var b bot.Builder
	c := t.Control
	if c == nil {
		return b.Plain("Control: not recorded yet.").Block(), nil
	}
	b.Plain("Control: ").Bold(s.store.Name(ctx, store.KindGroup, c.Holder))
	b.Plain(" since " + c.Since.In(s.loc).Format("2 Jan 2006"))
	if c.UpdateID != 0 {
		u, err := s.store.Get(ctx, c.UpdateID)
		if err != nil {
			return nil, err
		}
		b.Plain(" ").Bold(u.Status.Badge()).Plain(fmt.Sprintf(", per update #%d", u.ID))
		if u.Claimant != "" {
			b.Plain(" claimed by " + s.store.Name(ctx, store.KindGroup, u.Claimant))
		}
	} else {
		b.Plain(" ").Bold(store.Unverified.Badge()).Plain(", set by a moderator without a cited update")
	}
	b.Plain(". Last set " + s.age(c.SetAt) + ".")
	return b.Block(), nil
}

// claims answers /claims <group>.
func (s *Set) claims(ctx context.Context, _ *bot.Request, a args) (bot.Reply, error) {
	id, err := s.store.Resolve(ctx, store.KindGroup, a.get("group"))
	if err != nil {
		return bot.Reply{}, err
	}
	alliances, err := s.store.AlliancesOf(ctx, id)
	if err != nil {
		return bot.Reply{}, err
	}
	g, err := s.store.Group(ctx, id)
	if err != nil {
		return bot.Reply{}, err
	}
	page := pageOf(a)
	updates, err := s.store.ClaimsByPage(ctx, append([]string{id}, alliances...), (page-1)*claimsShown, claimsShown)
	if err != nil {
		return bot.Reply{}, err
	}
	r := bot.Reply{Title: "Claims by " + g.Name, More: more(page, len(updates) == claimsShown, "claims", id)}
	if g.FullName != "" {
		r.Title += " (" + g.FullName + ")"
	}
	r.Title += pageLabel(page)
	if len(updates) == 0 {
		r.Blocks = append(r.Blocks, bot.Block{{Text: "No claims by " + g.Name + " recorded yet."}})
		return r, nil
	}
	r.Blocks = append(r.Blocks, bot.Block{{Text: "Newest first, " + s.freshness(updates) + ":"}})
	for _, u := range updates {
		prefix := ""
		if u.Claimant != id {
			prefix = s.store.Name(ctx, store.KindGroup, u.Claimant) + " statement"
		}
		r.Items = append(r.Items, s.updateItem(ctx, u, prefix))
	}
	r.Footer = labelNote()
	return r, nil
}

// help answers /help [command].
func (s *Set) help(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	role, err := s.role(ctx, req.User)
	if err != nil {
		return bot.Reply{}, err
	}
	if req.ChatManager && role < bot.ChatManager {
		role = bot.ChatManager
	}
	if name := strings.TrimPrefix(strings.ToLower(a.get("command")), "/"); name != "" {
		c, ok := s.router.Lookup(name)
		if !ok {
			return s.unknown(ctx, &bot.Request{Command: name}), nil
		}
		var b bot.Builder
		b.Code(usage(c)).Line().Plain(c.Help)
		if c.Role != bot.Everyone {
			b.Line().Italic("For " + c.Role.String() + ".")
		}
		return bot.Reply{Title: "/" + c.Name, Blocks: []bot.Block{b.Block()}}, nil
	}
	r := bot.Reply{Title: "sitrep commands"}
	var b bot.Builder
	for _, c := range s.router.Commands() {
		if c.Role > role {
			continue
		}
		b.Code(usage(c)).Plain(" — " + c.Summary).Line()
	}
	r.Blocks = append(r.Blocks, b.Block(), bot.Block{{Text: "/help <command> explains one. Names work in any spelling."}})
	return r, nil
}

// about answers /about.
func (s *Set) about(ctx context.Context, _ *bot.Request, _ args) (bot.Reply, error) {
	n, err := s.store.Count(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{
		Title: "About sitrep",
		Blocks: []bot.Block{
			{{Text: "sitrep follows the fighting in northern Shan State, Myanmar, since Operation 1027 began on 27 October 2023, and the fronts it opened in Mandalay Region and Rakhine State."}},
			{{Text: "Trusted moderators post what armed groups claim and what news outlets report, each with its source. Every update says who claims it and whether it is verified."}},
			{{Text: "Claims are unverified until a moderator marks them confirmed, disputed or false; a withdrawn update shows as retracted, never silently deleted. Control of towns is as the moderators last recorded it."}},
			{{Text: fmt.Sprintf("%d updates so far. Times are Myanmar time (UTC+06:30). /help lists the commands.", n)}},
		},
	}, nil
}

// Complete suggests town or group names (names, aliases and Burmese names) that start
// with prefix, for autocomplete and inline queries.
func (s *Set) Complete(ctx context.Context, kind bot.ParamKind, prefix string, limit int) []string {
	k := store.KindTown
	if kind == bot.GroupName {
		k = store.KindGroup
	} else if kind != bot.Town {
		return nil
	}
	names, err := s.store.Names(ctx, k, prefix, limit)
	if err != nil {
		s.log.ErrorContext(ctx, "complete names", "err", err)
		return nil
	}
	if len(names) >= limit || strings.TrimSpace(prefix) == "" {
		return names
	}
	// Then what a typo most likely meant: "Thien" offers Theinni.
	id, err := s.store.Resolve(ctx, k, prefix)
	var ne *store.NameError
	switch {
	case err == nil:
		names = appendNew(names, s.store.Name(ctx, k, id))
	case errors.As(err, &ne):
		for _, sp := range ne.Spellings {
			names = appendNew(names, sp)
		}
	}
	return names[:min(len(names), limit)]
}

// appendNew appends s unless list has it.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
