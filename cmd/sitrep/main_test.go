package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot/discord"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
)

func noEnv(string) string { return "" }

func TestDemoAnswersTheQuickStart(t *testing.T) {
	in := strings.NewReader("/town Hsenwi\n/claims Kokang\n/latest 3\n/town Thienni\n/town Nowhere\n/town လားရှိုး\n")
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"demo"}, in, &out, &errOut, noEnv); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"Hsenwi · သိန္နီ",                   // /town Hsenwi
		"Control: MNDAA since",              // its status
		"Claims by MNDAA",                   // /claims Kokang
		"Latest 3",                          // /latest 3
		"No town called “Nowhere”. Did you", // did you mean
		"Lashio · လားရှိုး",                 // Burmese script
		"[UNVERIFIED]", "[CONFIRMED]", "Claimed by MNDAA",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if n := strings.Count(text, "Hsenwi · သိန္နီ"); n != 2 {
		t.Errorf("Theinni shown %d times, want 2 (Hsenwi and the typo Thienni)", n)
	}
	if errOut.Len() != 0 {
		t.Errorf("demo wrote to stderr: %s", errOut.String())
	}
}

func TestConsoleIsAnAdminSessionOnTheStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sitrep.db")
	env := func(k string) string {
		if k == "SITREP_DB" {
			return db
		}
		return ""
	}
	in := strings.NewReader("/post claim:TNLA Fighting in Namhsan\nnot a command\n/mod list\n")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"console"}, in, &out, &bytes.Buffer{}, env); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Posted #1", "Commands start with a slash", "Moderators"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console output lacks %q:\n%s", want, out.String())
		}
	}
	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.Count(t.Context()); n != 1 {
		t.Fatalf("store has %d updates, want 1", n)
	}
}

func TestUsageAndBadSubcommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, nil, &out, &errOut, noEnv); err != nil || !strings.Contains(out.String(), "sitrep demo") {
		t.Fatalf("--help: %v, %q", err, out.String())
	}
	if err := run(t.Context(), []string{"launch"}, nil, &out, &errOut, noEnv); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
	if err := run(t.Context(), []string{"serve"}, nil, &out, &errOut, noEnv); err == nil || !strings.Contains(err.Error(), "SITREP_TELEGRAM_TOKEN") {
		t.Fatalf("serve without tokens: %v", err)
	}
	badLimits := func(k string) string {
		if k == "SITREP_TELEGRAM_LIMITS" {
			return "group=lots"
		}
		return ""
	}
	if err := run(t.Context(), []string{"serve"}, strings.NewReader(""), &out, &errOut, badLimits); err == nil || !strings.Contains(err.Error(), "SITREP_TELEGRAM_LIMITS") {
		t.Fatalf("bad limits: %v", err)
	}
}

// TestKilledConsoleKeepsAcknowledgedPosts runs the real binary, posts through its
// console, kills it with SIGKILL right after an acknowledgement while another post is in
// flight, and checks that every acknowledged post is in the reopened store.
func TestKilledConsoleKeepsAcknowledgedPosts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sitrep")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "sitrep.db")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "console", "-db", db)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	const acked = 40
	for i := 1; i <= acked+1; i++ {
		if _, err := fmt.Fprintf(stdin, "/post claim:MNDAA source:Irrawaddy post number %d about Laukkai\n", i); err != nil {
			t.Fatal(err)
		}
		if i == acked+1 {
			break // in flight when the process dies
		}
		want := fmt.Sprintf("Posted #%d ", i)
		for line := range lines {
			if strings.HasPrefix(line, want) {
				break
			}
			if strings.HasPrefix(line, "!") {
				t.Fatalf("post %d: %s", i, line)
			}
		}
		if ctx.Err() != nil {
			t.Fatal("timed out waiting for acknowledgements")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	st, err := store.Open(t.Context(), db, store.Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer st.Close()
	for i := uint64(1); i <= acked; i++ {
		u, err := st.Get(t.Context(), i)
		if err != nil || u.Text != fmt.Sprintf("post number %d about Laukkai", i) {
			t.Fatalf("acknowledged post %d after kill: %+v, %v", i, u, err)
		}
	}
	if got, err := st.ClaimsBy(t.Context(), []string{"mndaa"}, 100); err != nil || len(got) < acked {
		t.Fatalf("claims index after kill: %d, %v", len(got), err)
	}
}

// TestConsoleSessionCorrectsAnUpdate drives a whole moderator session through the
// console: each change shows in /latest, /town and /claims.
func TestConsoleSessionCorrectsAnUpdate(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sitrep.db")
	script := strings.Join([]string{
		"/post claim:TNLA source:Irrawaddy date:2023-11-25 The TNLA says it took Namhsan",
		"/latest 1", "/town Namhsan", "/claims TNLA",
		"/verify 1 confirmed two outlets",
		"/latest 1", "/town Namhsan", "/claims TNLA",
		"/edit 1 The TNLA says it took Namhsan and its police station",
		"/latest 1", "/town Namhsan", "/claims TNLA",
		"/retract 1 wrong date",
		"/latest 1", "/town Namhsan", "/claims TNLA",
	}, "\n")
	// One console run per line, so that each reply can be read on its own; the store
	// carries the state from run to run.
	var replies []string
	for _, line := range strings.Split(script, "\n") {
		var out bytes.Buffer
		if err := run(t.Context(), []string{"console", "-db", db}, strings.NewReader(line), &out, &bytes.Buffer{}, noEnv); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, out.String())
	}
	for i, want := range []string{"[UNVERIFIED]", "[CONFIRMED]", "police station", "[RETRACTED]"} {
		for j := 1; j <= 3; j++ {
			if r := replies[i*4+j]; !strings.Contains(r, want) {
				t.Errorf("after step %d, reply %d lacks %q:\n%s", i, j, want, r)
			}
		}
	}
}

// TestRegistryFitsDiscord checks that every declared command translates into a valid
// Discord application command.
func TestRegistryFitsDiscord(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set := commands.New(st, commands.Options{})
	valid := regexp.MustCompile(`^[-_\p{Ll}\p{N}]{1,32}$`)
	cmds := discord.ApplicationCommands(set.Router().Commands())
	if len(cmds) != len(set.Router().Commands()) || len(cmds) > 100 {
		t.Fatalf("%d application commands", len(cmds))
	}
	for _, c := range cmds {
		if !valid.MatchString(c.Name) || c.Description == "" || len([]rune(c.Description)) > 100 || len(c.Options) > 25 {
			t.Errorf("/%s is not a valid Discord command: %q, %d options", c.Name, c.Description, len(c.Options))
		}
		optional := false
		for _, o := range c.Options {
			if !valid.MatchString(o.Name) || o.Description == "" || len([]rune(o.Description)) > 100 || len(o.Choices) > 25 || (o.Required && optional) {
				t.Errorf("/%s option %q is not valid", c.Name, o.Name)
			}
			optional = optional || !o.Required
		}
	}
}
