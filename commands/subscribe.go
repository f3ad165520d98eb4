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

// subscribe answers /subscribe.
func (s *Set) subscribe(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	f, err := s.filter(ctx, a)
	if err != nil {
		return bot.Reply{}, err
	}
	created, err := s.store.Subscribe(ctx, store.Subscription{Chat: chatOf(req), ChatKind: string(req.Chat.Kind), Filter: f, CreatedBy: author(req.User)})
	if err != nil {
		return bot.Reply{}, err
	}
	if !created {
		return bot.Text("This chat already gets %s.", s.describe(ctx, f)), nil
	}
	return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("Subscribed: this chat will get %s. /unsubscribe stops it.", s.describe(ctx, f))}}}}, nil
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
		b.Plain(fmt.Sprintf("• %s — since %s, %d delivered", s.describe(ctx, sub.Filter), sub.Created.In(s.loc).Format("2 Jan 2006"), sub.Delivered)).Line()
	}
	return bot.Reply{Title: "This chat's subscriptions", Blocks: []bot.Block{b.Block()}}, nil
}
