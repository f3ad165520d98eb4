package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot/telegram"
	"github.com/sitrep-bot/sitrep/bot/telegram/telegramtest"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
)

// serveTelegram starts the real sitrep binary as `sitrep serve` against a fake Bot
// API, configured only by environment variables as an operator would, until the
// returned stop sends it SIGTERM.
func serveTelegram(t *testing.T, bin string, api *telegramtest.Server, db string) (stop func(), logs *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"SITREP_DB="+db,
		"SITREP_ADMINS=telegram:1",
		"SITREP_TELEGRAM_TOKEN="+api.Token,
		"SITREP_TELEGRAM_API_ENDPOINT="+api.Endpoint(),
		"SITREP_LOG_LEVEL=debug",
		"SITREP_HTTP_ADDR="+freeAddr(t),
	)
	logs = &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve: %v\n%s", err, logs)
		}
	}
	t.Cleanup(stop)
	return stop, logs
}

// lastTo returns the newest message to a chat that contains want.
func lastTo(sent []telegramtest.Message, chat int64, want string) (telegramtest.Message, bool) {
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].ChatID == chat && strings.Contains(sent[i].Text, want) {
			return sent[i], true
		}
	}
	return telegramtest.Message{}, false
}

// TestTelegramStory builds the real binary, serves the fake Bot API with it and plays
// one story end to end.
func TestTelegramStory(t *testing.T) {
	api := telegramtest.NewServer(t, "4242:AAE-not-a-real-token")
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "sitrep.db")
	stop, logs := serveTelegram(t, bin, api, db)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	admin := telegramtest.Chat{ID: 1, Type: "private"}
	reader := telegramtest.Chat{ID: 2, Type: "private"}
	follower := telegramtest.Chat{ID: 3, Type: "private"}
	newsroom := telegramtest.Chat{ID: -1001, Type: "supergroup", Title: "Newsroom"}

	waitFor := func(chat int64, want string) telegramtest.Message {
		t.Helper()
		var m telegramtest.Message
		err := api.Wait(ctx, func(sent []telegramtest.Message, _ int64) bool {
			var ok bool
			m, ok = lastTo(sent, chat, want)
			return ok
		})
		if err != nil {
			t.Fatalf("no message to %d containing %q: %v\nsent: %+v", chat, want, err, api.Sent())
		}
		return m
	}

	api.PushText(admin, 1, "Admin", "/post claim:MNDAA source:https://www.irrawaddy.com The MNDAA says <b>Laukkai</b> is under its control", 0)
	waitFor(1, "Posted #1")
	api.PushText(reader, 2, "Reader", "/town Laukkaing", 0)
	town := waitFor(2, "Laukkai")
	if !strings.Contains(town.Text, "Claimed by <b>MNDAA</b>") || !strings.Contains(town.Text, "&lt;b&gt;Laukkai&lt;/b&gt;") || !strings.Contains(town.Text, "[UNVERIFIED]") {
		t.Errorf("/town Laukkaing:\n%s", town.Text)
	}
	api.PushText(reader, 2, "Reader", "/claims Kokang", 0)
	waitFor(2, "Claims by MNDAA")

	// Inline mode: "@sitrep_bot Hseni" in any chat offers Theinni's card.
	api.PushInline(2, "Hseni")
	if err := api.Wait(ctx, func(sent []telegramtest.Message, _ int64) bool {
		return len(sent) > 0 && sent[len(sent)-1].Method == "answerInlineQuery"
	}); err != nil {
		t.Fatal(err)
	}
	inline := api.Sent()[len(api.Sent())-1].Text
	if !strings.Contains(inline, `"title":"Hsenwi · သိန္နီ"`) || !strings.Contains(inline, "also Theinni") || !strings.Contains(inline, `"parse_mode":"HTML"`) {
		t.Errorf("inline answer for Hseni: %s", inline)
	}

	// Refusals: a reader posting, a group member who is not an admin subscribing.
	api.PushText(reader, 2, "Reader", "/post Lashio has fallen", 0)
	waitFor(2, "Only moderators can use /post")
	api.PushText(newsroom, 2, "Reader", "/subscribe all", 0)
	waitFor(newsroom.ID, "Only chat managers can use /subscribe")

	// A follower subscribes to Lashio and gets the next Lashio post pushed.
	api.PushText(follower, 3, "Follower", "/subscribe town Lashio", 0)
	waitFor(3, "Subscribed")
	api.PushText(admin, 1, "Admin", "/post claim:TNLA Fighting on the outskirts of Lashio", 0)
	push := waitFor(3, "Fighting on the outskirts of Lashio")
	if push.Method != "sendMessage" {
		t.Fatalf("push = %+v", push)
	}
	api.PushText(admin, 1, "Admin", "/retract 2 the clashes were near Hsenwi", 0)
	edit := waitFor(3, "RETRACTED")
	if edit.Method != "editMessageText" || edit.MessageID != push.MessageID || !strings.Contains(edit.Text, "the clashes were near Hsenwi") {
		t.Fatalf("the pushed message was not edited: %+v", edit)
	}

	// A crash after handling a /post but before its update was confirmed: the Bot API
	// delivers it again, and it is not posted twice.
	upd, _ := api.PushText(admin, 1, "Admin", "/post Muse border gate closed", 0)
	waitFor(1, "Posted #3")
	if err := api.Wait(ctx, func(_ []telegramtest.Message, confirmed int64) bool { return confirmed > int64(upd) }); err != nil {
		t.Fatal(err)
	}
	stop()
	firstLogs := logs.String()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetCursor(ctx, "telegram", int64(upd)); err != nil { // as if the offset had not been stored
		t.Fatal(err)
	}
	_ = st.Close()
	stop, logs = serveTelegram(t, bin, api, db)
	waitFor(1, "Posted #3 (already posted")
	api.PushText(admin, 1, "Admin", "/latest 5", 0)
	latest := waitFor(1, "Latest 3")
	if strings.Count(latest.Text, "Muse border gate closed") != 1 {
		t.Errorf("the re-delivered /post was posted twice:\n%s", latest.Text)
	}
	stop()
	for _, l := range []string{firstLogs, logs.String()} {
		if strings.Contains(l, api.Token) || strings.Contains(l, "AAE-not") {
			t.Error("the token appears in the logs")
		}
		if !strings.Contains(l, `"msg":"serving"`) {
			t.Errorf("no structured start-up line in the logs:\n%s", l)
		}
	}
}

func TestTelegramWebhookMode(t *testing.T) {
	api := telegramtest.NewServer(t, "4242:AAE-not-a-real-token")
	addr := freeAddr(t)
	env := map[string]string{
		"SITREP_DB":                      filepath.Join(t.TempDir(), "sitrep.db"),
		"SITREP_TELEGRAM_TOKEN":          api.Token,
		"SITREP_TELEGRAM_API_ENDPOINT":   api.Endpoint(),
		"SITREP_TELEGRAM_WEBHOOK_URL":    "https://bot.example.org/tg/hook",
		"SITREP_TELEGRAM_WEBHOOK_SECRET": "s3cret",
		"SITREP_HTTP_ADDR":               addr,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"serve"}, nil, &bytes.Buffer{}, &bytes.Buffer{}, func(k string) string { return env[k] })
	}()
	defer func() { stop(); <-done }()

	waitHealthy(t, ctx, addr)
	if got := api.Param("setWebhook", "secret_token"); got != "s3cret" || api.Param("setWebhook", "url") != env["SITREP_TELEGRAM_WEBHOOK_URL"] {
		t.Fatalf("setWebhook got url %q secret %q", api.Param("setWebhook", "url"), got)
	}
	post := func(secret string) int {
		body := `{"update_id":1,"message":{"message_id":5,"date":1,"text":"/town Lashio","chat":{"id":42,"type":"private"},"from":{"id":5,"first_name":"A"}}}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/tg/hook", strings.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("guess"); code != http.StatusForbidden {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post("s3cret"); code != http.StatusOK {
		t.Fatalf("right secret: %d", code)
	}
	if sent := api.Sent(); len(sent) != 1 || !strings.Contains(sent[0].Text, "Lashio") {
		t.Fatalf("sent %+v", sent)
	}
	if api.Calls("getUpdates") != 0 {
		t.Fatal("polled although a webhook is set")
	}
}

// TestEveryCommandInPrivateAndGroup sends every declared command, with a plausible
// argument, from a private chat and from a group, through tgbotapi and the fake Bot
// API, and checks that each is answered sensibly in the chat it came from.
func TestEveryCommandInPrivateAndGroup(t *testing.T) {
	api := telegramtest.NewServer(t, "4242:AAE-every")
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "sitrep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set := commands.New(st, commands.Options{Admins: []string{"telegram:1"}})
	a, err := telegram.New(t.Context(), telegram.Config{Token: api.Token, Endpoint: api.Endpoint(), PollTimeout: time.Second, Cursor: st, Commands: set.Router().Commands()}, set)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	samples := map[string]string{
		"latest": "3", "town": "Theinni", "claims": "Kokang", "help": "town", "about": "",
		"subscribe": "town Lashio", "unsubscribe": "town Lashio", "subscriptions": "",
		"post": "claim:MNDAA Fighting near Laukkai", "verify": "1 confirmed seen on video", "edit": "1 Fighting in Laukkai town",
		"retract": "1 wrong town", "deliveries": "1", "control": "Laukkai MNDAA 1", "alias": "Laukkai = Lauk Kai",
		"addtown": "Hopang", "addgroup": "kind:resistance MDY-PDF", "mod": "list",
	}
	chats := []telegramtest.Chat{{ID: 1, Type: "private"}, {ID: -1002, Type: "supergroup", Title: "Group"}}
	api.SetMember(-1002, 1, "creator")
	n := 0
	for _, chat := range chats {
		for _, c := range set.Router().Commands() {
			arg, ok := samples[c.Name]
			if !ok {
				t.Fatalf("no sample for /%s", c.Name)
			}
			if chat.Type != "private" && (c.Name == "addtown" || c.Name == "addgroup" || c.Name == "alias") {
				arg = strings.Replace(arg, "Hopang", "Mabein", 1)
				arg = strings.Replace(arg, "MDY-PDF", "SGG-PDF", 1)
				arg = strings.Replace(arg, "Lauk Kai", "Laukai", 1)
			}
			line := "/" + c.Name
			if chat.Type != "private" {
				line += "@" + telegramtest.BotUsername
			}
			if arg != "" {
				line += " " + arg
			}
			api.PushText(chat, 1, "Admin", line, 0)
			n++
			sent, err := api.WaitSent(ctx, n)
			if err != nil {
				t.Fatalf("%s in %s: no answer", line, chat.Type)
			}
			m := sent[len(sent)-1]
			if m.ChatID != chat.ID || m.Text == "" || strings.Contains(m.Text, "Something went wrong") || strings.Contains(m.Text, "Unknown command") {
				t.Errorf("%s in %s: %+v", line, chat.Type, m)
			}
			if c.Name == "retract" && chat.Type == "private" {
				api.PushText(chat, 1, "Admin", "/verify 1 confirmed back", 0) // so the group run can retract again
				n++
				if _, err := api.WaitSent(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
