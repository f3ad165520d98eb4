package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// updateItem renders one update as a list item: a heading with its id, date, status
// and prefix (which marks it, e.g. as an alliance statement), a body with who claims it
// and the text, and a source line naming the towns it concerns and its source.
func (s *Set) updateItem(ctx context.Context, u store.Update, prefix string) bot.Item {
	var b bot.Builder
	var it bot.Item
	b.Bold(fmt.Sprintf("#%d", u.ID)).Plain(" · " + s.eventDate(u) + " · ").Bold(u.Status.Badge())
	if prefix != "" {
		b.Plain(" · ").Italic(prefix)
	}
	it.Heading = b.Block()
	if u.Claimant != "" {
		b.Plain("Claimed by ").Bold(s.store.Name(ctx, store.KindGroup, u.Claimant)).Plain(": ")
	}
	b.Plain(u.Text).Line()
	switch {
	case u.Status == store.Retracted:
		b.Bold("RETRACTED").Plain(": " + u.Note).Line()
	case u.Note != "":
		b.Italic(upperFirst(string(u.Status)) + ": " + u.Note).Line()
	}
	it.Body = b.Block()
	var meta []string
	if len(u.Towns) > 0 {
		towns := make([]string, len(u.Towns))
		for i, t := range u.Towns {
			towns[i] = s.store.Name(ctx, store.KindTown, t)
		}
		meta = append(meta, strings.Join(towns, ", "))
	}
	if at, ok := u.Edited(); ok {
		meta = append(meta, "edited "+s.shortTime(at))
	}
	b.Plain(strings.Join(meta, " · "))
	if len(meta) > 0 {
		b.Plain(" · ")
	}
	b.Plain("Source: ")
	switch {
	case u.Source.URL != "":
		b.Link(u.Source.Label(), u.Source.URL)
	case u.Source.Name != "":
		b.Plain(u.Source.Name)
	default:
		b.Plain("moderator " + u.Author.Name)
	}
	it.Source = b.Block()
	return it
}

// eventDate shows when an update's event happened, as precisely as it is known.
func (s *Set) eventDate(u store.Update) string {
	return u.Precision.Format(u.Happened.In(s.loc))
}

// shortTime shows a moment in Myanmar time (MMT, UTC+06:30).
func (s *Set) shortTime(t time.Time) string {
	return t.In(s.loc).Format("2 Jan 2006 15:04") + " MMT"
}

// age says how long ago t was, roughly: "just now", "5 minutes ago", "3 days ago".
func (s *Set) age(t time.Time) string {
	d := s.now().Sub(t)
	unit := func(n int, what string) string {
		if n == 1 {
			return "1 " + what + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, what)
	}
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unit(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		return unit(int(d/(24*time.Hour)), "day")
	case d < 730*24*time.Hour:
		return unit(int(d/(30*24*time.Hour)), "month")
	}
	return unit(int(d/(365*24*time.Hour)), "year")
}

// freshness is "as of 30 Oct 2023, 3 days ago" for the newest of some updates.
func (s *Set) freshness(updates []store.Update) string {
	if len(updates) == 0 {
		return ""
	}
	newest := updates[0]
	for _, u := range updates[1:] {
		if u.Happened.After(newest.Happened) {
			newest = u
		}
	}
	return "as of " + s.eventDate(newest) + ", " + s.age(newest.Happened)
}

// RenderDelivery renders the updates of one pushed message as they are now: one update,
// its correction, or a chat's daily digest. It returns each update's revision (the
// number of changes it has had) so that a change racing the send can be corrected.
func (s *Set) RenderDelivery(ctx context.Context, jobs []bot.Job) (bot.Reply, []int, error) {
	var r bot.Reply
	revisions := make([]int, len(jobs))
	for i, job := range jobs {
		u, err := s.store.Get(ctx, job.UpdateID)
		if err != nil {
			return bot.Reply{}, nil, fmt.Errorf("render delivery %d: %w", job.ID, err)
		}
		revisions[i] = len(u.History)
		r.Items = append(r.Items, s.updateItem(ctx, u, ""))
		if len(jobs) == 1 {
			r.Status = string(u.Status)
		}
		switch {
		case job.Digest && job.Kind == bot.NewMessage:
			r.Title = fmt.Sprintf("sitrep daily digest: %d %s", len(jobs), plural(len(jobs), "update", "updates"))
		case job.Kind == bot.Correction && u.Status == store.Retracted:
			r.Title = fmt.Sprintf("RETRACTED: update #%d", u.ID)
		case job.Kind == bot.Correction:
			r.Title = fmt.Sprintf("Update #%d, corrected", u.ID)
		default:
			r.Title = "sitrep update"
		}
	}
	return r, revisions, nil
}
