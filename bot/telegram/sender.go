package telegram

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/sitrep-bot/sitrep/bot"
)

var _ bot.Sender = (*Adapter)(nil)

// Platform is "telegram".
func (a *Adapter) Platform() string { return Platform }

// Limits are the configured delivery limits.
func (a *Adapter) Limits() bot.Limits { return a.cfg.Limits }

// Send pushes a reply into a chat (or forum topic) and returns the message id.
func (a *Adapter) Send(ctx context.Context, chat string, r bot.Reply) (bot.MessageRef, error) {
	chatID, thread, err := parseChatRef(chat)
	if err != nil {
		return "", bot.PermanentError(err)
	}
	id, err := a.send(ctx, chatID, thread, 0, r, "")
	if err != nil {
		return "", err
	}
	return bot.MessageRef(strconv.Itoa(id)), nil
}

// ReplyTo sends a reply under one of the bot's messages.
func (a *Adapter) ReplyTo(ctx context.Context, chat string, ref bot.MessageRef, r bot.Reply) (bot.MessageRef, error) {
	chatID, thread, err := parseChatRef(chat)
	if err != nil {
		return "", bot.PermanentError(err)
	}
	to, _ := strconv.Atoi(string(ref))
	id, err := a.send(ctx, chatID, thread, to, r, "")
	if err != nil {
		return "", err
	}
	return bot.MessageRef(strconv.Itoa(id)), nil
}

// Edit replaces the text of one of the bot's messages.
func (a *Adapter) Edit(ctx context.Context, chat string, ref bot.MessageRef, r bot.Reply) error {
	chatID, _, err := parseChatRef(chat)
	if err != nil {
		return bot.PermanentError(err)
	}
	msgID, err := strconv.Atoi(string(ref))
	if err != nil {
		return bot.ErrCannotEdit
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return a.edit(ctx, chatID, msgID, r, "")
}

// edit replaces a message's text (and keyboard).
func (a *Adapter) edit(ctx context.Context, chatID int64, msgID int, r bot.Reply, markup string) error {
	parts := Split(HTML(r), maxMessage)
	if len(parts) > 1 {
		return bot.ErrCannotEdit // the new text no longer fits in one message
	}
	params := tgbotapi.Params{}
	params.AddNonZero64("chat_id", chatID)
	params.AddNonZero("message_id", msgID)
	params.AddNonEmpty("text", parts[0])
	params.AddNonEmpty("parse_mode", tgbotapi.ModeHTML)
	params.AddBool("disable_web_page_preview", true)
	params.AddNonEmpty("reply_markup", markup)
	_, err := a.bound(ctx).MakeRequest("editMessageText", params)
	var te *tgbotapi.Error
	if errors.As(err, &te) && strings.Contains(te.Message, "message is not modified") {
		return nil
	}
	if err != nil {
		return classifyErr(redact(err, a.cfg.Token))
	}
	return nil
}

// classifyErr turns a Bot API error into the delivery contract's kinds.
func classifyErr(err error) error {
	var te *tgbotapi.Error
	if !errors.As(err, &te) {
		return err // network trouble: transient
	}
	msg := strings.ToLower(te.Message)
	switch {
	case te.RetryAfter > 0 || te.Code == 429:
		return bot.RetryAfterError(time.Duration(max(te.RetryAfter, 1))*time.Second, err)
	case te.MigrateToChatID != 0:
		return bot.ChatMovedError(strconv.FormatInt(te.MigrateToChatID, 10), err)
	case te.Code == 403,
		strings.Contains(msg, "chat not found"),
		strings.Contains(msg, "bot was kicked"),
		strings.Contains(msg, "user is deactivated"),
		strings.Contains(msg, "have no rights to send"),
		strings.Contains(msg, "not enough rights"):
		return bot.ChatGoneError(err)
	case strings.Contains(msg, "message to edit not found"),
		strings.Contains(msg, "message can't be edited"):
		return errors.Join(bot.ErrCannotEdit, err)
	case te.Code >= 500:
		return err
	case te.Code >= 400:
		return bot.PermanentError(err)
	}
	return err
}

// classify is classifyErr as a SendError.
func classify(err error) *bot.SendError { return bot.Classify(classifyErr(err)) }
