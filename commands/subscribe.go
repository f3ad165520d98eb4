package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// filter reads a subscription filter from arguments: "all", "town <name>",
// "group <name>", or just a name (a town first, then a group).
func (s *Set) filter(ctx context.Context, a args) (store.Filter, error) {
	kind, name := strings.ToLower(a.get("filter")), a.get("name")
	switch kind {
	case "", "all":
		if name != "" {
			return store.Filter{}, problemf("“all” takes no name. Usage: /subscribe [all | town <name> | group <name>]")
		}
		return store.Filter{Kind: store.AllUpdates}, nil
	case "town", "group":
		if name == "" {
			return store.Filter{}, problemf("Missing the %s's name. Usage: /subscribe %s <name>", kind, kind)
		}
		k := map[string]store.Kind{"town": store.KindTown, "group": store.KindGroup}[kind]
		id, err := s.store.Resolve(ctx, k, name)
		if err != nil {
			return store.Filter{}, err
		}
		return store.Filter{Kind: store.FilterKind(kind), ID: id}, nil
	}
	// A bare name: "/subscribe Theinni".
	whole := strings.TrimSpace(a.get("filter") + " " + name)
	if id, err := s.store.Resolve(ctx, store.KindTown, whole); err == nil {
		return store.Filter{Kind: store.TownFilter, ID: id}, nil
	}
	id, err := s.store.Resolve(ctx, store.KindGroup, whole)
	if err != nil {
		return store.Filter{}, problemf("Nothing called “%s”. Usage: /subscribe [all | town <name> | group <name>]", clip(whole, 40))
	}
	return store.Filter{Kind: store.GroupFilter, ID: id}, nil
}

// describe says what a filter follows.
func (s *Set) describe(ctx context.Context, f store.Filter) string {
	switch f.Kind {
	case store.TownFilter:
		return "updates about " + s.store.Name(ctx, store.KindTown, f.ID)
	case store.GroupFilter:
		return "updates about " + s.store.Name(ctx, store.KindGroup, f.ID)
	}
	return "all updates"
}

// chatOf is the store's view of the request's chat.
func chatOf(req *bot.Request) store.Chat {
	return store.Chat{Platform: req.Chat.Platform, ID: req.Chat.ID}
}

// defaultDigestHour is when a daily digest goes out unless the chat picks an hour.
const defaultDigestHour = 7

// subscribe answers /subscribe. In text, the options quiet and digest:daily[@HH] may
// stand anywhere among the words.
func (s *Set) subscribe(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	sub := store.Subscription{Chat: chatOf(req), ChatKind: string(req.Chat.Kind), CreatedBy: author(req.User)}
	digest := ""
	if req.Options == nil {
		toks, err := tokenize(req.Text)
		if err != nil {
			return bot.Reply{}, err
		}
		var words []string
		for _, t := range toks {
			switch w := strings.ToLower(t.text); {
			case w == "quiet":
				sub.Quiet = true
			case strings.HasPrefix(w, "digest:"):
				digest = strings.TrimPrefix(w, "digest:")
			default:
				words = append(words, t.text)
			}
		}
		a = args{}
		if len(words) > 0 {
			a["filter"] = []string{words[0]}
		}
		if len(words) > 1 {
			a["name"] = []string{strings.Join(words[1:], " ")}
		}
	} else {
		sub.Quiet, digest = a.get("quiet") == "yes", strings.ToLower(a.get("digest"))
	}
	if digest != "" {
		hour, err := digestHour(digest)
		if err != nil {
			return bot.Reply{}, err
		}
		sub.Digest, sub.DigestHour = true, hour
	}
	f, err := s.filter(ctx, a)
	if err != nil {
		return bot.Reply{}, err
	}
	sub.Filter = f
	created, err := s.store.Subscribe(ctx, sub)
	if err != nil {
		return bot.Reply{}, err
	}
	how := s.describe(ctx, f) + delivery(sub)
	if !created {
		return bot.Text("This chat already gets %s.", how), nil
	}
	return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("Subscribed: this chat will get %s. /unsubscribe stops it.", how)}}}}, nil
}

// digestHour reads "daily", "daily@18" or "18".
func digestHour(v string) (int, error) {
	rest, _ := strings.CutPrefix(v, "daily")
	rest = strings.TrimPrefix(rest, "@")
	if rest == "" {
		return defaultDigestHour, nil
	}
	rest, _, _ = strings.Cut(rest, ":")
	h, err := parseInt(rest)
	if err != nil || h < 0 || h > 23 {
		return 0, problemf("digest: takes daily or daily@HH with an hour from 0 to 23, not %q.", clip(v, 20))
	}
	return h, nil
}

// delivery says how a subscription is sent: ", quietly, in a daily digest at 07:00".
func delivery(sub store.Subscription) string {
	var out string
	if sub.Quiet {
		out += ", quietly"
	}
	if sub.Digest {
		out += fmt.Sprintf(", in a daily digest at %02d:00 Myanmar time", sub.DigestHour)
	}
	return out
}

// unsubscribe answers /unsubscribe.
func (s *Set) unsubscribe(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	var fp *store.Filter
	if a.has("filter") {
		f, err := s.filter(ctx, a)
		if err != nil {
			return bot.Reply{}, err
		}
		fp = &f
	}
	removed, err := s.store.Unsubscribe(ctx, chatOf(req), fp, author(req.User))
	if err != nil {
		return bot.Reply{}, err
	}
	if len(removed) == 0 {
		return bot.Text("This chat had no such subscription. /subscriptions lists them."), nil
	}
	var what []string
	for _, sub := range removed {
		what = append(what, s.describe(ctx, sub.Filter))
	}
	return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: "Unsubscribed from " + strings.Join(what, "; ") + "."}}}}, nil
}

// subscriptions answers /subscriptions.
func (s *Set) subscriptions(ctx context.Context, req *bot.Request, _ args) (bot.Reply, error) {
	subs, err := s.store.Subscriptions(ctx, chatOf(req))
	if err != nil {
		return bot.Reply{}, err
	}
	if len(subs) == 0 {
		return bot.Text("This chat has no subscriptions. /subscribe adds one."), nil
	}
	var b bot.Builder
	for _, sub := range subs {
		b.Plain(fmt.Sprintf("• %s%s — since %s, %d delivered", s.describe(ctx, sub.Filter), delivery(sub), sub.Created.In(s.loc).Format("2 Jan 2006"), sub.Delivered)).Line()
	}
	return bot.Reply{Title: "This chat's subscriptions", Blocks: []bot.Block{b.Block()}}, nil
}
