// Package telegramtest is a fake Telegram Bot API on net/http/httptest, for testing
// the adapter through the real tgbotapi: it queues updates for getUpdates, records what
// the bot sends, edits and registers, answers getChatMember from a table, and can be
// told to fail a method with any Bot API error.
package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BotID and BotUsername are the fake bot's identity.
const (
	BotID       = 777000
	BotUsername = "sitrep_bot"
)

// Message is a message the bot sent or edited.
type Message struct {
	Method    string // sendMessage or editMessageText
	ChatID    int64
	Thread    int
	MessageID int
	Text      string
	ReplyTo   int
	Silent    bool
	ParseMode string
	Markup    string
}

// Failure is a Bot API error answer.
type Failure struct {
	Code        int
	Description string
	RetryAfter  int
	MigrateTo   int64
}

// Server is the fake Bot API.
type Server struct {
	*httptest.Server
	Token string

	mu       sync.Mutex
	updates  []json.RawMessage
	nextID   int
	nextMsg  int
	offset   int64 // the highest offset the bot confirmed
	sent     []Message
	commands string
	members  map[string]string
	chats    map[string]Chat // by @username
	failures map[string][]Failure
	calls    map[string]int
	params   map[string]map[string]string // method → its last parameters
	discard  bool                         // count sent messages without keeping them (benchmarks)
	nextSent int
	changed  chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

// NewServer starts a fake Bot API for token, stopped when the test ends.
func NewServer(tb testing.TB, token string) *Server {
	s := &Server{Token: token, nextID: 1, nextMsg: 100, members: map[string]string{}, chats: map[string]Chat{}, failures: map[string][]Failure{},
		calls: map[string]int{}, params: map[string]map[string]string{}, changed: make(chan struct{}), stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Close ends pending long polls and stops the server.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.Server.Close()
}

// Endpoint is the tgbotapi endpoint format for this server.
func (s *Server) Endpoint() string { return s.URL + "/bot%s/%s" }

// notify wakes waiters; callers hold s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Push queues a raw update (without update_id, which it assigns) and returns its id.
func (s *Server) Push(update map[string]any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	update["update_id"] = id
	raw, _ := json.Marshal(update)
	s.updates = append(s.updates, raw)
	s.notify()
	return id
}

// Chat describes a chat for PushText.
type Chat struct {
	ID    int64
	Type  string // private, group, supergroup, channel
	Title string
}

// PushText queues a text message from user (0: a channel post) in chat, in forum
// topic thread if not 0, and returns the update id and the message id.
func (s *Server) PushText(chat Chat, userID int64, name, text string, thread int) (updateID, messageID int) {
	s.mu.Lock()
	s.nextMsg++
	msgID := s.nextMsg
	s.mu.Unlock()
	msg := map[string]any{
		"message_id": msgID, "date": time.Now().Unix(), "text": text,
		"chat": map[string]any{"id": chat.ID, "type": chat.Type, "title": chat.Title},
	}
	if strings.HasPrefix(text, "/") {
		end := strings.IndexAny(text, " \n")
		if end < 0 {
			end = len(text)
		}
		msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": len([]rune(text[:end]))}}
	}
	if thread != 0 {
		msg["message_thread_id"], msg["is_topic_message"] = thread, true
	}
	if userID != 0 {
		msg["from"] = map[string]any{"id": userID, "is_bot": false, "first_name": name, "language_code": "my"}
	}
	key := "message"
	if chat.Type == "channel" {
		key = "channel_post"
		msg["sender_chat"] = map[string]any{"id": chat.ID, "type": "channel", "title": chat.Title}
	}
	return s.Push(map[string]any{key: msg}), msgID
}

// PushInline queues an inline query from a user and returns the update id.
func (s *Server) PushInline(userID int64, query string) int {
	return s.Push(map[string]any{"inline_query": map[string]any{
		"id": "q" + strconv.Itoa(int(userID)), "query": query, "offset": "",
		"from": map[string]any{"id": userID, "is_bot": false, "first_name": "Reader"},
	}})
}

// PushCallback queues a press of an inline button with data under a message the bot
// sent in chat, and returns the update id.
func (s *Server) PushCallback(chat Chat, userID int64, messageID int, data string) int {
	return s.Push(map[string]any{"callback_query": map[string]any{
		"id": "cb" + strconv.Itoa(messageID), "data": data, "chat_instance": "x",
		"from":    map[string]any{"id": userID, "is_bot": false, "first_name": "Reader"},
		"message": map[string]any{"message_id": messageID, "date": 1, "chat": map[string]any{"id": chat.ID, "type": chat.Type}},
	}})
}

// SetMember sets a user's status in a chat for getChatMember ("administrator", ...).
func (s *Server) SetMember(chatID, userID int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[fmt.Sprintf("%d:%d", chatID, userID)] = status
}

// AddChat makes a chat known to getChat by its @username.
func (s *Server) AddChat(username string, c Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[username] = c
}

// Fail makes the next call of method answer f.
func (s *Server) Fail(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], f)
}

// Discard makes the server count sent messages instead of keeping them.
func (s *Server) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discard = true
}

// discardSend answers a sendMessage without parsing it when the server discards and
// no failure is queued: a benchmark then measures the bot's side, not this fake's
// form parsing, which Telegram does on its own machines.
func (s *Server) discardSend(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	if !s.discard || len(s.failures["sendMessage"]) > 0 {
		s.mu.Unlock()
		return false
	}
	s.calls["sendMessage"]++
	s.nextMsg++
	s.nextSent++
	id := s.nextMsg
	s.notify()
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	answer(w, map[string]any{"message_id": id, "date": 0, "chat": map[string]any{"id": 0, "type": "private"}})
	return true
}

// Count returns how many messages were sent while discarding.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSent
}

// WaitCalls waits until method was called at least n times.
func (s *Server) WaitCalls(ctx context.Context, method string, n int) error {
	return s.waitUntil(ctx, fmt.Sprintf("%d calls of %s", n, method), func() bool { return s.calls[method] >= n })
}

// WaitCount waits until at least n messages were sent while discarding.
func (s *Server) WaitCount(ctx context.Context, n int) error {
	return s.waitUntil(ctx, fmt.Sprintf("%d messages", n), func() bool { return s.nextSent >= n })
}

// Sent returns what the bot sent and edited so far, in order.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.sent...)
}

// Calls returns how often a method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Param returns a parameter of the last call of method.
func (s *Server) Param(method, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.params[method][name]
}

// Commands returns the last setMyCommands commands, as JSON.
func (s *Server) Commands() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commands
}

// Confirmed returns the highest offset the bot has asked for: every update below it
// is confirmed.
func (s *Server) Confirmed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// Wait waits until cond (called with the server's state locked) holds, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(sent []Message, confirmed int64) bool) error {
	return s.waitUntil(ctx, "a condition", func() bool { return cond(s.sent, s.offset) })
}

// waitUntil waits until ok, called with s.mu held, reports true.
func (s *Server) waitUntil(ctx context.Context, what string, ok func() bool) error {
	for {
		s.mu.Lock()
		done, ch := ok(), s.changed
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fake Bot API: waiting for %s: %w", what, ctx.Err())
		}
	}
}

// WaitSent waits until at least n messages were sent or edited and returns them all.
func (s *Server) WaitSent(ctx context.Context, n int) ([]Message, error) {
	err := s.Wait(ctx, func(sent []Message, _ int64) bool { return len(sent) >= n })
	return s.Sent(), err
}

// answer writes a Bot API response.
func answer(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	prefix := "/bot" + s.Token + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	method := strings.TrimPrefix(r.URL.Path, prefix)
	if method == "sendMessage" && s.discardSend(w, r) {
		return
	}
	_ = r.ParseForm()
	s.mu.Lock()
	s.calls[method]++
	last := map[string]string{}
	for k := range r.Form {
		last[k] = r.Form.Get(k)
	}
	s.params[method] = last
	s.notify()
	if q := s.failures[method]; len(q) > 0 {
		f := q[0]
		s.failures[method] = q[1:]
		s.mu.Unlock()
		params := map[string]any{}
		if f.RetryAfter > 0 {
			params["retry_after"] = f.RetryAfter
		}
		if f.MigrateTo != 0 {
			params["migrate_to_chat_id"] = f.MigrateTo
		}
		w.WriteHeader(f.Code)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": f.Code, "description": f.Description, "parameters": params})
		return
	}
	s.mu.Unlock()
	switch method {
	case "getMe":
		answer(w, map[string]any{"id": BotID, "is_bot": true, "first_name": "sitrep", "username": BotUsername})
	case "getUpdates":
		s.getUpdates(w, r)
	case "sendMessage", "editMessageText":
		s.record(w, r, method)
	case "setMyCommands":
		s.mu.Lock()
		s.commands = r.Form.Get("commands")
		s.notify()
		s.mu.Unlock()
		answer(w, true)
	case "getChatMember":
		s.mu.Lock()
		status := s.members[r.Form.Get("chat_id")+":"+r.Form.Get("user_id")]
		s.mu.Unlock()
		if status == "" {
			status = "member"
		}
		uid, _ := strconv.ParseInt(r.Form.Get("user_id"), 10, 64)
		answer(w, map[string]any{"user": map[string]any{"id": uid, "first_name": "u"}, "status": status})
	case "getChat":
		s.mu.Lock()
		c, ok := s.chats[r.Form.Get("chat_id")]
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})
			return
		}
		answer(w, map[string]any{"id": c.ID, "type": c.Type, "title": c.Title})
	case "answerInlineQuery":
		s.mu.Lock()
		s.sent = append(s.sent, Message{Method: method, Text: r.Form.Get("results")})
		s.notify()
		s.mu.Unlock()
		answer(w, true)
	case "answerCallbackQuery", "setWebhook", "deleteWebhook":
		answer(w, true)
	default:
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": 404, "description": "Not Found: method " + method})
	}
}

// getUpdates answers with the queued updates at or after offset, waiting up to the
// poll timeout for one.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request) {
	offset, _ := strconv.ParseInt(r.Form.Get("offset"), 10, 64)
	timeout, _ := strconv.Atoi(r.Form.Get("timeout"))
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 100 // as Telegram
	}
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if offset > s.offset {
			s.offset = offset
			s.notify()
		}
		var out []json.RawMessage
		for i := max(offset-1, 0); i < int64(len(s.updates)) && len(out) < limit; i++ {
			out = append(out, s.updates[i])
		}
		ch := s.changed
		s.mu.Unlock()
		if len(out) > 0 || timeout == 0 {
			answer(w, out)
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			answer(w, []json.RawMessage{})
			return
		case <-r.Context().Done():
			return
		case <-s.stop:
			answer(w, []json.RawMessage{})
			return
		}
	}
}

// record stores a sent or edited message and answers with it.
func (s *Server) record(w http.ResponseWriter, r *http.Request, method string) {
	chatID, _ := strconv.ParseInt(r.Form.Get("chat_id"), 10, 64)
	thread, _ := strconv.Atoi(r.Form.Get("message_thread_id"))
	replyTo, _ := strconv.Atoi(r.Form.Get("reply_to_message_id"))
	msgID, _ := strconv.Atoi(r.Form.Get("message_id"))
	s.mu.Lock()
	if method == "sendMessage" {
		s.nextMsg++
		msgID = s.nextMsg
	}
	if s.discard {
		s.nextSent++
		s.notify()
		s.mu.Unlock()
		answer(w, map[string]any{"message_id": msgID, "date": 0, "chat": map[string]any{"id": chatID, "type": "private"}})
		return
	}
	m := Message{Method: method, ChatID: chatID, Thread: thread, MessageID: msgID, Text: r.Form.Get("text"), ReplyTo: replyTo,
		Silent: r.Form.Get("disable_notification") == "true", ParseMode: r.Form.Get("parse_mode"), Markup: r.Form.Get("reply_markup")}
	s.sent = append(s.sent, m)
	s.notify()
	s.mu.Unlock()
	answer(w, map[string]any{"message_id": msgID, "date": time.Now().Unix(), "text": m.Text, "chat": map[string]any{"id": chatID, "type": "group"}})
}
