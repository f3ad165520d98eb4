package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

var dataMod = store.Author{Platform: "telegram", UserID: "77", Name: "Mod"}

// env is a getenv over a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// dataStore makes a store file with posts, an edit, a verification and a retraction,
// and closes it.
func dataStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []store.Draft{
		{Text: "MNDAA says it took Chinshwehaw, the border crossing", Claimant: "mndaa", Source: store.Source{Name: "Myanmar Now", URL: "https://myanmar-now.org/x"},
			Happened: time.Date(2023, 10, 28, 0, 0, 0, 0, time.UTC), Precision: store.Day},
		{Text: "TNLA: \"Namhkam, Kutkai surrounded\"\nunconfirmed", Claimant: "tnla", Towns: []string{"kutkai"}, Control: "tnla"},
		{Text: "Junta airstrike reported in Lashio"},
	} {
		d.Author = dataMod
		if _, _, err := st.Post(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.Edit(ctx, 3, "Junta airstrike reported in Lashio; two killed", dataMod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SetStatus(ctx, 2, store.Disputed, "TNLA denies", dataMod); err != nil {
		t.Fatal(err)
	}
	return path
}

// data runs one maintenance subcommand and returns its stdout and stderr.
func data(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runData(context.Background(), args[0], args[1:], strings.NewReader(stdin), &stdout, &stderr, getenv)
	return stdout.String(), stderr.String(), err
}

func TestExportImportCommandsRoundTrip(t *testing.T) {
	a := dataStore(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "a.jsonl")
	if _, stderr, err := data(t, noEnv, "", "export", "-db", a, "-o", file); err != nil || !strings.Contains(stderr, "exported 3 updates") {
		t.Fatalf("export: %v, %q", err, stderr)
	}
	b := filepath.Join(dir, "b.db")
	out, _, err := data(t, env(map[string]string{"SITREP_DB": b}), "", "import", file)
	if err != nil || out != "imported 3 updates (0 already present) from "+file+"\n" {
		t.Fatalf("import: %v, %q", err, out)
	}
	// Flags after the file work too; the second import adds nothing and succeeds.
	out, _, err = data(t, noEnv, "", "import", file, "-db", b)
	if err != nil || !strings.HasPrefix(out, "imported 0 updates (3 already present)") {
		t.Fatalf("second import: %v, %q", err, out)
	}
	want, _ := os.ReadFile(file)
	got, _, err := data(t, noEnv, "", "export", "--db", b)
	if err != nil || got != string(want) {
		t.Fatalf("export of B differs: %v\nA: %s\nB: %s", err, want, got)
	}
	// Standard input.
	c := filepath.Join(dir, "c.db")
	if out, _, err := data(t, noEnv, got, "import", "-db", c, "-"); err != nil || !strings.HasPrefix(out, "imported 3 updates") {
		t.Fatalf("import from stdin: %v, %q", err, out)
	}
}

func TestExportCSVCommand(t *testing.T) {
	a := dataStore(t)
	out, _, err := data(t, env(map[string]string{"SITREP_DB": a}), "", "export", "--format", "csv", "--since", "2023-10-28")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, out)
	}
	if strings.Join(rows[0][:4], ",") != "event_date,actor1,location,admin1" {
		t.Fatalf("header %v", rows[0])
	}
	found := false
	for _, r := range rows[1:] {
		found = found || r[8] == "TNLA: \"Namhkam, Kutkai surrounded\"\nunconfirmed"
	}
	if !found {
		t.Fatalf("the quoted, multi-line text did not survive:\n%s", out)
	}
	if _, _, err := data(t, noEnv, "", "export", "-db", a, "-format", "xml"); err == nil || !strings.Contains(err.Error(), "jsonl or csv") {
		t.Fatalf("-format xml: %v", err)
	}
	if _, _, err := data(t, noEnv, "", "export", "-db", filepath.Join(t.TempDir(), "none.db")); err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Fatalf("export of a missing store: %v", err)
	}
}

func TestImportCommandRejectsLine3AndDryRunWritesNothing(t *testing.T) {
	a := dataStore(t)
	exp, _, err := data(t, noEnv, "", "export", "-db", a)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(exp), "\n")
	lines = append(lines, strings.Replace(lines[0], `:1"`, `:1-copy"`, 1), strings.Replace(lines[1], `:2"`, `:2-copy"`, 1))
	dir := t.TempDir()
	b := filepath.Join(dir, "b.db")
	for name, line3 := range map[string]string{
		"bad JSON":     `{"id": 3, "text": `,
		"unknown town": strings.Replace(lines[2], `"towns":["lashio"]`, `"towns":["atlantis"]`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			if line3 == lines[2] {
				t.Fatal("the edit did not apply")
			}
			bad := append([]string(nil), lines...)
			bad[2] = line3
			file := filepath.Join(dir, "bad.jsonl")
			if err := os.WriteFile(file, []byte(strings.Join(bad, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := data(t, noEnv, "", "import", "-db", b, file)
			if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "nothing was imported") {
				t.Fatalf("err = %v; want line 3, nothing imported", err)
			}
			if _, err := os.Stat(b); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a failed import left a store file behind: %v", err)
			}
		})
	}

	file := filepath.Join(dir, "good.jsonl")
	if err := os.WriteFile(file, []byte(exp), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.db")
	out, _, err := data(t, noEnv, "", "import", "--dry-run", "-db", fresh, file)
	if err != nil || !strings.HasPrefix(out, "dry run: would import 3 updates (0 already present)") {
		t.Fatalf("dry run: %v, %q", err, out)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a dry run created the store: %v", err)
	}
	out, _, err = data(t, noEnv, "", "import", "-dry-run", "-db", a, file)
	if err != nil || !strings.HasPrefix(out, "dry run: would import 0 updates (3 already present)") {
		t.Fatalf("dry run into the origin: %v, %q", err, out)
	}
}

func TestBackupAndCheckCommands(t *testing.T) {
	a := dataStore(t)
	file := filepath.Join(t.TempDir(), "copy.db")
	out, _, err := data(t, noEnv, "", "backup", "-db", a, file)
	if err != nil || !strings.Contains(out, "backup: wrote") {
		t.Fatalf("backup: %v, %q", err, out)
	}
	out, _, err = data(t, noEnv, "", "check", "-db", file)
	if err != nil || !strings.HasPrefix(out, "ok: 3 updates") {
		t.Fatalf("check of the backup: %v, %q", err, out)
	}
	if _, _, err := data(t, noEnv, "", "backup", "-db", a, a); err == nil {
		t.Fatal("backed up a store onto itself")
	}
	if _, stderr, err := data(t, noEnv, "", "check", "-h"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "SITREP_DB") {
		t.Fatalf("check -h: %v, %q", err, stderr)
	}
	if _, stderr, err := data(t, noEnv, "", "backup", "-h"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "SITREP_ADMIN_TOKEN") {
		t.Fatalf("backup -h: %v, %q", err, stderr)
	}
}

func TestCheckCommandReportsDamage(t *testing.T) {
	a := dataStore(t)
	// Overwrite the pages after the two meta pages and the freelist with zeros: the
	// file still opens (the meta pages are intact) but its trees are broken.
	f, err := os.OpenFile(a, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	page := int64(os.Getpagesize())
	if _, err := f.WriteAt(make([]byte, fi.Size()-4*page), 4*page); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	out, _, err := data(t, noEnv, "", "check", "-db", a)
	// Depending on which pages the zeros hit, opening panics inside bbolt (an error
	// saying the file is damaged) or the check lists the damage: never a crash, never ok.
	if err == nil || !strings.Contains(err.Error(), "damaged") && !strings.Contains(err.Error(), "problems") {
		t.Fatalf("check of a damaged store: %v\n%s", err, out)
	}
}

// holdStore opens a store as serve would, holding its lock until the test ends.
func holdStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestBackupHandler(t *testing.T) {
	const token = "s3cret-admin-token-0123"
	st := holdStore(t, dataStore(t))
	var logs bytes.Buffer
	srv := httptest.NewServer(backupHandler(st, token, slog.New(slog.NewJSONHandler(&logs, nil))))
	defer srv.Close()
	// logs is read only after srv.Close, which waits for the handlers to finish.
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"not bearer", token, http.StatusUnauthorized},
		{"admin", "Bearer " + token, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/backup", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK {
				return
			}
			if resp.ContentLength <= 0 || int64(body.Len()) != resp.ContentLength {
				t.Fatalf("Content-Length %d, body %d", resp.ContentLength, body.Len())
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=sitrep-") {
				t.Fatalf("Content-Disposition %q", cd)
			}
			path := filepath.Join(t.TempDir(), "b.db")
			if err := os.WriteFile(path, body.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, _, err := data(t, noEnv, "", "check", "-db", path); err != nil || !strings.HasPrefix(out, "ok: 3 updates") {
				t.Fatalf("check of the served backup: %v, %q", err, out)
			}
		})
	}
	srv.Close()
	if strings.Contains(logs.String(), token) {
		t.Fatalf("the token is in the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"backup served"`) || !strings.Contains(logs.String(), `"msg":"backup refused"`) {
		t.Fatalf("log lacks the backup and the refusals:\n%s", logs.String())
	}
}

func TestBackupCommandGoesThroughTheServerWhileItHoldsTheStore(t *testing.T) {
	const token = "another-admin-token-456"
	a := dataStore(t)
	st := holdStore(t, a)
	mux := http.NewServeMux()
	mux.Handle("GET /admin/backup", backupHandler(st, token, slog.New(slog.DiscardHandler)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Check cannot run while the store is held, and says why.
	if _, _, err := data(t, noEnv, "", "check", "-db", a); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("check of a held store: %v", err)
	}
	file := filepath.Join(dir, "copy.db")
	getenv := env(map[string]string{"SITREP_DB": a, "SITREP_HTTP_ADDR": addr, "SITREP_ADMIN_TOKEN_FILE": tokenFile})
	out, _, err := data(t, getenv, "", "backup", file)
	if err != nil || !strings.Contains(out, "through the running server") {
		t.Fatalf("backup through serve: %v, %q", err, out)
	}
	if out, _, err := data(t, noEnv, "", "check", "-db", file); err != nil || !strings.HasPrefix(out, "ok: 3 updates") {
		t.Fatalf("check of the backup: %v, %q", err, out)
	}
	bad := env(map[string]string{"SITREP_DB": a, "SITREP_HTTP_ADDR": addr, "SITREP_ADMIN_TOKEN": "wrong"})
	_, _, err = data(t, bad, "", "backup", filepath.Join(dir, "nope.db"))
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("backup with a wrong token: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused backup left a file: %v", err)
	}
	_, _, err = data(t, env(map[string]string{"SITREP_DB": a}), "", "backup", filepath.Join(dir, "none.db"))
	if err == nil || !strings.Contains(err.Error(), "SITREP_ADMIN_TOKEN") {
		t.Fatalf("backup without a token: %v", err)
	}
}
