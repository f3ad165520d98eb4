package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot/discord"
	"github.com/sitrep-bot/sitrep/bot/discord/discordtest"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
)

// TestDiscordHTTPInteractions drives the HTTP interactions endpoint with signed
// requests, as Discord sends them, against the real command set and store.
func TestDiscordHTTPInteractions(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set := commands.New(st, commands.Options{Admins: []string{"discord:100"}})
	srv := httptest.NewServer(&discord.Interactions{PublicKey: pub, Handler: set, Completer: set, Commands: set.Router().Commands()})
	defer srv.Close()

	send := func(body string, sign bool) (int, map[string]any) {
		t.Helper()
		key := priv
		if !sign {
			_, key, _ = ed25519.GenerateKey(nil) // someone else's key
		}
		code, raw := discordtest.Post(t, srv.URL, key, body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out
	}
	ids := 0
	command := func(user, perms, name string, options string) string {
		member := `"member":{"user":{"id":"` + user + `","username":"u` + user + `"},"permissions":"` + perms + `"},`
		if perms == "" {
			member = `"user":{"id":"` + user + `","username":"u` + user + `"},`
		}
		ids++ // every interaction has its own id, as on Discord
		return `{"type":2,"id":"` + fmt.Sprint(1170000000000000000+ids) + `","application_id":"app","channel_id":"chan1","token":"tok","locale":"my",` + member +
			`"data":{"id":"d","name":"` + name + `","type":1,"options":[` + options + `]}}`
	}
	embed := func(out map[string]any) (string, float64) {
		data, _ := out["data"].(map[string]any)
		embeds, _ := data["embeds"].([]any)
		flags, _ := data["flags"].(float64)
		if len(embeds) == 0 {
			return "", flags
		}
		return embedText(embeds[0].(map[string]any)), flags
	}

	if code, _ := send(`{"type":1,"id":"1","application_id":"app","token":"t"}`, false); code != http.StatusUnauthorized {
		t.Fatalf("badly signed ping: %d, want 401", code)
	}
	if code, out := send(`{"type":1,"id":"1","application_id":"app","token":"t"}`, true); code != 200 || out["type"] != float64(1) {
		t.Fatalf("ping: %d %v", code, out)
	}
	_, out := send(command("100", "8", "post", `{"name":"text","type":3,"value":"The MNDAA says Laukkai is under its control @everyone"},{"name":"claim","type":3,"value":"Kokang"}`), true)
	if text, flags := embed(out); !strings.Contains(text, "Posted #1") || flags != 64 { // confirmations only the moderator sees
		t.Fatalf("moderator /post: %q flags %v", text, flags)
	}
	if data := out["data"].(map[string]any); data["allowed_mentions"] == nil {
		t.Fatalf("no allowed_mentions: %v", data)
	}
	_, out = send(command("200", "0", "town", `{"name":"name","type":3,"value":"Laukkaing"}`), true)
	if text, _ := embed(out); !strings.Contains(text, "Laukkai") || !strings.Contains(text, "Claimed by **MNDAA**") || !strings.Contains(text, "@\u200beveryone") {
		t.Fatalf("/town: %q", text)
	}
	// The updates of a list are fields under their heading, the note on labels the footer.
	e := out["data"].(map[string]any)["embeds"].([]any)[0].(map[string]any)
	fields, _ := e["fields"].([]any)
	footer, _ := e["footer"].(map[string]any)
	if len(fields) != 1 || !strings.HasPrefix(fields[0].(map[string]any)["name"].(string), "#1 · ") ||
		!strings.Contains(fields[0].(map[string]any)["name"].(string), "[UNVERIFIED]") || footer == nil || !strings.Contains(footer["text"].(string), "[CONFIRMED]") {
		t.Fatalf("/town embed: fields %v, footer %v", fields, footer)
	}
	_, out = send(command("200", "0", "post", `{"name":"text","type":3,"value":"Lashio has fallen"}`), true)
	if text, flags := embed(out); !strings.Contains(text, "Only moderators") || flags != 64 {
		t.Fatalf("non-moderator /post: %q flags %v, want an ephemeral refusal", text, flags)
	}
	_, out = send(command("200", "0", "subscribe", `{"name":"filter","type":3,"value":"all"}`), true)
	if text, flags := embed(out); !strings.Contains(text, "Only chat managers") || flags != 64 {
		t.Fatalf("/subscribe without Manage Channels: %q", text)
	}
	_, out = send(command("200", "16", "subscribe", `{"name":"filter","type":3,"value":"town"},{"name":"name","type":3,"value":"Lashio"}`), true)
	if text, _ := embed(out); !strings.Contains(text, "Subscribed") {
		t.Fatalf("/subscribe with Manage Channels: %q", text)
	}
	_, out = send(command("100", "8", "mod", `{"name":"action","type":3,"value":"add"},{"name":"user","type":6,"value":"80351110224678912"}`), true)
	if text, _ := embed(out); !strings.Contains(text, "discord:80351110224678912 is now a moderator") {
		t.Fatalf("/mod add with a user option: %q", text)
	}
	_, out = send(command("300", "", "claims", `{"name":"group","type":3,"value":"MNDAA"}`), true) // a DM
	if text, _ := embed(out); !strings.Contains(text, "Claims by MNDAA") {
		t.Fatalf("/claims in a DM: %q", text)
	}
	// Every command, with typed options, from a moderator who manages channels.
	opt := func(name, value string) string { return `{"name":"` + name + `","type":3,"value":"` + value + `"}` }
	every := map[string]string{
		"latest": `{"name":"count","type":4,"value":3}`, "town": opt("name", "Theinni"), "claims": opt("group", "Kokang"),
		"help": opt("command", "town"), "about": "", "subscribe": opt("filter", "all"), "unsubscribe": opt("filter", "all"),
		"subscriptions": "", "post": opt("text", "Fighting near Muse"), "verify": `{"name":"id","type":4,"value":1},` + opt("status", "confirmed"),
		"edit": `{"name":"id","type":4,"value":1},` + opt("text", "Laukkai is under MNDAA control"), "retract": `{"name":"id","type":4,"value":1},` + opt("reason", "wrong"),
		"deliveries": `{"name":"id","type":4,"value":1}`, "control": opt("town", "Laukkai") + "," + opt("group", "MNDAA"),
		"alias": opt("name", "Laukkai") + "," + opt("alias", "Lauk Kaing"), "addtown": opt("name", "Hopang"), "addgroup": opt("name", "MDY-PDF"),
		"mod": opt("action", "list"),
	}
	for _, c := range set.Router().Commands() {
		options, ok := every[c.Name]
		if !ok {
			t.Fatalf("no sample for /%s", c.Name)
		}
		_, out := send(command("100", "16", c.Name, options), true)
		if text, _ := embed(out); text == "\n" || strings.Contains(text, "Something went wrong") || strings.Contains(text, "Unknown command") || strings.Contains(text, "Missing") {
			t.Errorf("/%s: %q", c.Name, text)
		}
	}

	auto := `{"type":4,"id":"1","application_id":"app","channel_id":"chan1","token":"tok","member":{"user":{"id":"200"},"permissions":"0"},` +
		`"data":{"id":"d","name":"town","type":1,"options":[{"name":"name","type":3,"value":"Thien","focused":true}]}}`
	_, out = send(auto, true)
	raw, _ := json.Marshal(out)
	if out["type"] != float64(8) || !bytes.Contains(raw, []byte(`"Theinni"`)) {
		t.Fatalf("autocomplete for Thien: %s", raw)
	}
	// /subscribe's name is completed as a town or a group, as its filter says.
	for filter, want := range map[string]string{"town": `"Theinni"`, "group": `"MNDAA"`} {
		typed := map[string]string{"town": "Thien", "group": "MND"}[filter]
		auto := `{"type":4,"id":"2","application_id":"app","channel_id":"chan1","token":"tok","member":{"user":{"id":"200"},"permissions":"16"},` +
			`"data":{"id":"d","name":"subscribe","type":1,"options":[{"name":"filter","type":3,"value":"` + filter + `"},{"name":"name","type":3,"value":"` + typed + `","focused":true}]}}`
		_, out = send(auto, true)
		raw, _ := json.Marshal(out)
		choices, _ := out["data"].(map[string]any)["choices"].([]any)
		if !bytes.Contains(raw, []byte(want)) || len(choices) > 25 {
			t.Errorf("/subscribe filter:%s name:%s completes %s", filter, typed, raw)
		}
	}
}

// embedText is an embed's title, description, fields (name and value) and footer, one
// after the other.
func embedText(e map[string]any) string {
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	text := str(e, "title") + "\n" + str(e, "description")
	fields, _ := e["fields"].([]any)
	for _, f := range fields {
		f := f.(map[string]any)
		text += "\n" + str(f, "name") + "\n" + str(f, "value")
	}
	if footer, ok := e["footer"].(map[string]any); ok {
		text += "\n" + str(footer, "text")
	}
	return text
}

// fakeDiscord is a fake Discord REST API: who the bot is, command registration, and
// channel messages and edits, recorded in order.
type fakeDiscord struct {
	mu       sync.Mutex
	calls    []string // "METHOD path"
	bodies   []string
	hosts    []string // the Host each call was addressed to
	changed  chan struct{}
	nextID   int
	commands string
}

func (f *fakeDiscord) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.bodies = append(f.bodies, string(body))
	f.hosts = append(f.hosts, r.Host)
	close(f.changed)
	f.changed = make(chan struct{})
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/api/v9/users/@me":
		_, _ = io.WriteString(w, `{"id":"app1","username":"sitrep","bot":true}`)
	case strings.HasSuffix(r.URL.Path, "/commands"):
		f.commands = string(body)
		_, _ = io.WriteString(w, "[]")
	case strings.HasPrefix(r.URL.Path, "/api/v9/channels/"):
		f.nextID++
		_, _ = fmt.Fprintf(w, `{"id":"%d","channel_id":"chan1"}`, 5000+f.nextID)
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"404: Not Found","code":0}`)
	}
}

// wait waits until a call whose "METHOD path" starts with prefix has a body containing
// want, and returns that body.
func (f *fakeDiscord) wait(t *testing.T, ctx context.Context, prefix, want string) string {
	t.Helper()
	for {
		f.mu.Lock()
		for i, c := range f.calls {
			if body := f.bodies[i]; strings.HasPrefix(c, prefix) && strings.Contains(body, want) {
				f.mu.Unlock()
				return body
			}
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no %s call with %q; calls: %v", prefix, want, f.calls)
		}
	}
}

// TestDiscordServeStory builds and runs the real `sitrep serve` binary with Discord
// configured by environment variables only, against a fake Discord REST API and signed HTTP interactions:
// commands are registered, a moderator posts, a reader asks /town and /claims, a
// channel subscribes and gets the next post, and a retraction edits it.
func TestDiscordServeStory(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	fake := &fakeDiscord{changed: make(chan struct{})}
	api := httptest.NewServer(fake)
	defer api.Close()
	// Anything the binary sends anywhere but the fake (discord.com) goes through this
	// proxy, which refuses it; requests to the fake on 127.0.0.1 are never proxied.
	var (
		leakMu sync.Mutex
		leaks  []string
	)
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leakMu.Lock()
		leaks = append(leaks, r.Method+" "+r.Host+r.URL.Path)
		leakMu.Unlock()
		http.Error(w, "not the configured endpoint", http.StatusBadGateway)
	}))
	defer trap.Close()
	addr := freeAddr(t)
	env := map[string]string{
		"HTTPS_PROXY": trap.URL, "HTTP_PROXY": trap.URL, "NO_PROXY": "", "https_proxy": trap.URL, "http_proxy": trap.URL, "no_proxy": "",
		"SITREP_DB":                   filepath.Join(t.TempDir(), "sitrep.db"),
		"SITREP_ADMINS":               "discord:100",
		"SITREP_DISCORD_TOKEN":        "discord-secret-token",
		"SITREP_DISCORD_API_ENDPOINT": api.URL,
		"SITREP_DISCORD_GUILD":        "1100000000000000001",
		"SITREP_DISCORD_PUBLIC_KEY":   hex.EncodeToString(pub),
		"SITREP_HTTP_ADDR":            addr,
	}
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.Command(bin, "serve")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("serve: %v\n%s", err, logs.String())
			}
		}
	}
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("serve's log:\n%s", logs.String())
		}
	}()
	commandsJSON := fake.wait(t, ctx, "PUT /api/v9/applications/app1/guilds/1100000000000000001/commands", `"name":"town"`)
	if !strings.Contains(commandsJSON, `"autocomplete":true`) {
		t.Errorf("registered commands lack autocomplete: %.300s", commandsJSON)
	}
	waitListening(t, ctx, addr)
	ids := 0
	interact := func(user, perms, name, options string) string {
		t.Helper()
		ids++ // every interaction has its own id, as on Discord
		body := `{"type":2,"id":"` + fmt.Sprint(1170000000000000000+ids) + `","application_id":"app1","channel_id":"chan1","token":"tok","locale":"en-US",` +
			`"member":{"user":{"id":"` + user + `","username":"u"},"permissions":"` + perms + `"},` +
			`"data":{"id":"d","name":"` + name + `","type":1,"options":[` + options + `]}}`
		code, raw := discordtest.Post(t, "http://"+addr+"/discord/interactions", priv, body)
		if code != http.StatusOK {
			t.Fatalf("/%s: %d %s", name, code, raw)
		}
		return string(raw)
	}
	if out := interact("100", "8", "post", `{"name":"text","type":3,"value":"The MNDAA says it holds Laukkai"},{"name":"claim","type":3,"value":"MNDAA"}`); !strings.Contains(out, "Posted #1") {
		t.Fatalf("/post: %s", out)
	}
	if out := interact("200", "0", "town", `{"name":"name","type":3,"value":"Laukkaing"}`); !strings.Contains(out, "Claimed by **MNDAA**") ||
		!strings.Contains(out, `"fields":[{"name":"#1 · `) || !strings.Contains(out, `"allowed_mentions":{"parse":[]`) {
		t.Fatalf("/town: %s", out)
	}
	if out := interact("200", "0", "claims", `{"name":"group","type":3,"value":"Kokang"}`); !strings.Contains(out, "Claims by MNDAA") {
		t.Fatalf("/claims: %s", out)
	}
	if out := interact("200", "16", "subscribe", `{"name":"filter","type":3,"value":"town"},{"name":"name","type":3,"value":"Lashio"}`); !strings.Contains(out, "Subscribed") {
		t.Fatalf("/subscribe: %s", out)
	}
	interact("100", "8", "post", `{"name":"text","type":3,"value":"Fighting on the outskirts of Lashio"},{"name":"claim","type":3,"value":"TNLA"}`)
	push := fake.wait(t, ctx, "POST /api/v9/channels/chan1/messages", "outskirts of Lashio")
	if !strings.Contains(push, `"allowed_mentions":{"parse":[]`) {
		t.Errorf("push without allowed_mentions: %s", push)
	}
	interact("100", "8", "retract", `{"name":"id","type":4,"value":2},{"name":"reason","type":3,"value":"the clashes were near Hsenwi"}`)
	edit := fake.wait(t, ctx, "PATCH /api/v9/channels/chan1/messages/", "the clashes were near Hsenwi")
	if !strings.Contains(edit, "RETRACTED") {
		t.Errorf("edit: %s", edit)
	}
	stop()
	if strings.Contains(logs.String(), "discord-secret-token") {
		t.Error("the token appears in the logs")
	}
	leakMu.Lock()
	defer leakMu.Unlock()
	if len(leaks) > 0 {
		t.Errorf("requests left for another host than SITREP_DISCORD_API_ENDPOINT: %q", leaks)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for i, c := range fake.calls {
		if host := fake.hosts[i]; host != api.Listener.Addr().String() {
			t.Errorf("%s arrived for host %s", c, host)
		}
		if !strings.HasPrefix(c, "GET ") && !strings.Contains(c, "/crosspost") && !strings.HasSuffix(c, "/commands") && !strings.Contains(fake.bodies[i], `"allowed_mentions":{"parse":[]`) {
			t.Errorf("%s without allowed_mentions: %s", c, fake.bodies[i])
		}
	}
}
