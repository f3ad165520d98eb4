package discord

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/sitrep-bot/sitrep/bot"
)

// fakeREST is a fake Discord REST API: it records channel messages and edits, and
// answers the scripted errors first.
type fakeREST struct {
	mu       sync.Mutex
	requests []string // "METHOD path body"
	errors   []func(w http.ResponseWriter)
	hosts    map[string]bool
}

func (f *fakeREST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+string(body))
	f.hosts[r.Host] = true
	var fail func(http.ResponseWriter)
	if len(f.errors) > 0 {
		fail, f.errors = f.errors[0], f.errors[1:]
	}
	f.mu.Unlock()
	if fail != nil {
		fail(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v9/channels/") {
		kind := 0 // a text channel
		if strings.HasSuffix(r.URL.Path, "/news") {
			kind = 5 // an announcement channel
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "type": kind})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "9001", "channel_id": "123", "content": ""})
}

func newSender(t *testing.T) (*Sender, *fakeREST) {
	t.Helper()
	f := &fakeREST{hosts: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	s, err := discordgo.New("Bot test-token")
	if err != nil {
		t.Fatal(err)
	}
	s.Client = guardedClient(t, base)
	return &Sender{Session: s}, f
}

// guardedClient is an HTTP client that moves every call to base, as
// SITREP_DISCORD_API_ENDPOINT does, and fails the test if a request leaves for any
// other host (discord.com) all the same.
func guardedClient(t *testing.T, base *url.URL) *http.Client {
	t.Helper()
	guard := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != base.Host || r.Host != base.Host {
			t.Errorf("a request went to %s (Host %s), not to %s: %s %s", r.URL.Host, r.Host, base.Host, r.Method, r.URL)
			return nil, errors.New("request to a host other than the configured endpoint")
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	return &http.Client{Transport: Rewrite{Base: base, Next: guard}, Timeout: 10 * time.Second}
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSendEditReplyGoToTheConfiguredHost(t *testing.T) {
	s, f := newSender(t)
	ctx := t.Context()
	var b bot.Builder
	b.Plain("#1 @everyone *claims* <@&123> [x](http://evil)").Line().Link("Irrawaddy", "https://www.irrawaddy.com")
	ref, err := s.Send(ctx, "123", bot.Reply{Title: "sitrep update", Blocks: []bot.Block{b.Block()}, Silent: true})
	if err != nil || ref != "9001" {
		t.Fatalf("send: %q, %v", ref, err)
	}
	if err := s.Edit(ctx, "123", ref, bot.Text("RETRACTED")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplyTo(ctx, "123", ref, bot.Text("Correction")); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 4 || len(f.hosts) != 1 {
		t.Fatalf("requests %q to hosts %v", f.requests, f.hosts)
	}
	send, edit, reply := f.requests[0], f.requests[2], f.requests[3]
	if !strings.HasPrefix(f.requests[1], "GET /api/v9/channels/123 ") {
		t.Errorf("the channel's type was not looked up: %s", f.requests[1])
	}
	for _, want := range []string{"POST /api/v9/channels/123/messages ", `"allowed_mentions":{"parse":[]`, `"flags":4096`, `"description":"\\#1 `,
		"@\u200beveryone", `\\*claims\\*`, `\\[x\\]\\(http://evil\\)`, `[Irrawaddy](\u003chttps://www.irrawaddy.com\u003e)`} {
		if !strings.Contains(send, want) {
			t.Errorf("send lacks %s:\n%s", want, send)
		}
	}
	if !strings.HasPrefix(edit, "PATCH /api/v9/channels/123/messages/9001 ") || !strings.Contains(edit, "RETRACTED") {
		t.Errorf("edit: %s", edit)
	}
	if !strings.Contains(reply, `"message_reference":{"message_id":"9001","channel_id":"123"`) {
		t.Errorf("reply: %s", reply)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	s, f := newSender(t)
	status := func(code int, body string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
		}
	}
	for _, tc := range []struct {
		fail func(http.ResponseWriter)
		kind bot.FailureKind
	}{
		{status(429, `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`), bot.RetryLater},
		{status(403, `{"message":"Missing Access","code":50001}`), bot.Gone},
		{status(404, `{"message":"Unknown Channel","code":10003}`), bot.Gone},
		{status(400, `{"message":"Invalid Form Body","code":50035}`), bot.Permanent},
		{status(502, `bad gateway`), bot.Transient},
	} {
		f.mu.Lock()
		f.errors = append(f.errors, tc.fail)
		f.mu.Unlock()
		_, err := s.Send(t.Context(), "123", bot.Text("x"))
		se := bot.Classify(err)
		if se.Kind != tc.kind {
			t.Errorf("kind %d, want %d: %v", se.Kind, tc.kind, err)
		}
		if tc.kind == bot.RetryLater && se.After != 2500*time.Millisecond {
			t.Errorf("retry after %v, want 2.5s", se.After)
		}
	}
	f.mu.Lock()
	f.errors = append(f.errors, status(404, `{"message":"Unknown Message","code":10008}`))
	f.mu.Unlock()
	if err := s.Edit(t.Context(), "123", "1", bot.Text("x")); !errors.Is(err, bot.ErrCannotEdit) {
		t.Errorf("unknown message: %v, want ErrCannotEdit", err)
	}
}

func TestEmbedStaysWithinLimits(t *testing.T) {
	var blocks []bot.Block
	for range 400 {
		blocks = append(blocks, bot.Block{{Text: "Fighting reported near Lashio and Theinni; the claim is unverified."}})
	}
	e := Embed(bot.Reply{Title: strings.Repeat("T", 300), Blocks: blocks})
	if n := len([]rune(e.Title)); n > maxTitle {
		t.Errorf("title %d characters", n)
	}
	if n := len([]rune(e.Description)); n > maxDescription || n+len([]rune(e.Title)) > maxEmbedTotal || !strings.HasSuffix(e.Description, "…") {
		t.Errorf("description %d characters, ends %q", n, e.Description[len(e.Description)-5:])
	}
}

func TestAnnouncementChannelsArePublished(t *testing.T) {
	s, f := newSender(t)
	for range 2 {
		if _, err := s.Send(t.Context(), "news", bot.Text("Lashio")); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []string{"POST /api/v9/channels/news/messages", "GET /api/v9/channels/news", "POST /api/v9/channels/news/messages/9001/crosspost",
		"POST /api/v9/channels/news/messages", "POST /api/v9/channels/news/messages/9001/crosspost"}
	if len(f.requests) != len(want) {
		t.Fatalf("requests %q", f.requests)
	}
	for i, w := range want {
		if !strings.HasPrefix(f.requests[i], w+" ") {
			t.Errorf("request %d = %q, want %s", i, f.requests[i], w)
		}
	}
}

func TestEmbedColourFollowsStatus(t *testing.T) {
	if e := Embed(bot.Reply{Status: "confirmed"}); e.Color != 0x16A34A {
		t.Errorf("confirmed colour %x", e.Color)
	}
	if e := Embed(bot.Reply{Status: "retracted", Tone: bot.Done}); e.Color != 0x6B7280 {
		t.Errorf("retracted colour %x", e.Color)
	}
	if e := Embed(bot.Reply{Tone: bot.Error}); e.Color != colourError {
		t.Errorf("error colour %x", e.Color)
	}
}
