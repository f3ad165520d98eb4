package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/bot/telegram/telegramtest"
)

// memCursor keeps the offset in memory.
type memCursor struct {
	mu sync.Mutex
	v  int64
}

func (c *memCursor) Cursor(context.Context, string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v, nil
}

func (c *memCursor) SetCursor(_ context.Context, _ string, v int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = v
	return nil
}

// echo answers every request with what the adapter made of it.
var echo = bot.HandlerFunc(func(_ context.Context, req *bot.Request) bot.Reply {
	if req.Command == "long" {
		var b strings.Builder
		for i := range 300 {
			fmt.Fprintf(&b, "line %d of a long answer about Laukkai and Lashio\n", i)
		}
		return bot.Text("%s", b.String())
	}
	if req.Command == "pages" {
		r := bot.Text("page for %q", req.Text)
		if req.Text != "page:3" {
			r.More = "pages page:3"
		}
		return r
	}
	if req.Command == "claims" && req.Text == "Kokang" {
		return bot.Text("claims of the Kokang army")
	}
	if req.Command == "town" && req.Text == "Kokang" {
		return bot.Errorf("No town called Kokang.")
	}
	return bot.Text("%s|%s|chat=%s|mgr=%v|origin=%s|lang=%s|user=%s", req.Command, req.Text, req.Chat.ID, req.ChatManager, req.Origin, req.Language, req.User)
})

var declared = []bot.Command{
	{Name: "town", Summary: "Who holds a town"},
	{Name: "subscribe", Summary: "Push updates here", Role: bot.ChatManager},
	{Name: "post", Summary: "Post an update", Role: bot.Moderator},
	{Name: "pages", Summary: "A paged list"},
}

func startAdapter(t *testing.T, h bot.Handler) (*telegramtest.Server, *Adapter, *memCursor) {
	t.Helper()
	api := telegramtest.NewServer(t, "123:secret-token")
	cur := &memCursor{}
	a, err := New(t.Context(), Config{Token: api.Token, Endpoint: api.Endpoint(), PollTimeout: time.Second, Cursor: cur, Commands: declared}, h)
	if err != nil {
		t.Fatal(err)
	}
	a.RegisterCommands(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return api, a, cur
}

var (
	private = telegramtest.Chat{ID: 42, Type: "private"}
	group   = telegramtest.Chat{ID: -100500, Type: "supergroup", Title: "Shan news"}
	channel = telegramtest.Chat{ID: -100900, Type: "channel", Title: "Outlet"}
)

func TestCommandsInPrivateGroupsTopicsAndChannels(t *testing.T) {
	api, _, cur := startAdapter(t, echo)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	api.SetMember(group.ID, 7, "administrator")

	api.PushText(private, 5, "Ma Thida", "/town Theinni", 0)
	_, groupMsg := api.PushText(group, 5, "Ko Aung", "/town@sitrep_bot <b>Lashio</b>", 0)
	api.PushText(group, 5, "Ko Aung", "/town@OtherBot Lashio", 0) // for another bot: ignored
	api.PushText(group, 5, "Ko Aung", "just chatting about Lashio", 0)
	api.PushText(group, 5, "Ko Aung", "/subscribe all", 0)
	api.PushText(group, 7, "Admin", "/subscribe all", 0)
	api.PushText(group, 5, "Ko Aung", "/town Muse", 12) // in a forum topic
	api.PushText(channel, 0, "", "/subscribe all", 0)
	last, _ := api.PushText(private, 5, "Ma Thida", "Kokang", 0) // a bare name

	sent, err := api.WaitSent(ctx, 7)
	if err != nil {
		t.Fatalf("%v; sent %+v", err, sent)
	}
	if err := api.Wait(ctx, func(_ []telegramtest.Message, confirmed int64) bool { return confirmed > int64(last) }); err != nil {
		t.Fatal(err)
	}
	if c, _ := cur.Cursor(ctx, Platform); c != int64(last)+1 {
		t.Errorf("stored offset %d, want %d", c, last+1)
	}
	want := []struct {
		chat          int64
		thread, reply int
		text          string
	}{
		{42, 0, 0, "town|Theinni|chat=42|mgr=true|origin=telegram:42:"},
		{group.ID, 0, groupMsg, "town|&lt;b&gt;Lashio&lt;/b&gt;|chat=-100500|mgr=false"},
		{group.ID, 0, -1, "subscribe|all|chat=-100500|mgr=false"},
		{group.ID, 0, -1, "subscribe|all|chat=-100500|mgr=true|origin=telegram:-100500:"},
		{group.ID, 12, -1, "town|Muse|chat=-100500#12|mgr=false"},
		{channel.ID, 0, 0, "subscribe|all|chat=-100900|mgr=true"},
		{42, 0, 0, "claims of the Kokang army"},
	}
	if len(sent) != len(want) {
		t.Fatalf("sent %d messages, want %d: %+v", len(sent), len(want), sent)
	}
	for i, w := range want {
		m := sent[i]
		if m.ChatID != w.chat || m.Thread != w.thread || !strings.Contains(m.Text, w.text) || m.ParseMode != "HTML" ||
			(w.reply >= 0 && m.ReplyTo != w.reply) || (w.reply == -1 && m.ReplyTo == 0) {
			t.Errorf("message %d = %+v\nwant chat %d thread %d reply %d containing %q", i, m, w.chat, w.thread, w.reply, w.text)
		}
	}
	if !strings.Contains(sent[0].Text, "lang=my|user=telegram:5") {
		t.Errorf("language or user lost: %s", sent[0].Text)
	}
	if api.Calls("getChatMember") != 2 {
		t.Errorf("getChatMember called %d times, want once per group member asking /subscribe", api.Calls("getChatMember"))
	}
	cmds := api.Commands()
	if !strings.Contains(cmds, `"town"`) || strings.Contains(cmds, "post") || strings.Contains(cmds, "subscribe") {
		t.Errorf("setMyCommands registered %s, want everyone's commands only", cmds)
	}
}

func TestLongAnswerIsSplit(t *testing.T) {
	api, _, _ := startAdapter(t, echo)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, msg := api.PushText(group, 5, "Ko Aung", "/long", 0)
	sent, err := api.WaitSent(ctx, 4)
	if err != nil {
		t.Fatalf("%v: %d sent", err, len(sent))
	}
	total := 0
	for i, m := range sent {
		total += len(m.Text)
		if len([]rune(m.Text)) > maxMessage {
			t.Errorf("part %d has %d characters", i, len([]rune(m.Text)))
		}
		if (i == 0) != (m.ReplyTo == msg) {
			t.Errorf("part %d replies to %d", i, m.ReplyTo)
		}
	}
	if !strings.Contains(sent[len(sent)-1].Text, "line 299 of") || total < 6000 {
		t.Errorf("the answer was not sent whole (%d bytes)", total)
	}
}

func TestSenderClassifiesBotAPIErrors(t *testing.T) {
	api, a, _ := startAdapter(t, echo)
	ctx := t.Context()
	for _, tc := range []struct {
		f    telegramtest.Failure
		kind bot.FailureKind
	}{
		{telegramtest.Failure{Code: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7}, bot.RetryLater},
		{telegramtest.Failure{Code: 403, Description: "Forbidden: bot was blocked by the user"}, bot.Gone},
		{telegramtest.Failure{Code: 400, Description: "Bad Request: chat not found"}, bot.Gone},
		{telegramtest.Failure{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: -1009999}, bot.Moved},
		{telegramtest.Failure{Code: 400, Description: "Bad Request: can't parse entities"}, bot.Permanent},
		{telegramtest.Failure{Code: 502, Description: "Bad Gateway"}, bot.Transient},
	} {
		api.Fail("sendMessage", tc.f)
		_, err := a.Send(ctx, "-100500", bot.Text("x"))
		se := bot.Classify(err)
		if se.Kind != tc.kind {
			t.Errorf("%s: kind %d, want %d (%v)", tc.f.Description, se.Kind, tc.kind, err)
		}
		if tc.kind == bot.RetryLater && se.After != 7*time.Second {
			t.Errorf("retry after %v, want 7s", se.After)
		}
		if tc.kind == bot.Moved && se.NewChatID != "-1009999" {
			t.Errorf("moved to %q", se.NewChatID)
		}
		if strings.Contains(err.Error(), api.Token) {
			t.Errorf("the token leaked into an error: %v", err)
		}
	}
	ref, err := a.Send(ctx, "-100500#3", bot.Reply{Title: "T", Silent: true, Blocks: []bot.Block{{{Text: "body"}}}})
	if err != nil {
		t.Fatal(err)
	}
	api.Fail("editMessageText", telegramtest.Failure{Code: 400, Description: "Bad Request: message is not modified"})
	if err := a.Edit(ctx, "-100500#3", ref, bot.Text("same")); err != nil {
		t.Errorf("not modified: %v, want success", err)
	}
	api.Fail("editMessageText", telegramtest.Failure{Code: 400, Description: "Bad Request: message can't be edited"})
	if err := a.Edit(ctx, "-100500#3", ref, bot.Text("new")); !errors.Is(err, bot.ErrCannotEdit) {
		t.Errorf("can't be edited: %v, want ErrCannotEdit", err)
	}
	if err := a.Edit(ctx, "-100500#3", ref, bot.Text("new text")); err != nil {
		t.Fatal(err)
	}
	sent := api.Sent()
	push, edit := sent[len(sent)-2], sent[len(sent)-1]
	if push.Thread != 3 || !push.Silent || edit.Method != "editMessageText" || edit.MessageID != push.MessageID || edit.Text != "new text" {
		t.Errorf("push %+v, edit %+v", push, edit)
	}
}

func TestChannelAdministratorSubscribesFromPrivateChat(t *testing.T) {
	api, _, _ := startAdapter(t, echo)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	api.AddChat("@outlet", channel)
	api.SetMember(channel.ID, 5, "administrator")
	api.PushText(private, 5, "Editor", "/subscribe @outlet town Lashio", 0)
	api.PushText(private, 6, "Stranger", "/subscribe @outlet all", 0)
	api.PushText(private, 5, "Editor", "/subscribe @nosuchchannel all", 0)
	sent, err := api.WaitSent(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"subscribe|town Lashio|chat=-100900|mgr=true",
		"Only administrators of @outlet",
		"I cannot find the channel @nosuchchannel",
	} {
		if sent[i].ChatID != private.ID || !strings.Contains(sent[i].Text, want) {
			t.Errorf("answer %d = %+v, want %q in the private chat", i, sent[i], want)
		}
	}
}

func TestWebhookChecksTheSecret(t *testing.T) {
	api := telegramtest.NewServer(t, "123:secret-token")
	a, err := New(t.Context(), Config{Token: api.Token, Endpoint: api.Endpoint(), Cursor: &memCursor{}}, echo)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetWebhook(t.Context(), "https://bot.example.org/telegram", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if got := api.Param("setWebhook", "secret_token"); got != "s3cret" {
		t.Fatalf("setWebhook secret_token = %q", got)
	}
	srv := httptest.NewServer(a.Webhook(t.Context(), "s3cret"))
	defer srv.Close()
	update := `{"update_id":9,"message":{"message_id":5,"date":1,"text":"/town Lashio","chat":{"id":42,"type":"private"},"from":{"id":5,"first_name":"A"}}}`
	for _, tc := range []struct {
		secret string
		code   int
	}{{"", 403}, {"wrong", 403}, {"s3cret", 200}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(update))
		if tc.secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tc.secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("secret %q: status %d, want %d", tc.secret, resp.StatusCode, tc.code)
		}
	}
	if sent := api.Sent(); len(sent) != 1 || !strings.Contains(sent[0].Text, "town|Lashio") {
		t.Fatalf("sent %+v, want one answer to the one good request", sent)
	}
}

func TestOlderButtonEditsInPlace(t *testing.T) {
	api, _, _ := startAdapter(t, echo)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	api.PushText(private, 5, "Reader", "/pages", 0)
	sent, err := api.WaitSent(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := sent[0]
	if !strings.Contains(first.Markup, `"callback_data":"pages page:3"`) || !strings.Contains(first.Markup, "Older") {
		t.Fatalf("no Older button: %+v", first)
	}
	api.PushCallback(private, 5, first.MessageID, "pages page:3")
	sent, err = api.WaitSent(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	edit := sent[1]
	if edit.Method != "editMessageText" || edit.MessageID != first.MessageID || !strings.Contains(edit.Text, "page:3") || edit.Markup != "" {
		t.Fatalf("edit = %+v", edit)
	}
	if err := api.WaitCalls(ctx, "answerCallbackQuery", 1); err != nil {
		t.Fatal(err)
	}
	// A button cannot run a moderator's command.
	api.PushCallback(private, 5, first.MessageID, "post hello")
	if err := api.WaitCalls(ctx, "answerCallbackQuery", 2); err != nil {
		t.Fatal(err)
	}
	if n := len(api.Sent()); n != 2 {
		t.Fatalf("a moderator command ran from a button: %+v", api.Sent())
	}
}

func TestNetworkErrorsNeverCarryTheToken(t *testing.T) {
	api, a, _ := startAdapter(t, echo)
	api.Close() // the Bot API goes away: every call fails with a URL error naming its path
	_, sendErr := a.Send(t.Context(), "-100500", bot.Text("x"))
	editErr := a.Edit(t.Context(), "-100500", "7", bot.Text("y"))
	for _, err := range []error{sendErr, editErr} {
		if err == nil {
			t.Fatal("a call to a closed Bot API succeeded")
		}
		if strings.Contains(err.Error(), api.Token) || !strings.Contains(err.Error(), "<token>") {
			t.Errorf("error text: %v", err)
		}
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("redaction hid the error's type: %T", err)
		}
		if k := bot.Classify(err).Kind; k != bot.Transient {
			t.Errorf("network failure classified %d, want transient", k)
		}
	}
}
