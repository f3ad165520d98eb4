package telegram

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/sitrep-bot/sitrep/bot"
)

// maxInlineResults is how many cards an inline query offers.
const maxInlineResults = 6

// handleInline answers "@sitrep_bot Lashio" typed in any chat with status cards: the
// town or group the text names (aliases and typos as in /town), then towns and groups
// whose names start with it. Each card is what /town or /claims would send.
func (a *Adapter) handleInline(ctx context.Context, q *tgbotapi.InlineQuery) {
	text := strings.TrimSpace(q.Query)
	var results []any
	seen := map[string]bool{}
	add := func(command, name string) {
		if len(results) >= maxInlineResults || name == "" || utf8.RuneCountInString(name) > 100 {
			return
		}
		req := &bot.Request{Command: command, Text: name, Chat: bot.Chat{Platform: Platform, Kind: bot.Private}}
		if q.From != nil {
			req.User = bot.Identity{Platform: Platform, UserID: strconv.FormatInt(q.From.ID, 10), Name: q.From.FirstName}
			req.Language = q.From.LanguageCode
		}
		r := a.handler.Serve(ctx, req)
		if r.Tone == bot.Error || seen[r.Title] {
			return
		}
		seen[r.Title] = true
		sum := sha256.Sum256([]byte(command + "\x00" + r.Title))
		card := tgbotapi.NewInlineQueryResultArticleHTML(hex.EncodeToString(sum[:8]), r.Title, Split(HTML(r), maxMessage)[0])
		card.Description = "/" + command + " " + name
		results = append(results, card)
	}
	if text != "" {
		add("town", text)
		add("claims", text)
		if a.cfg.Completer != nil {
			for _, n := range a.cfg.Completer.Complete(ctx, bot.Town, text, maxInlineResults) {
				add("town", n)
			}
			for _, n := range a.cfg.Completer.Complete(ctx, bot.GroupName, text, maxInlineResults) {
				add("claims", n)
			}
		}
	}
	cfg := tgbotapi.InlineConfig{InlineQueryID: q.ID, Results: results, CacheTime: 60}
	if _, err := a.bound(ctx).Request(cfg); err != nil {
		a.log.WarnContext(ctx, "answerInlineQuery failed", "err", redact(err, a.cfg.Token))
	}
}
