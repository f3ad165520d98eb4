package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

// buildBinary builds sitrep into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sitrep")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

var (
	pushHead = regexp.MustCompile(`^>> pushed to console:(\S+) as m\d+`)
	pushBody = regexp.MustCompile(`^#(\d+) · `)
)

// pushes runs the binary's console on db with no input, so that it only drains the
// outbox and exits, unless it is killed after killAfter (0: never). It returns the
// (chat, update) pairs it printed and whether it was killed.
func pushes(t *testing.T, bin, db string, killAfter time.Duration) ([][2]string, bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "console", "-db", db, "-console-rate", "1500")
	cmd.Stdin = nil // end of input at once: drain, then exit
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := make(chan bool, 1)
	var timer *time.Timer
	if killAfter > 0 {
		timer = time.AfterFunc(killAfter, func() { killed <- cmd.Process.Kill() == nil })
	}
	var got [][2]string
	var raw strings.Builder
	chat := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		raw.WriteString(sc.Text() + "\n")
		if m := pushHead.FindStringSubmatch(sc.Text()); m != nil {
			chat = m[1]
		} else if m := pushBody.FindStringSubmatch(sc.Text()); m != nil && chat != "" {
			got = append(got, [2]string{chat, m[1]})
			chat = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read pushes: %v", err)
	}
	err = cmd.Wait()
	if timer != nil && !timer.Stop() {
		// The kill fired (its result may still be on its way): this run was killed
		// if the kill found the process alive.
		k := <-killed
		return got, k && err != nil, raw.String()
	}
	if err != nil {
		t.Fatalf("console run: %v", err)
	}
	return got, false, raw.String()
}

// TestKillDuringFanOutLosesNothing starts the real binary on a store with many
// subscribed chats and pending deliveries, kills it with SIGKILL at random points of the
// fan-out at least 20 times, and checks that in the end every delivery went out, with
// at most one duplicate per chat per kill.
func TestKillDuringFanOutLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary many times")
	}
	bin := buildBinary(t)
	db := filepath.Join(t.TempDir(), "sitrep.db")
	ctx := t.Context()
	st, err := store.Open(ctx, db, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const chats, updates = 120, 4
	for i := range chats {
		sub := store.Subscription{Chat: store.Chat{Platform: "console", ID: fmt.Sprintf("chat%03d", i)}, ChatKind: "group", Filter: store.Filter{Kind: store.AllUpdates}}
		if _, err := st.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	for i := range updates {
		if _, _, err := st.Post(ctx, store.Draft{Text: fmt.Sprintf("Report %d from Lashio", i+1), Author: store.Author{Platform: "console", UserID: "mod"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	seen := map[[2]string]int{}  // (chat, update) → times printed
	dupes := map[[2]string]int{} // (run, chat) → duplicates its kill caused
	lastRun := map[[2]string]int{}
	kills := 0
	var outputs []string
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for run := 0; ; run++ {
		var delay time.Duration
		if kills < 20 {
			delay = time.Duration(20+rng.IntN(200)) * time.Millisecond
		}
		got, wasKilled, raw := pushes(t, bin, db, delay)
		outputs = append(outputs, raw)
		for _, p := range got {
			seen[p]++
			// A repeat is caused by the kill of the run that printed it last time.
			if r, ok := lastRun[p]; ok {
				dupes[[2]string{strconv.Itoa(r), p[0]}]++
			}
			lastRun[p] = run
		}
		if wasKilled {
			kills++
			continue
		}
		if kills >= 20 {
			break
		}
		// It finished before the kill: queue more work and go on.
		st, err := store.Open(ctx, db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Post(ctx, store.Draft{Text: fmt.Sprintf("Late report %d from Muse", run), Author: store.Author{Platform: "console", UserID: "mod"}}); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
	}

	st, err = store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, _ := st.Count(ctx)
	for id := uint64(1); id <= n; id++ {
		ds, err := st.Deliveries(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != chats {
			t.Fatalf("update %d has %d deliveries, want %d", id, len(ds), chats)
		}
		for _, d := range ds {
			p := [2]string{d.Chat.ID, strconv.FormatUint(id, 10)}
			if d.State != store.Sent || seen[p] == 0 {
				for r, out := range outputs {
					lines := strings.Split(out, "\n")
					for i, line := range lines {
						if strings.Contains(line, d.Chat.ID) && i+2 < len(lines) {
							t.Logf("run %d: %s | %s", r, line, lines[i+2])
						}
					}
				}
				t.Fatalf("delivery %d (update %d to %s) is %s (ref %s, %d attempts, %v) and was printed %d times", d.ID, id, d.Chat.ID, d.State, d.Ref, d.Attempts, d.Done, seen[p])
			}
		}
	}
	total := 0
	for k, n := range dupes {
		if n > 1 {
			t.Errorf("run %s caused %d duplicates in %s; at most one per chat per kill", k[0], n, k[1])
		}
		total += n
	}
	t.Logf("%d kills, %d updates to %d chats, %d duplicates", kills, n, chats, total)
}
