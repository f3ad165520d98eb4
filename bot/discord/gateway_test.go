package discord

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v9/gateway":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"url":"`+strings.Replace(f.url, "http", "ws", 1)+`/gw"}`)
	case strings.HasPrefix(r.URL.Path, "/api/v9/interactions/"):
		body, _ := io.ReadAll(r.Body)
		f.callbacks <- r.URL.Path + " " + string(body)
		w.WriteHeader(http.StatusNoContent)
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

func TestGatewayAnswersInteractions(t *testing.T) {
	f := &fakeGateway{dispatch: make(chan string), callbacks: make(chan string, 4), identify: make(chan string, 1),
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	f.url = srv.URL
	base, _ := url.Parse(srv.URL)
	s, err := discordgo.New("Bot gateway-token")
	if err != nil {
		t.Fatal(err)
	}
	s.Client = &http.Client{Transport: Rewrite{Base: base}, Timeout: 10 * time.Second}
	s.Identify.Compress = false
	h := bot.HandlerFunc(func(_ context.Context, req *bot.Request) bot.Reply {
		return bot.Text("answer to /%s %s from %s", req.Command, req.Options["name"], req.User)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunGateway(runCtx, s, &Interactions{Handler: h}, nil) }()

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
		if !strings.HasPrefix(cb, "/api/v9/interactions/77/itok/callback ") || !strings.Contains(cb, "answer to /town Lashio from discord:300") || !strings.Contains(cb, `"type":4`) {
			t.Errorf("callback = %s", cb)
		}
	case <-ctx.Done():
		t.Fatal("the interaction was not answered")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
