package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
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

	"github.com/sitrep-bot/sitrep/bot/telegram/telegramtest"
	"github.com/sitrep-bot/sitrep/store"
)

// startFakeDiscord serves a fake Discord REST API for the test and returns it, its
// base URL and a fresh application public key (hex) for HTTP interactions.
func startFakeDiscord(t *testing.T) (fake *fakeDiscord, baseURL, publicKey string) {
	t.Helper()
	fake = &fakeDiscord{changed: make(chan struct{})}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return fake, srv.URL, hex.EncodeToString(pub)
}

// serveProcess is a running `sitrep serve` binary.
type serveProcess struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	addr string
}

// startServe starts the binary as `sitrep serve` with only the given environment
// (plus PATH and HOME) and its HTTP server on a free port.
func startServe(t *testing.T, bin string, env map[string]string) *serveProcess {
	t.Helper()
	p := &serveProcess{logs: &bytes.Buffer{}, addr: freeAddr(t)}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SITREP_HTTP_ADDR=" + p.addr}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

// stop sends SIGTERM and returns how long the process took to exit, and its error.
func (p *serveProcess) stop() (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.cmd.Wait()
	return time.Since(start), err
}

// get fetches a path from the process's HTTP server.
func (p *serveProcess) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitHealthy waits until the process reports itself healthy.
func (p *serveProcess) waitHealthy(t *testing.T, ctx context.Context) string {
	t.Helper()
	return waitHealthy(t, ctx, p.addr)
}

// TestServeRunsBothPlatformsAndStopsCleanly runs the binary with a fake Telegram and a
// fake Discord at once: both come up healthy, a Telegram command is answered, counted
// in /metrics and logged as one line without its text, SIGTERM stops it within 10 s
// with exit status 0, and no secret appears in anything it logged.
func TestServeRunsBothPlatformsAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const tgToken, dcToken, adminToken = "4242:AAE-telegram-secret-token", "discord-secret-token-xyz", "admin-secret-token-abc"
	tg := telegramtest.NewServer(t, tgToken)
	_, dcURL, pub := startFakeDiscord(t)
	tokenFile := filepath.Join(t.TempDir(), "discord.token")
	if err := os.WriteFile(tokenFile, []byte(dcToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	p := startServe(t, bin, map[string]string{
		"SITREP_DB":                    filepath.Join(t.TempDir(), "sitrep.db"),
		"SITREP_ADMINS":                "telegram:1",
		"SITREP_TELEGRAM_TOKEN":        tgToken,
		"SITREP_TELEGRAM_API_ENDPOINT": tg.Endpoint(),
		"SITREP_DISCORD_TOKEN_FILE":    tokenFile,
		"SITREP_DISCORD_API_ENDPOINT":  dcURL,
		"SITREP_DISCORD_PUBLIC_KEY":    pub,
		"SITREP_ADMIN_TOKEN":           adminToken,
		"SITREP_LOG_LEVEL":             "debug",
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	health := p.waitHealthy(t, ctx)
	for _, want := range []string{`"status":"ok"`, `"store":"writable"`, `"name":"telegram","state":"running"`, `"name":"discord","state":"running"`} {
		if !strings.Contains(health, want) {
			t.Errorf("/healthz lacks %s: %s", want, health)
		}
	}

	reader := telegramtest.Chat{ID: 2, Type: "private"}
	tg.PushText(reader, 2, "Reader", "/town Lashio", 0)
	tg.PushText(reader, 2, "Reader", "/latest", 0)
	if err := tg.WaitCalls(ctx, "sendMessage", 2); err != nil {
		t.Fatal(err)
	}
	// The answer is sent before the command's metrics are recorded: wait for the count.
	var metrics string
	for !strings.Contains(metrics, `sitrep_commands_total{command="latest",outcome="ok",platform="telegram"} 1`) {
		if ctx.Err() != nil {
			t.Fatalf("/metrics never counted /latest:\n%s", metrics)
		}
		_, metrics = p.get(t, "/metrics")
	}
	for _, want := range []string{
		`sitrep_command_duration_seconds_count{command="latest",platform="telegram"} 1`,
		`sitrep_updates{status="unverified"} 0`,
		`sitrep_store_up 1`,
		`sitrep_outbox_pending{platform="discord"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	code, body := p.get(t, "/town/Hseni/feed.atom")
	if code != http.StatusOK || !strings.Contains(body, "<feed xmlns=\"http://www.w3.org/2005/Atom\"") {
		t.Errorf("/town/Hseni/feed.atom = %d %.200s", code, body)
	}
	// Fetched under another host name, the feed keeps its id.
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/town/Hseni/feed.atom", nil)
	req.Host = "feeds.example.org"
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		other, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := func(b string) string {
			_, rest, _ := strings.Cut(b, "<id>")
			v, _, _ := strings.Cut(rest, "</id>")
			return v
		}
		if id(body) == "" || id(string(other)) != id(body) || !strings.HasPrefix(id(body), "tag:") {
			t.Errorf("feed id %q under the server's address, %q under another Host", id(body), id(string(other)))
		}
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+p.addr+"/admin/backup", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/admin/backup with the admin token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, _ := p.get(t, "/admin/backup"); code != http.StatusUnauthorized {
		t.Errorf("/admin/backup without a token = %d, want 401", code)
	}

	took, err := p.stop()
	if err != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", err, p.logs)
	}
	if took > 10*time.Second {
		t.Errorf("shutdown took %s, want under 10s", took)
	}
	logs := p.logs.String()
	var commandLines int
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if line["msg"] == "command" {
			commandLines++
			if line["platform"] != "telegram" || (line["command"] != "latest" && line["command"] != "town") || line["outcome"] != "ok" || line["latency_ms"] == nil {
				t.Errorf("command log line: %s", sc.Text())
			}
		}
	}
	if commandLines != 2 {
		t.Errorf("%d command log lines, want 2", commandLines)
	}
	for _, secret := range []string{tgToken, dcToken, adminToken, "AAE-telegram", "Lashio"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
	if !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", logs)
	}
}

// TestServeSIGTERMDuringFanOutLosesNothing posts an update to 120 subscribed Telegram
// chats, stops serve with SIGTERM in the middle of the fan-out, and starts it again:
// every chat gets the update exactly once, since a graceful stop finishes and records
// the sends in flight.
func TestServeSIGTERMDuringFanOutLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const chats = 120
	db := filepath.Join(t.TempDir(), "sitrep.db")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range chats {
		sub := store.Subscription{Chat: store.Chat{Platform: "telegram", ID: fmt.Sprint(-1000 - i)}, ChatKind: "group", Filter: store.Filter{Kind: store.AllUpdates}}
		if _, err := st.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	tg := telegramtest.NewServer(t, "4242:AAE-fanout")
	bin := buildBinary(t)
	env := map[string]string{
		"SITREP_DB":                    db,
		"SITREP_ADMINS":                "telegram:1",
		"SITREP_TELEGRAM_TOKEN":        tg.Token,
		"SITREP_TELEGRAM_API_ENDPOINT": tg.Endpoint(),
		"SITREP_TELEGRAM_LIMITS":       "global=60/s",
	}
	p := startServe(t, bin, env)
	p.waitHealthy(t, ctx)
	tg.PushText(telegramtest.Chat{ID: 1, Type: "private"}, 1, "Admin", "/post Fighting reported near the Lashio airport", 0)
	pushed := func(sent []telegramtest.Message) map[int64]int {
		got := map[int64]int{}
		for _, m := range sent {
			if m.ChatID <= -1000 && m.Method == "sendMessage" && strings.Contains(m.Text, "Lashio airport") {
				got[m.ChatID]++
			}
		}
		return got
	}
	if err := tg.Wait(ctx, func(sent []telegramtest.Message, _ int64) bool { return len(pushed(sent)) >= 20 }); err != nil {
		t.Fatal(err)
	}
	took, err := p.stop()
	if err != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", err, p.logs)
	}
	first := len(pushed(tg.Sent()))
	if first >= chats {
		t.Fatalf("the whole fan-out (%d) finished before SIGTERM; the test proves nothing", first)
	}
	t.Logf("stopped after %d of %d pushes in %s", first, chats, took)

	p = startServe(t, bin, env)
	if err := tg.Wait(ctx, func(sent []telegramtest.Message, _ int64) bool { return len(pushed(sent)) == chats }); err != nil {
		t.Fatalf("after restart %d of %d chats have the update: %v", len(pushed(tg.Sent())), chats, err)
	}
	if _, err := p.stop(); err != nil {
		t.Fatalf("second serve: %v\n%s", err, p.logs)
	}
	for chat, n := range pushed(tg.Sent()) {
		if n != 1 {
			t.Errorf("chat %d got the update %d times", chat, n)
		}
	}
	st, err = store.Open(ctx, db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Pending["telegram"] != 0 || stats.Counters["sent:telegram"] < chats {
		t.Errorf("store after both runs: pending %v, counters %v", stats.Pending, stats.Counters)
	}
}

// TestHealthTurnsUnhealthy checks /healthz in process: 503 when the store cannot be
// written, and 503 while a platform is failing, naming the cause.
func TestHealthTurnsUnhealthy(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sitrep.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &healthCheck{store: st}
	tg := h.component("telegram")
	check := func(want int, contains string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != want || !strings.Contains(rec.Body.String(), contains) {
			t.Fatalf("/healthz = %d %s, want %d with %q", rec.Code, rec.Body, want, contains)
		}
	}
	check(http.StatusServiceUnavailable, `"state":"connecting"`)
	tg.set(stateRunning, nil)
	check(http.StatusOK, `"status":"ok"`)
	tg.set(stateFailing, errors.New("telegram getMe: Unauthorized"))
	check(http.StatusServiceUnavailable, "Unauthorized")
	live := func() int {
		rec := httptest.NewRecorder()
		h.liveness(rec, httptest.NewRequest(http.MethodGet, "/livez", nil))
		return rec.Code
	}
	if code := live(); code != http.StatusOK {
		t.Errorf("/livez = %d while a platform fails; want 200 (liveness is the process and its store)", code)
	}
	tg.set(stateRunning, nil)
	check(http.StatusOK, `"store":"writable"`)

	// The same file opened read-only: every write is refused by the disk layer.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	h.store = ro
	check(http.StatusServiceUnavailable, "read-only")
	if code := live(); code != http.StatusServiceUnavailable {
		t.Errorf("/livez = %d on a read-only store, want 503", code)
	}
}

// TestServeRetriesAFailingPlatformWhileTheOtherServes starts serve in process with a
// Telegram that refuses getMe twice and a working Discord: Discord answers while
// /healthz reports Telegram failing (503), and Telegram connects on a later attempt.
func TestServeRetriesAFailingPlatformWhileTheOtherServes(t *testing.T) {
	tg := telegramtest.NewServer(t, "4242:AAE-flaky")
	tg.Fail("getMe", telegramtest.Failure{Code: http.StatusBadGateway, Description: "Bad Gateway"})
	tg.Fail("getMe", telegramtest.Failure{Code: http.StatusBadGateway, Description: "Bad Gateway"})
	dc, dcURL, pub := startFakeDiscord(t)
	addr := freeAddr(t)
	env := map[string]string{
		"SITREP_DB":                    filepath.Join(t.TempDir(), "sitrep.db"),
		"SITREP_HTTP_ADDR":             addr,
		"SITREP_TELEGRAM_TOKEN":        tg.Token,
		"SITREP_TELEGRAM_API_ENDPOINT": tg.Endpoint(),
		"SITREP_DISCORD_TOKEN":         "discord-token",
		"SITREP_DISCORD_API_ENDPOINT":  dcURL,
		"SITREP_DISCORD_PUBLIC_KEY":    pub,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- run(runCtx, []string{"serve"}, nil, io.Discard, &logs, envOf(env)) }()

	// Discord comes up while Telegram is still failing.
	dc.wait(t, ctx, "PUT /api/v9/applications/", "")
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	sawFailing := false
	for !sawFailing {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sawFailing = resp.StatusCode == http.StatusServiceUnavailable &&
				strings.Contains(string(body), `"name":"telegram","state":"failing"`) &&
				strings.Contains(string(body), `"name":"discord","state":"running"`)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/healthz never showed Telegram failing beside Discord running\n%s", logs.String())
		case <-tick.C:
		}
	}
	waitHealthy(t, ctx, addr)
	if n := tg.Calls("getMe"); n != 3 {
		t.Errorf("getMe called %d times, want 3 (two failures, then success)", n)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(logs.String(), "connect failed; retrying") || strings.Contains(logs.String(), tg.Token) {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger and reads
// of a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeStopsAtOnceWhileTelegramDoesNotAnswer stops serve while its getMe hangs (a
// blocked or throttled Bot API): it exits cleanly at once instead of waiting out the
// HTTP timeout or the shutdown deadline.
func TestServeStopsAtOnceWhileTelegramDoesNotAnswer(t *testing.T) {
	asked := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-r.Context().Done() // never answers; returns when the client gives up
	}))
	defer hang.Close()
	env := map[string]string{
		"SITREP_DB":                    filepath.Join(t.TempDir(), "sitrep.db"),
		"SITREP_HTTP_ADDR":             "off",
		"SITREP_TELEGRAM_TOKEN":        "4242:AAE-hang",
		"SITREP_TELEGRAM_API_ENDPOINT": hang.URL + "/bot%s/%s",
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, nil, io.Discard, io.Discard, envOf(env)) }()
	select {
	case <-asked:
	case err := <-done:
		t.Fatalf("serve ended before asking getMe: %v", err)
	}
	stopped := time.Now()
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		t.Logf("stopped in %s", time.Since(stopped))
	case <-time.After(5 * time.Second):
		t.Fatal("serve still running 5s after the stop, waiting on getMe")
	}
}

// TestServeSaysWhenATokenIsRefused gives serve a token the Bot API does not know: the
// log names the variable to fix, /healthz says the platform is failing, and neither
// shows the token.
func TestServeSaysWhenATokenIsRefused(t *testing.T) {
	tg := telegramtest.NewServer(t, "4242:AAE-the-right-one")
	addr := freeAddr(t)
	const wrong = "4242:AAE-a-wrong-token"
	env := map[string]string{
		"SITREP_DB":                    filepath.Join(t.TempDir(), "sitrep.db"),
		"SITREP_HTTP_ADDR":             addr,
		"SITREP_TELEGRAM_TOKEN":        wrong,
		"SITREP_TELEGRAM_API_ENDPOINT": tg.Endpoint(),
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- run(runCtx, []string{"serve"}, nil, io.Discard, &logs, envOf(env)) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(logs.String(), "check SITREP_TELEGRAM_TOKEN") {
		select {
		case <-ctx.Done():
			t.Fatalf("no log line naming the token's variable:\n%s", logs.String())
		case <-tick.C:
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "refused the bot's token") {
		t.Errorf("/healthz = %d %s", resp.StatusCode, body)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(logs.String(), wrong) || strings.Contains(string(body), wrong) {
		t.Error("the token appears in the logs or /healthz")
	}
}
