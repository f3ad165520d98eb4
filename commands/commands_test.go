package commands_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/commands"
	"github.com/sitrep-bot/sitrep/store"
)

var (
	admin  = bot.Identity{Platform: "telegram", UserID: "1", Name: "Admin"}
	reader = bot.Identity{Platform: "telegram", UserID: "2", Name: "Reader"}
	group  = bot.Chat{Platform: "telegram", ID: "-1001", Kind: bot.Group, Title: "Shan news"}
	now    = time.Date(2023, 11, 2, 9, 0, 0, 0, time.UTC)
)

// fixture is a command set on a fresh store.
type fixture struct {
	t     *testing.T
	store *store.Store
	set   *commands.Set
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "sitrep.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	set := commands.New(st, commands.Options{Admins: []string{admin.String()}, Now: func() time.Time { return now }})
	return &fixture{t: t, store: st, set: set}
}

// ask sends a command line as user in the test group and returns the reply as text.
func (f *fixture) ask(user bot.Identity, line string) (bot.Reply, string) {
	f.t.Helper()
	name, args, ok := bot.ParseCommand(line, "sitrep_bot")
	if !ok {
		f.t.Fatalf("not a command: %q", line)
	}
	r := f.set.Serve(context.Background(), &bot.Request{Command: name, Text: args, User: user, Chat: group, Time: now})
	return r, bot.PlainText(r)
}

// must asks and fails the test on an error reply.
func (f *fixture) must(user bot.Identity, line string) string {
	f.t.Helper()
	r, text := f.ask(user, line)
	if r.Tone == bot.Error {
		f.t.Fatalf("%s: error reply %q", line, text)
	}
	return text
}

// refused asks and fails the test unless the reply is an error containing want.
func (f *fixture) refused(user bot.Identity, line, want string) string {
	f.t.Helper()
	r, text := f.ask(user, line)
	if r.Tone != bot.Error || !r.Private {
		f.t.Fatalf("%s: want a private error, got %q", line, text)
	}
	if !strings.Contains(text, want) {
		f.t.Fatalf("%s: error %q does not contain %q", line, text, want)
	}
	if strings.Count(strings.TrimSpace(text), "\n") > 0 {
		f.t.Fatalf("%s: error is not one line: %q", line, text)
	}
	return text
}

func contains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, text)
		}
	}
}

func TestPostVerifyEditRetractShowEverywhere(t *testing.T) {
	f := newFixture(t)
	out := f.must(admin, "/post claim:Kokang source:https://www.irrawaddy.com date:2023-10-30 41 soldiers of LIB 143 left their base at Kan Mong after talks")
	contains(t, "post", out, "Posted #1 as unverified", "Kan Mong", "MNDAA", "Claimed by MNDAA", "[UNVERIFIED]", "30 Oct 2023", "irrawaddy.com")
	if r, _ := f.ask(admin, "/post Muse border trade halted"); r.Status != "unverified" {
		t.Errorf("/post confirmation carries status %q, want the claim's (platforms colour it)", r.Status)
	}

	contains(t, "latest", f.must(reader, "/latest"), "#1", "[UNVERIFIED]", "Claimed by MNDAA")
	contains(t, "town", f.must(reader, "/town Kan Mong"), "#1", "[UNVERIFIED]", "as of 30 Oct 2023, 3 days ago")
	contains(t, "claims", f.must(reader, "/claims MNDAA"), "#1", "[UNVERIFIED]")

	f.must(admin, "/verify 1 confirmed seen on video")
	for _, cmd := range []string{"/latest", "/town Kan Mong", "/claims Kokang army"} {
		contains(t, cmd+" after verify", f.must(reader, cmd), "[CONFIRMED]", "seen on video")
	}

	f.must(admin, "/edit ၁ 41 soldiers of LIB 143 left their base near Kan Mong, Kunlong Township")
	for _, cmd := range []string{"/latest", "/town Kunlong", "/claims MNDAA"} {
		contains(t, cmd+" after edit", f.must(reader, cmd), "Kunlong Township", "edited")
	}

	f.must(admin, "/retract 1 the base was another unit's")
	for _, cmd := range []string{"/latest", "/town Kan Mong", "/claims MNDAA"} {
		contains(t, cmd+" after retract", f.must(reader, cmd), "[RETRACTED]", "RETRACTED: the base was another unit's")
	}
	u, err := f.store.Get(context.Background(), 1)
	if err != nil || len(u.History) != 3 {
		t.Fatalf("update 1 history: %+v, %v", u.History, err)
	}
}

func TestNonModeratorIsRefusedAndAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.must(admin, "/post claim:TNLA Fighting near Namhsan")
	for _, line := range []string{
		"/post claim:MNDAA Lashio has fallen",
		"/verify 1 confirmed",
		"/edit 1 changed",
		"/retract 1 no",
		"/control Lashio MNDAA",
		"/mod add telegram:2",
		"/alias Lashio = Lasho",
	} {
		f.refused(reader, line, "Only ")
	}
	n, _ := f.store.Count(ctx)
	u, _ := f.store.Get(ctx, 1)
	if n != 1 || u.Status != store.Unverified || u.Text != "Fighting near Namhsan" {
		t.Fatalf("store changed: count %d, update %+v", n, u)
	}
	log, err := f.store.AuditLog(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range log {
		if e.Action == "denied" && e.Actor == reader.String() {
			denied++
		}
	}
	if denied != 7 {
		t.Fatalf("%d refusals audited, want 7", denied)
	}
	// A moderator added by the admin may then post.
	f.must(admin, "/mod add telegram:2")
	f.must(reader, "/post Clashes in Lashio")
	f.refused(reader, "/mod list", "Only admins")
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.must(admin, "/post claim:MNDAA date:2023-10-27 Chin Shwe Haw taken")
	long := strings.Repeat("x", 10000)
	for _, tc := range []struct{ line, want string }{
		{"/lates", "Did you mean /latest?"},
		{"/frobnicate", "Unknown command /frobnicate"},
		{"/latest 0", "between 1 and 20"},
		{"/latest 99999", "between 1 and 20"},
		{"/latest many", "whole number"},
		{"/latest 3 4", "whole number"},
		{"/town", "Missing name"},
		{"/town Nowhere", "Did you mean"},
		{"/town " + long, "too long"},
		{"/post " + long, "too long"},
		{"/post claim:MNDAA", "Missing text"},
		{"/post claim:Nobody something happened", "No group called “Nobody”"},
		{"/post date:2023-13-45 something", "not a date"},
		{"/post date:2099-01-01 something", "out of range"},
		{"/post source:ftp://x something", "not a usable http(s) link"},
		{"/post status:retracted something", "must be one of"},
		{"/post text with a \x07 bell", "control character"},
		{"/verify 99 confirmed", "Update 99 not found"},
		{"/verify 1 maybe", "must be one of"},
		{"/verify 1 retracted", "Use /retract"},
		{"/verify one confirmed", "whole number"},
		{"/edit 42 new text", "Update 42 not found"},
		{"/edit 1", "Missing text"},
		{"/retract 1", "Missing reason"},
		{"/retract 77 wrong", "Update 77 not found"},
		{"/control Atlantis MNDAA", "No town called"},
		{"/control Lashio", "Missing town or group"},
		{"/control Lashio MNDAA 55", "Update 55 not found"},
		{"/mod remove telegram:1", "SITREP_ADMINS"},
		{"/mod add bob", "Give an identity"},
		{"/subscribe town Atlantis", "No town called"},
		{"/claims Lashio", "Lashio is a town"},
		{`/post source:"unclosed quote`, "quote is not closed"},
	} {
		f.refused(admin, tc.line, tc.want)
	}
	u, _ := f.store.Get(context.Background(), 1)
	if n, _ := f.store.Count(context.Background()); n != 1 || len(u.History) != 0 || u.Towns[0] != "chinshwehaw" {
		t.Fatalf("store changed: count %d, update %+v", n, u)
	}
}

func TestMarkupIsStoredAsWritten(t *testing.T) {
	f := newFixture(t)
	text := `<b>bold</b> *stars* _under_ [link](http://x) in Muse`
	f.must(admin, "/post "+text)
	u, err := f.store.Get(context.Background(), 1)
	if err != nil || u.Text != text {
		t.Fatalf("stored %q, %v; want %q", u.Text, err, text)
	}
	r, _ := f.ask(reader, "/latest 1")
	found := false
	for _, it := range r.Items {
		for _, sp := range it.Body {
			if sp.Text == text && sp.Style == bot.Plain {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("the text is not one plain span for renderers to escape: %+v", r.Items)
	}
}

func TestRepliesSayTheirStructure(t *testing.T) {
	f := newFixture(t)
	f.must(admin, "/subscribe all")
	f.must(admin, "/post claim:MNDAA source:https://www.irrawaddy.com date:2023-10-27 town:Chinshwehaw The MNDAA took Chin Shwe Haw")
	f.must(admin, "/post source:Irrawaddy date:2023-10-30 town:Hsenwi A bridge near Theinni was blown up")
	plain := func(blk bot.Block) string {
		var b strings.Builder
		for _, sp := range blk {
			b.WriteString(sp.Text)
		}
		return b.String()
	}
	checkItem := func(what string, it bot.Item, heading, body, source string) {
		t.Helper()
		if !strings.HasPrefix(plain(it.Heading), heading) || strings.Contains(plain(it.Heading), "\n") ||
			!strings.Contains(plain(it.Body), body) || !strings.HasPrefix(plain(it.Source), source) {
			t.Errorf("%s: item %q / %q / %q", what, plain(it.Heading), plain(it.Body), plain(it.Source))
		}
	}
	for _, line := range []string{"/latest", "/town Theinni", "/claims MNDAA"} {
		r, _ := f.ask(reader, line)
		if len(r.Items) == 0 || !strings.Contains(plain(r.Footer), "[CONFIRMED]") {
			t.Fatalf("%s: %d items, footer %q", line, len(r.Items), plain(r.Footer))
		}
		for _, blk := range r.Blocks {
			if strings.HasPrefix(plain(blk), "#") {
				t.Errorf("%s: an update among the paragraphs: %q", line, plain(blk))
			}
		}
	}
	r, _ := f.ask(reader, "/latest")
	checkItem("/latest", r.Items[0], "#2 · 30 Oct 2023 · [UNVERIFIED]", "A bridge near Theinni", "Hsenwi · Source: Irrawaddy")
	checkItem("/latest", r.Items[1], "#1 · 27 Oct 2023 · [UNVERIFIED]", "Claimed by MNDAA: The MNDAA took", "Chinshwehaw · Source: irrawaddy.com")
	r, _ = f.ask(reader, "/town Theinni")
	if len(r.Blocks) != 3 || len(r.Items) != 1 {
		t.Errorf("/town: %d paragraphs, %d items", len(r.Blocks), len(r.Items))
	}

	// A reply about one claim holds it as its only item, its source line apart.
	r, _ = f.ask(admin, "/verify 1 confirmed seen on video")
	if r.Status != "confirmed" || len(r.Blocks) != 1 || len(r.Items) != 1 || len(r.Footer) != 0 {
		t.Fatalf("/verify: %+v", r)
	}
	checkItem("/verify", r.Items[0], "#1 · 27 Oct 2023 · [CONFIRMED]", "Confirmed: seen on video", "Chinshwehaw · Source: irrawaddy.com")
	r, _, err := f.set.RenderDelivery(context.Background(), []bot.Job{{ID: 1, UpdateID: 2, Kind: bot.NewMessage}})
	if err != nil || r.Status != "unverified" || len(r.Items) != 1 {
		t.Fatalf("delivery: %+v, %v", r, err)
	}
	checkItem("delivery", r.Items[0], "#2 · 30 Oct 2023 · [UNVERIFIED]", "A bridge near Theinni", "Hsenwi · Source: Irrawaddy")

	// A chat's deliveries are one item per platform.
	r, _ = f.ask(admin, "/deliveries 1")
	if len(r.Items) != 1 {
		t.Fatalf("/deliveries: %+v", r)
	}
	checkItem("/deliveries", r.Items[0], "telegram: 0 sent, 1 pending, 0 failed", "", "")
	ctx := context.Background()
	ds, err := f.store.Deliveries(ctx, 1)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if err := f.store.MarkFailed(ctx, 1, ds[0].ID, "Forbidden: bot was kicked"); err != nil {
		t.Fatal(err)
	}
	r, text := f.ask(admin, "/deliveries 1")
	checkItem("/deliveries failed", r.Items[0], "telegram: 0 sent, 0 pending, 1 failed", "• failed", "")
	contains(t, "/deliveries text", text, "telegram: 0 sent, 0 pending, 1 failed\n• failed post to -1001: Forbidden: bot was kicked\n")
}

func TestLastAdminCannotBeRemoved(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	boot := store.Author{Platform: "console", UserID: "setup"}
	if err := st.AddModerator(ctx, store.Moderator{ID: "telegram:7", Role: store.AdminRole}, boot); err != nil {
		t.Fatal(err)
	}
	set := commands.New(st, commands.Options{}) // no configured admins
	f := &fixture{t: t, store: st, set: set}
	me := bot.Identity{Platform: "telegram", UserID: "7"}
	f.refused(me, "/mod remove telegram:7", "last admin")
	f.must(me, "/mod add telegram:8 admin")
	f.must(me, "/mod remove telegram:7")
	if _, ok, _ := st.Moderator(ctx, "telegram:7"); ok {
		t.Fatal("telegram:7 was not removed")
	}
}

func TestNamesAnySpelling(t *testing.T) {
	f := newFixture(t)
	f.must(admin, "/post claim:TNLA A junta unit left its post between Theinni and Lashio")
	for _, q := range []string{"Hsenwi", "Theinni", "Hseni", "hsen-wi", "Thienni", "သိန္နီ"} {
		contains(t, "/town "+q, f.must(reader, "/town "+q), "Hsenwi", "#1")
	}
	contains(t, "/town လားရှိုး", f.must(reader, "/town လားရှိုး"), "Lashio")
	contains(t, "/claims Palaung army", f.must(reader, "/claims Palaung army"), "Claims by TNLA", "#1")
}

func TestClaimsIncludeAllianceStatements(t *testing.T) {
	f := newFixture(t)
	f.must(admin, "/post claim:MNDAA Kunlong attacked")
	f.must(admin, "/post claim:3BHA The alliance calls on troops to surrender")
	f.must(admin, "/post claim:TNLA Namhsan attacked")
	out := f.must(reader, "/claims MNDAA")
	contains(t, "claims", out, "#1", "#2", "Brotherhood Alliance statement")
	if strings.Contains(out, "#3") {
		t.Errorf("TNLA's claim shown under MNDAA:\n%s", out)
	}
	if strings.Index(out, "#2") > strings.Index(out, "#1") {
		t.Errorf("not newest first:\n%s", out)
	}
}

func TestControlAndFreshness(t *testing.T) {
	f := newFixture(t)
	f.must(admin, "/post claim:MNDAA date:2023-10-27 The MNDAA took Chin Shwe Haw")
	contains(t, "town before", f.must(reader, "/town Chinshwehaw"), "Control: not recorded yet")
	f.must(admin, "/control Chin Shwe Haw Brotherhood Alliance 1")
	out := f.must(reader, "/town Qingshuihe")
	contains(t, "town after", out, "Control: Brotherhood Alliance since 27 Oct 2023 [UNVERIFIED], per update #1", "Last set just now", "as of 27 Oct 2023, 6 days ago")
	f.must(admin, `/control "Chin Shwe Haw" MNDAA ၁`)
	f.must(admin, "/verify 1 confirmed")
	contains(t, "town verified", f.must(reader, "/town Chin Shwe Haw"), "Control: MNDAA since 27 Oct 2023 [CONFIRMED]")
}

func TestSubscriptions(t *testing.T) {
	f := newFixture(t)
	r, _ := f.ask(reader, "/subscribe")
	if r.Tone != bot.Error {
		t.Fatal("a group member who is not a chat admin could subscribe")
	}
	manage := func(line string) string {
		t.Helper()
		name, args, _ := bot.ParseCommand(line, "")
		r := f.set.Serve(context.Background(), &bot.Request{Command: name, Text: args, User: reader, Chat: group, ChatManager: true})
		if r.Tone == bot.Error {
			t.Fatalf("%s: %s", line, bot.PlainText(r))
		}
		return bot.PlainText(r)
	}
	contains(t, "subscribe", manage("/subscribe"), "all updates")
	contains(t, "subscribe again", manage("/subscribe all"), "already")
	contains(t, "subscribe town", manage("/subscribe town Theinni"), "updates about Hsenwi")
	contains(t, "subscribe bare", manage("/subscribe Kokang army"), "updates about MNDAA")
	contains(t, "options", manage("/subscribe quiet group Kokang army digest:daily@18"), "updates about MNDAA, quietly, in a daily digest at 18:00")
	contains(t, "default digest", manage("/subscribe digest:daily town Lashio"), "updates about Lashio, in a daily digest at 07:00")
	r, _ = f.ask(admin, "/subscribe digest:weekly")
	if r.Tone != bot.Error {
		t.Fatal("digest:weekly accepted")
	}
	contains(t, "list", manage("/subscriptions"), "all updates —", "updates about Hsenwi", "updates about MNDAA, quietly, in a daily digest at 18:00")
	manage("/unsubscribe town Lashio")
	contains(t, "unsubscribe one", manage("/unsubscribe town Hseni"), "Unsubscribed from updates about Hsenwi")
	contains(t, "unsubscribe rest", manage("/unsubscribe"), "all updates", "MNDAA")
	contains(t, "list empty", manage("/subscriptions"), "no subscriptions")
}

func TestHelpShowsWhatYouMayDo(t *testing.T) {
	f := newFixture(t)
	out := f.must(reader, "/help")
	contains(t, "help", out, "/latest", "/town", "/claims", "/about")
	if strings.Contains(out, "/post") || strings.Contains(out, "/mod") {
		t.Errorf("reader's help lists moderator commands:\n%s", out)
	}
	contains(t, "admin help", f.must(admin, "/help"), "/post", "/mod")
	contains(t, "help post", f.must(reader, "/help post"), "claim:", "For moderators")
	contains(t, "about", f.must(reader, "/about"), "unverified", "Operation 1027")
}

func TestAliasAndNewTownsFromChat(t *testing.T) {
	f := newFixture(t)
	f.must(admin, `/addtown region:"Shan State (North)" township:Hopang lat:23.43 lon:98.75 Hopang`)
	f.must(admin, "/alias Hopang = Ho Pang")
	f.must(admin, "/addgroup kind:resistance full:\"Mandalay People's Defence Force\" MDY-PDF")
	f.must(admin, "/post claim:MDY-PDF Fighting reported in Ho Pang")
	contains(t, "town", f.must(reader, "/town hopang"), "Shan State (North)", "Ho Pang", "#1")
	contains(t, "claims", f.must(reader, "/claims mdy pdf"), "Claims by MDY-PDF", "#1")
	f.refused(admin, "/alias Lashio = Theinni", "already the name")
}

func TestOlderPages(t *testing.T) {
	f := newFixture(t)
	for i := range 12 {
		f.must(admin, fmt.Sprintf("/post claim:MNDAA Report %d from Laukkai", i+1))
	}
	r, out := f.ask(reader, "/claims Kokang")
	if r.More != "claims page:2 mndaa" || !strings.Contains(out, "Report 12") || strings.Contains(out, "Report 7\n") {
		t.Fatalf("first page: more %q\n%s", r.More, out)
	}
	r, out = f.ask(reader, "/"+r.More)
	if r.More != "claims page:3 mndaa" || !strings.Contains(out, "(page 2)") || !strings.Contains(out, "Report 7") || strings.Contains(out, "Report 8\n") {
		t.Fatalf("second page: more %q\n%s", r.More, out)
	}
	r, out = f.ask(reader, "/"+r.More)
	if r.More != "" || !strings.Contains(out, "Report 2") {
		t.Fatalf("last page: more %q\n%s", r.More, out)
	}
	if r, _ := f.ask(reader, "/latest 4"); r.More != "latest page:2 4" {
		t.Fatalf("latest more = %q", r.More)
	}
	if r, _ := f.ask(reader, "/town page:2 Laukkai"); r.More != "town page:3 laukkai" {
		t.Fatalf("town more = %q", r.More)
	}
	f.refused(reader, "/latest page:99", "between 1 and 20")
}
