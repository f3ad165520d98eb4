package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/sitrep-bot/sitrep/bot"
)

// fakeGateway is a fake Discord: REST for the gateway URL and interaction callbacks,
// and a websocket gateway that says HELLO, takes IDENTIFY, sends READY, answers
// heartbeats, and dispatches the interactions a test gives it.
type fakeGateway struct {
	url       string
	dispatch  chan string // raw interaction JSON to send as INTERACTION_CREATE
	callbacks chan string // bodies of interaction callbacks
	identify  chan string
	upgrader  websocket.Upgrader
	wg        sync.WaitGroup

	mu  sync.Mutex
	all []string // every REST request: "METHOD path body"
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mu.Lock()
		f.all = append(f.all, r.Method+" "+r.URL.Path+" "+string(body))
		f.mu.Unlock()
	}
	switch {
	case r.URL.Path == "/api/v9/gateway":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"url":"`+strings.Replace(f.url, "http", "ws", 1)+`/gw"}`)
	case strings.HasPrefix(r.URL.Path, "/api/v9/interactions/"), strings.HasPrefix(r.URL.Path, "/api/v9/webhooks/"):
		body, _ := io.ReadAll(r.Body)
		f.callbacks <- r.Method + " " + r.URL.Path + " " + string(body)
		if r.Method == http.MethodPatch || r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v9/webhooks/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"m1","channel_id":"c1"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(r.URL.Path, "/api/v9/channels/"):
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, `{"id":"news","type":5}`) // an announcement channel
			return
		}
		_, _ = io.WriteString(w, `{"id":"9001","channel_id":"news"}`)
	case strings.TrimSuffix(r.URL.Path, "/") == "/gw":
		conn, err := f.upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		f.wg.Add(1)
		defer f.wg.Done()
		f.session(conn)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// session plays the gateway side of one connection.
func (f *fakeGateway) session(conn *websocket.Conn) {
	defer conn.Close()
	_ = conn.WriteJSON(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": 45000}})
	var mu sync.Mutex
	send := func(v any) {
		mu.Lock()
		defer mu.Unlock()
		_ = conn.WriteJSON(v)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var msg struct {
				Op int             `json:"op"`
				D  json.RawMessage `json:"d"`
			}
			if err := conn.ReadJSON(&msg); err != nil {
				return
			}
			switch msg.Op {
			case 1:
				send(map[string]any{"op": 11})
			case 2:
				f.identify <- string(msg.D)
				send(map[string]any{"op": 0, "t": "READY", "s": 1, "d": map[string]any{
					"v": 9, "session_id": "s1", "user": map[string]any{"id": "app1", "username": "sitrep", "bot": true}, "guilds": []any{},
				}})
			}
		}
	}()
	seq := 2
	for {
		select {
		case raw := <-f.dispatch:
			send(map[string]any{"op": 0, "t": "INTERACTION_CREATE", "s": seq, "d": json.RawMessage(raw)})
			seq++
		case <-done:
			return
		}
	}
}

// startFakeGateway serves a fake gateway and REST API for the test, and returns it with
// a session whose every request goes there; callbacks is how many interaction
// callbacks it buffers.
func startFakeGateway(t *testing.T, callbacks int) (*fakeGateway, *discordgo.Session) {
	t.Helper()
	f := &fakeGateway{dispatch: make(chan string), callbacks: make(chan string, callbacks), identify: make(chan string, 1),
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	base, _ := url.Parse(srv.URL)
	s, err := discordgo.New("Bot gateway-token")
	if err != nil {
		t.Fatal(err)
	}
	s.Client = guardedClient(t, base)
	s.Identify.Compress = false
	return f, s
}

func TestGatewayAnswersInteractions(t *testing.T) {
	f, s := startFakeGateway(t, 4)
	slow := make(chan struct{})
	h := bot.HandlerFunc(func(_ context.Context, req *bot.Request) bot.Reply {
		if req.Command == "slow" {
			<-slow
		}
		return bot.Text("answer to /%s %s from %s", req.Command, req.Options["name"], req.User)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunGateway(runCtx, s, &Interactions{Handler: h, DeferAfter: 50 * time.Millisecond}, nil)
	}()

	select {
	case id := <-f.identify:
		if !strings.Contains(id, `"token":"Bot gateway-token"`) {
			t.Errorf("identify = %s", id)
		}
	case err := <-done:
		t.Fatalf("the gateway stopped: %v", err)
	case <-ctx.Done():
		t.Fatal("no IDENTIFY")
	}
	f.dispatch <- `{"type":2,"id":"77","application_id":"app1","channel_id":"c1","token":"itok","locale":"my",` +
		`"user":{"id":"300","username":"reader"},"data":{"id":"d","name":"town","type":1,"options":[{"name":"name","type":3,"value":"Lashio"}]}}`
	select {
	case cb := <-f.callbacks:
		if !strings.HasPrefix(cb, "POST /api/v9/interactions/77/itok/callback ") || !strings.Contains(cb, "answer to /town Lashio from discord:300") || !strings.Contains(cb, `"type":4`) {
			t.Errorf("callback = %s", cb)
		}
	case <-ctx.Done():
		t.Fatal("the interaction was not answered")
	}
	// A slow answer is deferred, then completed by editing the original response.
	f.dispatch <- `{"type":2,"id":"78","application_id":"app1","channel_id":"c1","token":"itok2",` +
		`"user":{"id":"300","username":"reader"},"data":{"id":"d","name":"slow","type":1,"options":[]}}`
	select {
	case cb := <-f.callbacks:
		if !strings.HasPrefix(cb, "POST /api/v9/interactions/78/itok2/callback ") || !strings.Contains(cb, `"type":5`) {
			t.Errorf("deferral = %s", cb)
		}
	case <-ctx.Done():
		t.Fatal("no deferral")
	}
	close(slow)
	select {
	case cb := <-f.callbacks:
		if !strings.HasPrefix(cb, "PATCH /api/v9/webhooks/app1/itok2/messages/@original ") || !strings.Contains(cb, "answer to /slow") {
			t.Errorf("deferred answer = %s", cb)
		}
	case <-ctx.Done():
		t.Fatal("the deferred answer never came")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHTTPInteractionsDeferSlowAnswers(t *testing.T) {
	f := &fakeGateway{callbacks: make(chan string, 4)}
	rest := httptest.NewServer(f)
	defer rest.Close()
	base, _ := url.Parse(rest.URL)
	s, _ := discordgo.New("Bot t")
	s.Client = guardedClient(t, base)
	pub, priv, _ := ed25519.GenerateKey(nil)
	slow := make(chan struct{})
	h := bot.HandlerFunc(func(context.Context, *bot.Request) bot.Reply { <-slow; return bot.Text("late answer") })
	srv := httptest.NewServer(&Interactions{PublicKey: pub, Handler: h, Session: s, DeferAfter: 20 * time.Millisecond})
	defer srv.Close()

	body := `{"type":2,"id":"9","application_id":"app1","channel_id":"c1","token":"tk","user":{"id":"1"},"data":{"id":"d","name":"town","type":1}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header.Set("X-Signature-Timestamp", "1")
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(priv, []byte("1"+body))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(got), `"type":5`) {
		t.Fatalf("HTTP answer = %s, want a deferral", got)
	}
	close(slow)
	select {
	case cb := <-f.callbacks:
		if !strings.HasPrefix(cb, "PATCH /api/v9/webhooks/app1/tk/messages/@original ") || !strings.Contains(cb, "late answer") {
			t.Fatalf("completion = %s", cb)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deferred answer never came")
	}
}

// TestEveryMessageSetsAllowedMentions plays every way sitrep sends a message through
// the real discordgo against the fake (an answer, a deferral completed by editing
// the original response, a deferral whose visibility changed completed by a followup,
// a failed page as a followup, a push, a correction and an edit in an announcement
// channel), and checks each request body: no message may ping anyone or hold more
// content than Discord allows.
func TestEveryMessageSetsAllowedMentions(t *testing.T) {
	f, s := startFakeGateway(t, 8)
	gate := make(chan struct{})
	languages := make(chan string, 8)
	h := bot.HandlerFunc(func(_ context.Context, req *bot.Request) bot.Reply {
		languages <- req.Language
		switch req.Command {
		case "town":
			return bot.Text("@everyone <@&1> <@2> Lashio")
		case "post":
			<-gate
			return bot.Text("@everyone posted") // public, after a private deferral
		case "verify":
			<-gate
			return bot.Reply{Tone: bot.Done, Blocks: []bot.Block{{{Text: "@here verified"}}}}
		}
		<-gate
		return bot.Errorf("@everyone that page is gone")
	})
	cmds := []bot.Command{{Name: "post", Role: bot.Moderator}, {Name: "verify", Role: bot.Moderator}, {Name: "town"}}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunGateway(runCtx, s, &Interactions{Handler: h, Commands: cmds, DeferAfter: 20 * time.Millisecond}, nil)
	}()
	select {
	case <-f.identify:
	case err := <-done:
		t.Fatalf("the gateway stopped: %v", err)
	case <-ctx.Done():
		t.Fatal("no IDENTIFY")
	}
	next := func(want ...string) {
		t.Helper()
		select {
		case cb := <-f.callbacks:
			for _, w := range want {
				if !strings.Contains(cb, w) {
					t.Errorf("%s lacks %s", cb, w)
				}
			}
		case <-ctx.Done():
			t.Fatalf("no call with %q", want)
		}
	}
	command := func(id, name string) string {
		return `{"type":2,"id":"` + id + `","application_id":"app1","channel_id":"c1","token":"tok` + id + `","locale":"my",` +
			`"member":{"user":{"id":"300","username":"mod"},"permissions":"16"},"data":{"id":"d","name":"` + name + `","type":1,"options":[]}}`
	}
	f.dispatch <- command("1", "town")
	next("POST /api/v9/interactions/1/tok1/callback", `"type":4`)
	f.dispatch <- command("2", "verify")
	next("POST /api/v9/interactions/2/tok2/callback", `"type":5`, `"flags":64`)
	gate <- struct{}{}
	next("PATCH /api/v9/webhooks/app1/tok2/messages/@original", "verified")
	f.dispatch <- command("3", "post")
	next("POST /api/v9/interactions/3/tok3/callback", `"type":5`, `"flags":64`)
	gate <- struct{}{}
	next("DELETE /api/v9/webhooks/app1/tok3/messages/@original")
	next("POST /api/v9/webhooks/app1/tok3", "posted")
	f.dispatch <- `{"type":3,"id":"4","application_id":"app1","channel_id":"c1","token":"tok4","locale":"my","member":{"user":{"id":"300"},"permissions":"0"},` +
		`"message":{"id":"m1","channel_id":"c1"},"data":{"custom_id":"latest page:9 3","component_type":2}}`
	next("POST /api/v9/interactions/4/tok4/callback", `"type":6`)
	gate <- struct{}{}
	next("POST /api/v9/webhooks/app1/tok4", "page is gone", `"flags":64`)
	for range 4 {
		if l := <-languages; l != "my" {
			t.Errorf("request language %q, want the interaction's locale", l)
		}
	}

	sender := &Sender{Session: s}
	ref, err := sender.Send(ctx, "news", bot.Text("@everyone pushed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.ReplyTo(ctx, "news", ref, bot.Text("@everyone corrected")); err != nil {
		t.Fatal(err)
	}
	if err := sender.Edit(ctx, "news", ref, bot.Text("@everyone edited")); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	messages := 0
	for _, call := range f.all {
		method, rest, _ := strings.Cut(call, " ")
		path, body, _ := strings.Cut(rest, " ")
		if !strings.Contains(body, `"embeds"`) {
			continue
		}
		messages++
		var m struct {
			Content         string          `json:"content"`
			AllowedMentions json.RawMessage `json:"allowed_mentions"`
			Data            *struct {
				Content         string          `json:"content"`
				AllowedMentions json.RawMessage `json:"allowed_mentions"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		if m.Data != nil {
			m.Content, m.AllowedMentions = m.Data.Content, m.Data.AllowedMentions
		}
		if !strings.HasPrefix(string(m.AllowedMentions), `{"parse":[]`) || strings.Contains(body, "@everyone") || len([]rune(m.Content)) > maxContent {
			t.Errorf("%s %s: allowed_mentions %s in %s", method, path, m.AllowedMentions, body)
		}
	}
	if messages != 9 { // 3 answers or deferrals, 1 edit, 2 followups, a push, a correction, an edit
		t.Errorf("%d messages sent, want 9: %q", messages, f.all)
	}
	for _, want := range []string{"POST /api/v9/channels/news/messages/9001/crosspost", "PATCH /api/v9/channels/news/messages/9001"} {
		if !slices.ContainsFunc(f.all, func(c string) bool { return strings.HasPrefix(c, want+" ") }) {
			t.Errorf("no %s", want)
		}
	}
}

func TestRedactTokenHidesInteractionTokens(t *testing.T) {
	for _, raw := range []string{
		"https://discord.com/api/v9/interactions/123/aW50ZXJhY3Rpb24tdG9rZW4/callback",
		"https://discord.com/api/v9/webhooks/456/aW50ZXJhY3Rpb24tdG9rZW4/messages/@original",
	} {
		err := redactToken(&url.Error{Op: "Post", URL: raw, Err: io.ErrUnexpectedEOF})
		if strings.Contains(err.Error(), "aW50ZXJhY3Rpb24tdG9rZW4") || !strings.Contains(err.Error(), "<token>") {
			t.Errorf("%s → %v", raw, err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("redaction hid the cause: %v", err)
		}
	}
}
