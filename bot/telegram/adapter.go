// Package telegram is sitrep's Telegram adapter, on
// github.com/go-telegram-bot-api/telegram-bot-api/v5: it long-polls for updates in a loop
// of its own, turns messages into bot.Requests, answers in HTML, and implements the
// delivery contract (bot.Sender) for pushes.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/sitrep-bot/sitrep/bot"
)

// Platform is the name Telegram identities and chats carry.
const Platform = "telegram"

// Cursor keeps the update offset across restarts; the store implements it.
type Cursor interface {
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, v int64) error
}

// Config configures the adapter. Token and Cursor are required.
type Config struct {
	Token       string
	Endpoint    string        // tgbotapi's endpoint format, ".../bot%s/%s"; "" is the public Bot API
	PollTimeout time.Duration // long-poll timeout (30s)
	Limits      bot.Limits    // zero: bot.TelegramLimits()
	Cursor      Cursor
	Commands    []bot.Command // described to Telegram with setMyCommands
	Completer   bot.Completer // names for inline queries; nil answers exact names only
	Logger      *slog.Logger
	AdminTTL    time.Duration // how long a getChatMember answer is trusted (1m)
	// Polled, if set, is told the outcome of every getUpdates: nil, or the error
	// (token redacted), so that health checks can report a failing connection.
	Polled func(err error)
}

// Adapter connects a bot.Handler to Telegram.
type Adapter struct {
	api     *tgbotapi.BotAPI
	client  *http.Client
	handler bot.Handler
	cfg     Config
	log     *slog.Logger
	roles   map[string]bot.Role

	mu     sync.Mutex
	admins map[string]adminAnswer // chat 0 user → is admin, until
}

type adminAnswer struct {
	admin bool
	until time.Time
}

// New connects to the Bot API (getMe) and returns the adapter.
func New(ctx context.Context, cfg Config, h bot.Handler) (*Adapter, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = tgbotapi.APIEndpoint
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 30 * time.Second
	}
	if cfg.Limits.Global.Limit == 0 {
		cfg.Limits = bot.TelegramLimits()
	}
	if cfg.AdminTTL <= 0 {
		cfg.AdminTTL = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: cfg.PollTimeout + 15*time.Second}
	// getMe under ctx, so that a stop while Telegram does not answer is not held up.
	api, err := tgbotapi.NewBotAPIWithClient(cfg.Token, cfg.Endpoint, contextClient{ctx: ctx, client: client})
	if err != nil {
		var te *tgbotapi.Error
		if errors.As(err, &te) && (te.Code == http.StatusUnauthorized || te.Code == http.StatusNotFound) {
			// The Bot API answers 401, or 404 for a malformed token.
			err = errors.Join(bot.ErrUnauthorized, err)
		}
		return nil, fmt.Errorf("telegram getMe: %w", redact(err, cfg.Token))
	}
	api.Client = client
	a := &Adapter{api: api, client: client, handler: h, cfg: cfg, log: cfg.Logger.With("platform", Platform), roles: map[string]bot.Role{}, admins: map[string]adminAnswer{}}
	for _, c := range cfg.Commands {
		a.roles[c.Name] = c.Role
	}
	return a, nil
}

// Username is the bot's username, without the @.
func (a *Adapter) Username() string { return a.api.Self.UserName }

// redact hides the token in an error's text (URL errors carry it, since the Bot API
// has it in its path); errors.Is and errors.As still see the error beneath.
func redact(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return bot.Redacted(err, strings.ReplaceAll(err.Error(), token, "<token>"))
}

// Run long-polls for updates and handles them until ctx ends. A webhook left from an
// earlier webhook-mode run is removed first: Telegram refuses getUpdates while one is
// set.
func (a *Adapter) Run(ctx context.Context) error {
	if _, err := a.bound(ctx).MakeRequest("deleteWebhook", nil); err != nil {
		a.log.WarnContext(ctx, "deleteWebhook failed", "err", redact(err, a.cfg.Token))
	}
	offset, err := a.cfg.Cursor.Cursor(ctx, Platform)
	if err != nil {
		return fmt.Errorf("telegram: read update offset: %w", err)
	}
	failures := 0
	for ctx.Err() == nil {
		raws, err := a.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			if a.cfg.Polled != nil {
				a.cfg.Polled(redact(err, a.cfg.Token))
			}
			wait := bot.Backoff(failures, time.Second, time.Minute)
			if se := classify(err); se.Kind == bot.RetryLater {
				wait = se.After
			}
			a.log.WarnContext(ctx, "getUpdates failed", "err", redact(err, a.cfg.Token), "retry_in", wait)
			if !bot.Sleep(ctx, wait) {
				break
			}
			continue
		}
		failures = 0
		if a.cfg.Polled != nil {
			a.cfg.Polled(nil)
		}
		for _, raw := range raws {
			id := a.HandleUpdate(ctx, raw)
			if id < offset {
				continue
			}
			offset = id + 1
			// Confirmed only once handled: a crash before this line re-delivers it,
			// and a repeated /post is recognised by its origin.
			if err := a.cfg.Cursor.SetCursor(ctx, Platform, offset); err != nil && ctx.Err() == nil {
				a.log.ErrorContext(ctx, "store update offset", "err", err)
			}
		}
	}
	return nil
}

// RegisterCommands describes everyone's commands to Telegram's command menu
// (setMyCommands, sent with Request); a failure is logged, not fatal.
func (a *Adapter) RegisterCommands(ctx context.Context) {
	var cmds []tgbotapi.BotCommand
	for _, c := range a.cfg.Commands {
		if c.Role != bot.Everyone {
			continue
		}
		desc := c.Summary
		if len(desc) < 3 {
			desc = c.Name + " command"
		}
		cmds = append(cmds, tgbotapi.BotCommand{Command: c.Name, Description: desc})
	}
	if _, err := a.bound(ctx).Request(tgbotapi.NewSetMyCommands(cmds...)); err != nil {
		a.log.WarnContext(ctx, "setMyCommands failed; the command menu may be stale", "err", redact(err, a.cfg.Token))
	}
}

// contextClient binds the requests of a tgbotapi.BotAPI (whose MakeRequest takes no
// context) to a context, so that a long poll ends when the adapter stops.
type contextClient struct {
	ctx    context.Context
	client *http.Client
}

// bound returns the bot API with its requests under ctx.
func (a *Adapter) bound(ctx context.Context) *tgbotapi.BotAPI {
	api := *a.api
	api.Client = contextClient{ctx: ctx, client: a.client}
	return &api
}

// Do sends the request under the bound context.
func (c contextClient) Do(req *http.Request) (*http.Response, error) {
	return c.client.Do(req.WithContext(c.ctx))
}

// getUpdates long-polls once. It calls the method itself, not through GetUpdates, so
// that fields tgbotapi v5.5.1 does not know (message_thread_id) survive.
func (a *Adapter) getUpdates(ctx context.Context, offset int64) ([]json.RawMessage, error) {
	poller := a.bound(ctx)
	params := tgbotapi.Params{}
	params.AddNonZero64("offset", offset)
	params.AddNonZero("timeout", int(a.cfg.PollTimeout/time.Second))
	params.AddNonEmpty("allowed_updates", `["message","channel_post","callback_query","inline_query"]`)
	resp, err := poller.MakeRequest("getUpdates", params)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(resp.Result, &raw); err != nil {
		return nil, fmt.Errorf("decode updates: %w", err)
	}
	return raw, nil
}

// extra holds the fields of an update that tgbotapi v5.5.1 does not decode.
type extra struct {
	Message *struct {
		MessageThreadID int  `json:"message_thread_id"`
		IsTopicMessage  bool `json:"is_topic_message"`
	} `json:"message"`
}

// answerTimeout bounds the handling of one update, its answers included; a stop lets
// the update being handled finish within it.
const answerTimeout = 5 * time.Second

// HandleUpdate handles one update as Telegram sent it (from getUpdates or a webhook)
// and returns its id.
func (a *Adapter) HandleUpdate(ctx context.Context, raw json.RawMessage) int64 {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	var u tgbotapi.Update
	if err := json.Unmarshal(raw, &u); err != nil {
		a.log.WarnContext(ctx, "undecodable update", "err", err)
		return -1
	}
	var x extra
	_ = json.Unmarshal(raw, &x)
	thread := 0
	if x.Message != nil && x.Message.IsTopicMessage {
		thread = x.Message.MessageThreadID
	}
	switch {
	case u.Message != nil:
		a.handleMessage(ctx, u.Message, thread, false)
	case u.ChannelPost != nil:
		a.handleMessage(ctx, u.ChannelPost, 0, true)
	case u.InlineQuery != nil:
		a.handleInline(ctx, u.InlineQuery)
	case u.CallbackQuery != nil:
		a.handleCallback(ctx, u.CallbackQuery)
	}
	return int64(u.UpdateID)
}

// chatKind maps Telegram's chat types.
func chatKind(t string) bot.ChatKind {
	switch t {
	case "private":
		return bot.Private
	case "channel":
		return bot.Channel
	}
	return bot.Group
}

// chatRef is a chat id, with the forum topic after a '#' when there is one, so that
// answers and pushes stay in the topic a subscription came from.
func chatRef(chatID int64, thread int) string {
	if thread == 0 {
		return strconv.FormatInt(chatID, 10)
	}
	return fmt.Sprintf("%d#%d", chatID, thread)
}

// parseChatRef splits a chatRef.
func parseChatRef(ref string) (chatID int64, thread int, err error) {
	id, th, _ := strings.Cut(ref, "#")
	if chatID, err = strconv.ParseInt(id, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("telegram chat %q: %w", ref, err)
	}
	if th != "" {
		if thread, err = strconv.Atoi(th); err != nil {
			return 0, 0, fmt.Errorf("telegram chat %q: %w", ref, err)
		}
	}
	return chatID, thread, nil
}

// handleMessage answers a command, or in a private chat a bare name as /town or
// /claims would.
func (a *Adapter) handleMessage(ctx context.Context, m *tgbotapi.Message, thread int, channel bool) {
	if m.Chat == nil || m.Text == "" {
		return
	}
	kind := chatKind(m.Chat.Type)
	name, args, ok := bot.ParseCommand(m.Text, a.api.Self.UserName)
	if !ok {
		if strings.HasPrefix(strings.TrimSpace(m.Text), "/") || kind != bot.Private {
			return // another bot's command, or group chatter
		}
		name, args = "town", strings.TrimSpace(m.Text)
	}
	req := &bot.Request{
		Command: name, Text: args,
		Chat:   bot.Chat{Platform: Platform, ID: chatRef(m.Chat.ID, thread), Kind: kind, Title: m.Chat.Title},
		Time:   time.Unix(int64(m.Date), 0),
		Origin: fmt.Sprintf("%s:%d:%d", Platform, m.Chat.ID, m.MessageID),
	}
	switch {
	case m.From != nil:
		req.User = bot.Identity{Platform: Platform, UserID: strconv.FormatInt(m.From.ID, 10), Name: strings.TrimSpace(m.From.FirstName + " " + m.From.LastName)}
		req.Language = m.From.LanguageCode
	case m.SenderChat != nil:
		req.User = bot.Identity{Platform: Platform, UserID: strconv.FormatInt(m.SenderChat.ID, 10), Name: m.SenderChat.Title}
	}
	// From a private chat, an administrator of a broadcast channel manages the
	// channel's subscriptions: "/subscribe @channel town Lashio".
	if kind == bot.Private && a.roles[name] == bot.ChatManager && strings.HasPrefix(args, "@") && m.From != nil {
		if problem := a.actForChannel(ctx, req, m.From.ID); problem != "" {
			if _, err := a.send(ctx, m.Chat.ID, 0, 0, bot.Errorf("%s", problem), ""); err != nil {
				a.log.WarnContext(ctx, "answer failed", "chat", m.Chat.ID, "err", redact(err, a.cfg.Token))
			}
			return
		}
		channel = true
	}
	// Only administrators can post in a channel; in a group, ask Telegram, but only
	// for the commands that need it.
	switch {
	case kind == bot.Private || channel:
		req.ChatManager = true
	case a.roles[name] == bot.ChatManager && m.From != nil:
		req.ChatManager = a.isAdmin(ctx, m.Chat.ID, m.From.ID)
	}
	reply := a.handler.Serve(ctx, req)
	if !ok && reply.Tone == bot.Error {
		// Not a town: perhaps a group ("MNDAA", "Kokang army").
		req.Command = "claims"
		if r := a.handler.Serve(ctx, req); r.Tone != bot.Error {
			reply = r
		}
	}
	replyTo := 0
	if kind != bot.Private && !channel {
		replyTo = m.MessageID
	}
	if kind == bot.Private {
		thread = 0 // the answer to a channel's administrator goes to the private chat
	}
	if _, err := a.send(ctx, m.Chat.ID, thread, replyTo, reply, olderButton(reply)); err != nil {
		a.log.WarnContext(ctx, "answer failed", "chat", m.Chat.ID, "command", name, "err", redact(err, a.cfg.Token))
	}
}

// olderButton is the "Older ›" inline keyboard for a reply with a next page, as the
// JSON of reply_markup, or "" for none. It is written directly: it is on most answers,
// and reflecting over tgbotapi's keyboard types costs more than the rest of the
// message's parameters.
func olderButton(r bot.Reply) string {
	if r.More == "" || len(r.More) > 64 {
		return ""
	}
	data, err := json.Marshal(r.More)
	if err != nil {
		return ""
	}
	return `{"inline_keyboard":[[{"text":"Older ›","callback_data":` + string(data) + `}]]}`
}

// handleCallback answers a press of "Older ›": it runs the page's command and edits
// the message in place to show it.
func (a *Adapter) handleCallback(ctx context.Context, q *tgbotapi.CallbackQuery) {
	defer func() {
		if _, err := a.bound(ctx).Request(tgbotapi.NewCallback(q.ID, "")); err != nil {
			a.log.WarnContext(ctx, "answerCallbackQuery failed", "err", redact(err, a.cfg.Token))
		}
	}()
	m := q.Message
	name, args, ok := bot.ParseCommand("/"+q.Data, "")
	if !ok || m == nil || m.Chat == nil || a.roles[name] != bot.Everyone {
		return // only reading commands page
	}
	req := &bot.Request{Command: name, Text: args, Chat: bot.Chat{Platform: Platform, ID: chatRef(m.Chat.ID, 0), Kind: chatKind(m.Chat.Type)}}
	if q.From != nil {
		req.User = bot.Identity{Platform: Platform, UserID: strconv.FormatInt(q.From.ID, 10), Name: q.From.FirstName}
		req.Language = q.From.LanguageCode
	}
	reply := a.handler.Serve(ctx, req)
	if err := a.edit(ctx, m.Chat.ID, m.MessageID, reply, olderButton(reply)); err != nil {
		a.log.WarnContext(ctx, "page edit failed", "chat", m.Chat.ID, "err", redact(err, a.cfg.Token))
	}
}

// actForChannel points a private request at the channel its text starts with, after
// checking that the channel exists, that the bot can see it, and that the user
// administers it. It returns a message for the user when it cannot.
func (a *Adapter) actForChannel(ctx context.Context, req *bot.Request, userID int64) string {
	handle, rest, _ := strings.Cut(req.Text, " ")
	ch, err := a.bound(ctx).GetChat(tgbotapi.ChatInfoConfig{ChatConfig: tgbotapi.ChatConfig{SuperGroupUsername: handle}})
	if err != nil || ch.Type != "channel" {
		return fmt.Sprintf("I cannot find the channel %s. Add me to it as an administrator, then try again.", handle)
	}
	if !a.isAdmin(ctx, ch.ID, userID) {
		return fmt.Sprintf("Only administrators of %s can manage its subscriptions.", handle)
	}
	req.Chat = bot.Chat{Platform: Platform, ID: chatRef(ch.ID, 0), Kind: bot.Channel, Title: ch.Title}
	req.Text = strings.TrimSpace(rest)
	req.ChatManager = true
	return ""
}

// isAdmin asks Telegram whether a user administers a chat, trusting the answer for
// AdminTTL.
func (a *Adapter) isAdmin(ctx context.Context, chatID, userID int64) bool {
	key := fmt.Sprintf("%d\x00%d", chatID, userID)
	a.mu.Lock()
	ans, ok := a.admins[key]
	a.mu.Unlock()
	if ok && time.Now().Before(ans.until) {
		return ans.admin
	}
	member, err := a.bound(ctx).GetChatMember(tgbotapi.GetChatMemberConfig{ChatConfigWithUser: tgbotapi.ChatConfigWithUser{ChatID: chatID, UserID: userID}})
	if err != nil {
		a.log.WarnContext(ctx, "getChatMember failed", "chat", chatID, "err", redact(err, a.cfg.Token))
		return false
	}
	admin := member.Status == "creator" || member.Status == "administrator"
	a.mu.Lock()
	a.admins[key] = adminAnswer{admin: admin, until: time.Now().Add(a.cfg.AdminTTL)}
	a.mu.Unlock()
	return admin
}

// send sends a reply as one or more HTML messages and returns the first one's id.
func (a *Adapter) send(ctx context.Context, chatID int64, thread, replyTo int, r bot.Reply, markup string) (int, error) {
	first := 0
	for i, part := range Split(HTML(r), maxMessage) {
		params := tgbotapi.Params{}
		params.AddNonZero64("chat_id", chatID)
		params.AddNonZero("message_thread_id", thread)
		params.AddNonEmpty("text", part)
		params.AddNonEmpty("parse_mode", tgbotapi.ModeHTML)
		params.AddBool("disable_web_page_preview", true)
		params.AddBool("disable_notification", r.Silent)
		if i == 0 && replyTo != 0 {
			params.AddNonZero("reply_to_message_id", replyTo)
			params.AddBool("allow_sending_without_reply", true)
		}
		params.AddNonEmpty("reply_markup", markup)
		if err := ctx.Err(); err != nil && i > 0 {
			return first, err
		}
		resp, err := a.bound(ctx).MakeRequest("sendMessage", params)
		if err != nil {
			return first, classifyErr(redact(err, a.cfg.Token))
		}
		var msg struct {
			MessageID int `json:"message_id"`
		}
		if err := json.Unmarshal(resp.Result, &msg); err != nil {
			return first, fmt.Errorf("decode sent message: %w", err)
		}
		if i == 0 {
			first = msg.MessageID
		}
	}
	return first, nil
}
