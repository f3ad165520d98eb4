package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitrep-bot/sitrep/bot/discord"
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
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		ts := "1700000000"
		key := priv
		if !sign {
			_, key, _ = ed25519.GenerateKey(nil) // someone else's key
		}
		req.Header.Set("X-Signature-Timestamp", ts)
		req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, []byte(ts+body))))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	command := func(user, perms, name string, options string) string {
		member := `"member":{"user":{"id":"` + user + `","username":"u` + user + `"},"permissions":"` + perms + `"},`
		if perms == "" {
			member = `"user":{"id":"` + user + `","username":"u` + user + `"},`
		}
		return `{"type":2,"id":"1","application_id":"app","channel_id":"chan1","token":"tok","locale":"my",` + member +
			`"data":{"id":"d","name":"` + name + `","type":1,"options":[` + options + `]}}`
	}
	embed := func(out map[string]any) (string, float64) {
		data, _ := out["data"].(map[string]any)
		embeds, _ := data["embeds"].([]any)
		flags, _ := data["flags"].(float64)
		if len(embeds) == 0 {
			return "", flags
		}
		e := embeds[0].(map[string]any)
		title, _ := e["title"].(string)
		desc, _ := e["description"].(string)
		return title + "\n" + desc, flags
	}

	if code, _ := send(`{"type":1,"id":"1","application_id":"app","token":"t"}`, false); code != http.StatusUnauthorized {
		t.Fatalf("badly signed ping: %d, want 401", code)
	}
	if code, out := send(`{"type":1,"id":"1","application_id":"app","token":"t"}`, true); code != 200 || out["type"] != float64(1) {
		t.Fatalf("ping: %d %v", code, out)
	}
	_, out := send(command("100", "8", "post", `{"name":"text","type":3,"value":"The MNDAA says Laukkai is under its control @everyone"},{"name":"claim","type":3,"value":"Kokang"}`), true)
	if text, flags := embed(out); !strings.Contains(text, "Posted #1") || flags != 0 {
		t.Fatalf("moderator /post: %q flags %v", text, flags)
	}
	if data := out["data"].(map[string]any); data["allowed_mentions"] == nil {
		t.Fatalf("no allowed_mentions: %v", data)
	}
	_, out = send(command("200", "0", "town", `{"name":"name","type":3,"value":"Laukkaing"}`), true)
	if text, _ := embed(out); !strings.Contains(text, "Laukkai") || !strings.Contains(text, "Claimed by **MNDAA**") || !strings.Contains(text, "@\u200beveryone") {
		t.Fatalf("/town: %q", text)
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
	_, out = send(command("300", "", "claims", `{"name":"group","type":3,"value":"MNDAA"}`), true) // a DM
	if text, _ := embed(out); !strings.Contains(text, "Claims by MNDAA") {
		t.Fatalf("/claims in a DM: %q", text)
	}
	auto := `{"type":4,"id":"1","application_id":"app","channel_id":"chan1","token":"tok","member":{"user":{"id":"200"},"permissions":"0"},` +
		`"data":{"id":"d","name":"town","type":1,"options":[{"name":"name","type":3,"value":"Thien","focused":true}]}}`
	_, out = send(auto, true)
	raw, _ := json.Marshal(out)
	if out["type"] != float64(8) || !bytes.Contains(raw, []byte(`"Theinni"`)) {
		t.Fatalf("autocomplete for Thien: %s", raw)
	}
}
