package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// identityPattern is what a moderator identity looks like.
var identityPattern = regexp.MustCompile(`^(telegram|discord):[0-9]{1,20}$|^console:[A-Za-z0-9_.-]{1,64}$`)

// mod answers /mod add|remove|list.
func (s *Set) mod(ctx context.Context, req *bot.Request, a args) (bot.Reply, error) {
	action, user := a.get("action"), a.get("user")
	if action == "list" {
		if user != "" {
			return bot.Reply{}, problemf("/mod list takes no identity.")
		}
		return s.listMods(ctx)
	}
	if !identityPattern.MatchString(user) {
		return bot.Reply{}, problemf("Give an identity like telegram:123456 or discord:80351110224678912. Usage: /mod %s <platform:user id>", action)
	}
	by := author(req.User)
	switch action {
	case "add":
		role := store.ModeratorRole
		if a.get("role") == "admin" {
			role = store.AdminRole
		}
		if err := s.store.AddModerator(ctx, store.Moderator{ID: user, Role: role}, by); err != nil {
			return bot.Reply{}, err
		}
		return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("%s is now a %s.", user, role)}}}}, nil
	default: // remove
		if slices.Contains(s.admins, user) {
			return bot.Reply{}, problemf("%s is an admin by configuration (SITREP_ADMINS); remove it there.", user)
		}
		_, err := s.store.RemoveModerator(ctx, user, len(s.admins) == 0, by)
		if errors.Is(err, store.ErrLastAdmin) {
			return bot.Reply{}, problemf("%s is the last admin; add another admin first.", user)
		}
		if errors.Is(err, store.ErrNotFound) {
			return bot.Reply{}, problemf("%s is not a moderator.", user)
		}
		if err != nil {
			return bot.Reply{}, err
		}
		return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: fmt.Sprintf("%s is no longer a moderator.", user)}}}}, nil
	}
}

// listMods lists configured admins and stored moderators.
func (s *Set) listMods(ctx context.Context) (bot.Reply, error) {
	mods, err := s.store.Moderators(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	var b bot.Builder
	for _, id := range s.admins {
		b.Code(id).Plain(" — admin (configuration)").Line()
	}
	for _, m := range mods {
		b.Code(m.ID).Plain(fmt.Sprintf(" — %s, added by %s on %s", m.Role, m.AddedBy, m.Added.In(s.loc).Format("2 Jan 2006"))).Line()
	}
	blk := b.Block()
	if len(blk) == 0 {
		blk = bot.Block{{Text: "No moderators yet. /mod add <platform:user id> adds one."}}
	}
	return bot.Reply{Title: "Moderators", Blocks: []bot.Block{blk}}, nil
}
