package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/bot/discord/discordtest"
)

// signedServer serves x with a fresh key and returns a function that posts an
// interaction signed with it (or, unsigned, with another key) and decodes the answer.
func signedServer(t *testing.T, x *Interactions) func(body string, signed bool) (int, map[string]any) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	x.PublicKey = pub
	srv := httptest.NewServer(x)
	t.Cleanup(srv.Close)
	return func(body string, signed bool) (int, map[string]any) {
		t.Helper()
		key := priv
		if !signed {
			_, key, _ = ed25519.GenerateKey(nil)
		}
		code, raw := discordtest.Post(t, srv.URL, key, body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
}

// recorder is a handler that remembers the requests it was given.
type recorder struct {
	mu    sync.Mutex
	got   []bot.Request
	reply func(req *bot.Request) bot.Reply
}

func (r *recorder) Serve(_ context.Context, req *bot.Request) bot.Reply {
	r.mu.Lock()
	r.got = append(r.got, *req)
	r.mu.Unlock()
	if r.reply != nil {
		return r.reply(req)
	}
	return bot.Text("ok")
}

func (r *recorder) last(t *testing.T) bot.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("the handler was not called")
	}
	return r.got[len(r.got)-1]
}

func TestRequestFromInteraction(t *testing.T) {
	h := &recorder{}
	send := signedServer(t, &Interactions{Handler: h})
	if code, _ := send(`{"type":2,"id":"1","application_id":"a","token":"t","user":{"id":"1"},"data":{"name":"town"}}`, false); code != http.StatusUnauthorized {
		t.Fatalf("badly signed: %d, want 401", code)
	}
	const id = "1170000000000000000" // a snowflake: its time is in the id
	in := func(who, options string) string {
		return `{"type":2,"id":"` + id + `","application_id":"a","channel_id":"c9","token":"t","locale":"my","guild_locale":"en-GB",` + who +
			`,"data":{"id":"d","name":"subscribe","type":1,"options":[` + options + `]}}`
	}
	for _, tc := range []struct {
		name, who string
		kind      bot.ChatKind
		manager   bool
	}{
		{"member", `"member":{"user":{"id":"42","username":"nang","global_name":"Nang"},"permissions":"1024"}`, bot.Group, false},
		{"manage channels", `"member":{"user":{"id":"42","username":"nang"},"permissions":"16"}`, bot.Group, true},
		{"administrator", `"member":{"user":{"id":"42","username":"nang"},"permissions":"8"}`, bot.Group, true},
		{"direct message", `"user":{"id":"42","username":"nang"}`, bot.Private, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _ := send(in(tc.who, `{"name":"filter","type":3,"value":"town"},{"name":"name","type":3,"value":"Lashio"}`), true); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			req := h.last(t)
			if req.User.String() != "discord:42" || req.Chat.ID != "c9" || req.Chat.Kind != tc.kind || req.ChatManager != tc.manager {
				t.Errorf("request %+v", req)
			}
			if req.Language != "my" || req.Origin != "discord:"+id || req.Command != "subscribe" || req.Options["filter"] != "town" || req.Options["name"] != "Lashio" {
				t.Errorf("request %+v", req)
			}
			if want := time.Date(2023, 11, 15, 0, 0, 0, 0, time.UTC); req.Time.Before(want.AddDate(0, -1, 0)) || req.Time.After(want.AddDate(0, 1, 0)) {
				t.Errorf("time %v, from the snowflake", req.Time)
			}
		})
	}
	// Without a user locale, the server's.
	send(`{"type":2,"id":"2","application_id":"a","token":"t","guild_locale":"en-GB","member":{"user":{"id":"1"},"permissions":"0"},"data":{"name":"town"}}`, true)
	if req := h.last(t); req.Language != "en-GB" {
		t.Errorf("language %q, want the guild's", req.Language)
	}
}

func TestOlderButtonPages(t *testing.T) {
	h := &recorder{reply: func(req *bot.Request) bot.Reply {
		switch req.Text {
		case "page:2 3":
			return bot.Reply{Title: "Latest 3, page 2", Blocks: []bot.Block{{{Text: "older"}}}, More: "latest page:3 3"}
		case "page:3 3":
			return bot.Reply{Title: "Latest 3, page 3", Blocks: []bot.Block{{{Text: "oldest"}}}}
		}
		return bot.Errorf("No such page.")
	}}
	send := signedServer(t, &Interactions{Handler: h})
	press := func(customID string) map[string]any {
		_, out := send(`{"type":3,"id":"5","application_id":"a","channel_id":"c","token":"t","member":{"user":{"id":"7"},"permissions":"0"},`+
			`"message":{"id":"m1","channel_id":"c","flags":0},"data":{"custom_id":"`+customID+`","component_type":2}}`, true)
		return out
	}
	out := press("latest page:2 3")
	if req := h.last(t); req.Command != "latest" || req.Text != "page:2 3" || req.Options != nil {
		t.Errorf("request %+v", req)
	}
	raw, _ := json.Marshal(out)
	if out["type"] != float64(7) || !strings.Contains(string(raw), `"custom_id":"latest page:3 3"`) || !strings.Contains(string(raw), `"allowed_mentions":{"parse":[]`) {
		t.Errorf("page 2 = %s", raw)
	}
	// The last page has no button left.
	out = press("latest page:3 3")
	if data := out["data"].(map[string]any); out["type"] != float64(7) || data["components"] == nil || len(data["components"].([]any)) != 0 {
		t.Errorf("page 3 = %v", out)
	}
	// A page that fails is a new message only the presser sees; the list stays.
	out = press("latest page:99 3")
	if data := out["data"].(map[string]any); out["type"] != float64(4) || data["flags"] != float64(64) {
		t.Errorf("failed page = %v", out)
	}
	// A list with a next page gets the button.
	if resp := Response(bot.Reply{Title: "Latest", More: "latest page:2 5"}); len(resp.Data.Components) != 1 {
		t.Errorf("components %v", resp.Data.Components)
	}
}

// completer offers n names for any prefix, and remembers the kinds asked.
type completer struct {
	mu    sync.Mutex
	kinds []bot.ParamKind
	n     int
}

func (c *completer) Complete(_ context.Context, kind bot.ParamKind, prefix string, limit int) []string {
	c.mu.Lock()
	c.kinds = append(c.kinds, kind)
	c.mu.Unlock()
	var out []string
	out = append(out, strings.Repeat("x", 101)) // too long for Discord
	for i := range c.n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func TestAutocompleteAnswersAtMost25(t *testing.T) {
	c := &completer{n: 40}
	cmds := []bot.Command{
		{Name: "town", Params: []bot.Param{{Name: "name", Kind: bot.Town}}},
		{Name: "subscribe", Params: []bot.Param{{Name: "filter", Choices: []string{"all", "town", "group"}}, {Name: "name"}, {Name: "digest"}}},
	}
	send := signedServer(t, &Interactions{Handler: &recorder{}, Completer: c, Commands: cmds})
	auto := func(command, options string) []any {
		_, out := send(`{"type":4,"id":"5","application_id":"a","channel_id":"c","token":"t","member":{"user":{"id":"7"},"permissions":"0"},`+
			`"data":{"id":"d","name":"`+command+`","type":1,"options":[`+options+`]}}`, true)
		if out["type"] != float64(8) {
			t.Fatalf("answer %v", out)
		}
		choices, _ := out["data"].(map[string]any)["choices"].([]any)
		return choices
	}
	choices := auto("town", `{"name":"name","type":3,"value":"Thien","focused":true}`)
	if len(choices) != 25 {
		t.Errorf("%d choices, want 25", len(choices))
	}
	for _, ch := range choices {
		ch := ch.(map[string]any)
		if n, v := ch["name"].(string), ch["value"].(string); len([]rune(n)) > 100 || len([]rune(v)) > 100 || !strings.HasPrefix(v, "Thien") {
			t.Errorf("choice %v", ch)
		}
	}
	auto("subscribe", `{"name":"filter","type":3,"value":"group"},{"name":"name","type":3,"value":"MND","focused":true}`)
	auto("subscribe", `{"name":"filter","type":3,"value":"town"},{"name":"name","type":3,"value":"Lash","focused":true}`)
	if got := auto("subscribe", `{"name":"filter","type":3,"value":"town"},{"name":"digest","type":3,"value":"da","focused":true}`); len(got) != 0 {
		t.Errorf("digest completed: %v", got)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.kinds) != 3 || c.kinds[0] != bot.Town || c.kinds[1] != bot.GroupName || c.kinds[2] != bot.Town {
		t.Errorf("kinds asked %v", c.kinds)
	}
	if opts := ApplicationCommands(cmds)[1].Options; !opts[1].Autocomplete || opts[2].Autocomplete || opts[0].Autocomplete {
		t.Errorf("/subscribe options registered as %+v %+v %+v", opts[0], opts[1], opts[2])
	}
}
