package commands

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// author turns a chat identity into the store's.
func author(id bot.Identity) store.Author {
	return store.Author{Platform: id.Platform, UserID: id.UserID, Name: id.Name}
}

// post answers /post.
func (s *Set) post(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	d := store.Draft{Text: a.get("text"), Author: author(req.User)}
	if err := checkUpdateText(d.Text); err != nil {
		return bot.Reply{}, err
	}
	if a.has("claim") {
		id, err := s.store.Resolve(ctx, store.KindGroup, a.get("claim"))
		if err != nil {
			return bot.Reply{}, err
		}
		d.Claimant = id
	}
	for _, name := range a["town"] {
		id, err := s.store.Resolve(ctx, store.KindTown, name)
		if err != nil {
			return bot.Reply{}, err
		}
		d.Towns = append(d.Towns, id)
	}
	for _, name := range a["group"] {
		id, err := s.store.Resolve(ctx, store.KindGroup, name)
		if err != nil {
			return bot.Reply{}, err
		}
		d.Groups = append(d.Groups, id)
	}
	if a.has("source") {
		src, err := parseSource(a.get("source"))
		if err != nil {
			return bot.Reply{}, err
		}
		d.Source = src
	}
	if a.has("date") {
		t, p, err := s.parseDate(a.get("date"))
		if err != nil {
			return bot.Reply{}, err
		}
		d.Happened, d.Precision = t, p
	}
	if a.has("status") {
		d.Status = store.Status(a.get("status"))
	}
	if a.has("control") {
		id, err := s.store.Resolve(ctx, store.KindGroup, a.get("control"))
		if err != nil {
			return bot.Reply{}, err
		}
		if len(d.Towns) == 0 {
			return bot.Reply{}, problemf("control: needs the town it concerns: add town:<name>.")
		}
		d.Control = id
	}
	d.Origin = req.Origin
	u, queued, err := s.store.Post(ctx, d)
	if errors.Is(err, store.ErrDuplicate) {
		// The platform delivered this message again (after a crash): answer as before.
		return bot.Reply{Tone: bot.Done, Status: string(u.Status), Blocks: []bot.Block{{{Text: fmt.Sprintf("Posted #%d (already posted from this message).", u.ID)}}}, Items: []bot.Item{s.updateItem(ctx, u, "")}}, nil
	}
	if err != nil {
		return bot.Reply{}, err
	}
	s.log.InfoContext(ctx, "update posted", "update", u.ID, "user", req.User.String(), "queued", queued)
	s.enqueued()
	var b bot.Builder
	b.Plain(fmt.Sprintf("Posted #%d as %s. Tagged: %s. Going out to %d subscribed %s.", u.ID, u.Status, s.tagList(ctx, u), queued, plural(queued, "chat", "chats")))
	return bot.Reply{Tone: bot.Done, Status: string(u.Status), Blocks: []bot.Block{b.Block()}, Items: []bot.Item{s.updateItem(ctx, u, "")}}, nil
}

// tagList describes an update's tags: "towns Kan Mong, Kunlong; groups MNDAA".
func (s *Set) tagList(ctx context.Context, u store.Update) string {
	var parts []string
	if len(u.Towns) > 0 {
		var ns []string
		for _, t := range u.Towns {
			ns = append(ns, s.store.Name(ctx, store.KindTown, t))
		}
		parts = append(parts, "towns "+strings.Join(ns, ", "))
	}
	if len(u.Groups) > 0 {
		var ns []string
		for _, g := range u.Groups {
			ns = append(ns, s.store.Name(ctx, store.KindGroup, g))
		}
		parts = append(parts, "groups "+strings.Join(ns, ", "))
	}
	if len(parts) == 0 {
		return "no towns or groups (add town:<name> to tag one)"
	}
	return strings.Join(parts, "; ")
}

// checkUpdateText refuses text the store would refuse, with a message for the user.
func checkUpdateText(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return problemf("The update has no text.")
	case len(text) > store.MaxTextLen:
		return problemf("The update is too long (%d bytes); at most %d.", len(text), store.MaxTextLen)
	}
	return nil
}

// parseSource reads an outlet name or an http(s) URL.
func parseSource(v string) (store.Source, error) {
	if !strings.Contains(v, "://") {
		if len(v) > 200 {
			return store.Source{}, problemf("The source name is too long.")
		}
		return store.Source{Name: v}, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 500 {
		return store.Source{}, problemf("The source %q is not a usable http(s) link.", clip(v, 60))
	}
	return store.Source{URL: u.String()}, nil
}

// parseDate reads YYYY-MM-DD, YYYY-MM or ~YYYY-MM-DD in Myanmar time, refusing dates in
// the future or before 1948.
func (s *Set) parseDate(v string) (time.Time, store.Precision, error) {
	p := store.Day
	layout := "2006-01-02"
	if rest, ok := strings.CutPrefix(v, "~"); ok {
		v, p = rest, store.Approximate
	} else if len(v) == len("2006-01") {
		layout, p = "2006-01", store.Month
	}
	t, err := time.ParseInLocation(layout, v, s.loc)
	if err != nil {
		return t, p, problemf("The date %q is not a date: use YYYY-MM-DD, YYYY-MM or ~YYYY-MM-DD.", clip(v, 20))
	}
	if t.After(s.now().Add(24*time.Hour)) || t.Year() < 1948 {
		return t, p, problemf("The date %s is out of range.", v)
	}
	return t, p, nil
}

// updateID reads the id argument.
func updateID(a args) uint64 {
	n, _ := strconv.Atoi(a.get("id"))
	return uint64(max(n, 0))
}

// plural picks the word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// changed answers a moderator's change with the update as it now reads; every chat
// that was sent the update gets a correction.
func (s *Set) changed(ctx context.Context, what string, u store.Update) bot.Reply {
	s.enqueued()
	return bot.Reply{Tone: bot.Done, Status: string(u.Status),
		Blocks: []bot.Block{{{Text: fmt.Sprintf("Update #%d %s.", u.ID, what)}}},
		Items:  []bot.Item{s.updateItem(ctx, u, "")},
	}
}

// verify answers /verify <id> <status> [note].
func (s *Set) verify(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	st, err := store.ParseStatus(a.get("status"))
	if err != nil || st == store.Retracted {
		return bot.Reply{}, problemf("Use /retract <id> <reason> to withdraw an update.")
	}
	_, u, err := s.store.SetStatus(ctx, updateID(a), st, a.get("note"), author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	return s.changed(ctx, "is now "+string(st), u), nil
}

// edit answers /edit <id> <text>.
func (s *Set) edit(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	if err := checkUpdateText(a.get("text")); err != nil {
		return bot.Reply{}, err
	}
	_, u, err := s.store.Edit(ctx, updateID(a), a.get("text"), author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	return s.changed(ctx, "edited", u), nil
}

// retract answers /retract <id> <reason>.
func (s *Set) retract(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	_, u, err := s.store.SetStatus(ctx, updateID(a), store.Retracted, a.get("reason"), author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	return s.changed(ctx, "retracted", u), nil
}

// control answers /control <town> <group> [update id]. In text, multi-word names may
// be quoted or not: every split of the words is tried against the gazetteer.
func (s *Set) control(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	townName, groupName, idText := a.get("town"), a.get("group"), a.get("update")
	if req.Options == nil {
		var err error
		townName, groupName, idText, err = s.splitControl(ctx, req.Text)
		if err != nil {
			return bot.Reply{}, err
		}
	}
	var updateID uint64
	if idText != "" {
		n, err := parseInt(idText)
		if err != nil || n < 1 {
			return bot.Reply{}, problemf("The update id must be a number like 12.")
		}
		updateID = uint64(n)
	}
	townID, err := s.store.Resolve(ctx, store.KindTown, townName)
	if err != nil {
		return bot.Reply{}, err
	}
	groupID, err := s.store.Resolve(ctx, store.KindGroup, groupName)
	if err != nil {
		return bot.Reply{}, err
	}
	t, err := s.store.SetControl(ctx, townID, groupID, updateID, author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	blk, err := s.controlBlock(ctx, t)
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Tone: bot.Done, Title: t.Name, Blocks: []bot.Block{blk}}, nil
}

// splitControl splits "/control" text into town, group and optional update id, trying
// each split point of unquoted words so that "Chin Shwe Haw Brotherhood Alliance 3"
// works.
func (s *Set) splitControl(ctx context.Context, text string) (town, group, id string, err error) {
	toks, err := tokenize(text)
	if err != nil {
		return "", "", "", err
	}
	if n := len(toks); n > 0 {
		if _, err := parseInt(toks[n-1].text); err == nil {
			id, toks = toks[n-1].text, toks[:n-1]
		}
	}
	if len(toks) < 2 {
		return "", "", "", problemf("Missing town or group. Usage: /control <town> <group> [update id]")
	}
	words := func(ts []token) string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.text
		}
		return strings.Join(out, " ")
	}
	for i := 1; i < len(toks); i++ {
		t, g := words(toks[:i]), words(toks[i:])
		_, terr := s.store.Resolve(ctx, store.KindTown, t)
		_, gerr := s.store.Resolve(ctx, store.KindGroup, g)
		if terr == nil && gerr == nil {
			return t, g, id, nil
		}
	}
	// No split resolves both: report on the simplest reading, one word of town.
	return toks[0].text, words(toks[1:]), id, nil
}

// alias answers /alias <known name> = <new spelling>.
func (s *Set) alias(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	name, spelling := a.get("name"), a.get("alias")
	if req.Options == nil {
		var ok bool
		name, spelling, ok = strings.Cut(req.Text, "=")
		if !ok {
			return bot.Reply{}, problemf("Usage: /alias <known name> = <new spelling>")
		}
	}
	name, spelling = strings.TrimSpace(name), strings.TrimSpace(spelling)
	if name == "" || spelling == "" || len([]rune(spelling)) > maxNameLen {
		return bot.Reply{}, problemf("Usage: /alias <known name> = <new spelling> (at most %d characters)", maxNameLen)
	}
	kind := store.KindTown
	id, err := s.store.Resolve(ctx, kind, name)
	if err != nil {
		gid, gerr := s.store.Resolve(ctx, store.KindGroup, name)
		if gerr != nil {
			return bot.Reply{}, err
		}
		kind, id = store.KindGroup, gid
	}
	err = s.store.AddAlias(ctx, kind, id, spelling, author(req.User))
	if errors.Is(err, store.ErrExists) {
		return bot.Reply{}, problemf("“%s” is already the name of a town or group; /town or /claims shows which.", clip(spelling, 40))
	}
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("“%s” now also means the %s %s.", spelling, kind, s.store.Name(ctx, kind, id))}}}}, nil
}

// addTown answers /addtown.
func (s *Set) addTown(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	t := store.Town{Name: a.get("name"), Burmese: a.get("burmese"), Township: a.get("township"), Region: a.get("region"), Kind: "town"}
	if len([]rune(t.Name)) > maxNameLen {
		return bot.Reply{}, problemf("The name is too long.")
	}
	for _, c := range []struct {
		key string
		dst *float64
		lim float64
	}{{"lat", &t.Lat, 90}, {"lon", &t.Lon, 180}} {
		if !a.has(c.key) {
			continue
		}
		v, err := strconv.ParseFloat(a.get(c.key), 64)
		if err != nil || v < -c.lim || v > c.lim {
			return bot.Reply{}, problemf("%s must be a number of degrees between -%g and %g.", c.key, c.lim, c.lim)
		}
		*c.dst = v
	}
	t, err := s.store.AddTown(ctx, t, author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("Added the town %s. /alias adds other spellings.", t.Name)}}}}, nil
}

// addGroup answers /addgroup.
func (s *Set) addGroup(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	g := store.Group{Name: a.get("name"), FullName: a.get("full"), Kind: store.GroupKind(a.get("kind"))}
	if g.Kind == "" {
		g.Kind = store.EAO
	}
	if len([]rune(g.Name)) > maxNameLen {
		return bot.Reply{}, problemf("The name is too long.")
	}
	if a.has("members") {
		if g.Kind != store.Alliance {
			return bot.Reply{}, problemf("Only an alliance (kind:alliance) has members.")
		}
		for _, m := range strings.Split(a.get("members"), ",") {
			id, err := s.store.Resolve(ctx, store.KindGroup, strings.TrimSpace(m))
			if err != nil {
				return bot.Reply{}, err
			}
			g.Members = append(g.Members, id)
		}
	}
	g, err := s.store.AddGroup(ctx, g, author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("Added the group %s (%s).", g.Name, g.Kind.Describe())}}}}, nil
}

// deliveries answers /deliveries <id>.
func (s *Set) deliveries(ctx context.Context, _ *bot.Request, a args) (bot.Reply, error) {
	id := updateID(a)
	if _, err := s.store.Get(ctx, id); err != nil {
		return bot.Reply{}, err
	}
	ds, err := s.store.Deliveries(ctx, id)
	if err != nil {
		return bot.Reply{}, err
	}
	r := bot.Reply{Title: fmt.Sprintf("Deliveries of update #%d", id)}
	if len(ds) == 0 {
		r.Blocks = append(r.Blocks, bot.Block{{Text: "No subscribed chat matched it."}})
		return r, nil
	}
	type tally struct {
		counts   map[store.DeliveryState]int
		problems []store.Delivery
	}
	var platforms []string
	byPlatform := map[string]*tally{}
	for _, d := range ds {
		t := byPlatform[d.Chat.Platform]
		if t == nil {
			t = &tally{counts: map[store.DeliveryState]int{}}
			byPlatform[d.Chat.Platform] = t
			platforms = append(platforms, d.Chat.Platform)
		}
		t.counts[d.State]++
		if d.State == store.Failed || d.State == store.Pending && d.LastError != "" {
			t.problems = append(t.problems, d)
		}
	}
	const shown = 5
	for _, p := range platforms {
		t := byPlatform[p]
		var b bot.Builder
		var it bot.Item
		it.Heading = b.Bold(p).Plain(fmt.Sprintf(": %d sent, %d pending, %d failed", t.counts[store.Sent], t.counts[store.Pending], t.counts[store.Failed])).Block()
		for i, d := range t.problems {
			if i == shown {
				b.Plain(fmt.Sprintf("… and %d more", len(t.problems)-shown)).Line()
				break
			}
			b.Plain(fmt.Sprintf("• %s %s to %s", d.State, d.Kind, d.Chat.ID))
			if d.State == store.Pending {
				b.Plain(", next try " + s.shortTime(d.NextAttempt))
			}
			b.Plain(": " + clip(d.LastError, 120)).Line()
		}
		it.Body = b.Block()
		r.Items = append(r.Items, it)
	}
	return r, nil
}
