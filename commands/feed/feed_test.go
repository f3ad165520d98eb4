package feed_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/commands/feed"
	"github.com/sitrep-bot/sitrep/store"
)

const baseURL = "https://sitrep.example.org"

var mod = store.Author{Platform: "telegram", UserID: "42", Name: "Moderator"}

// clock is a store clock that moves a minute on every reading, so that posts, edits
// and status changes all have distinct times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

// fixture is a store with a handful of updates, and the feeds served over HTTP.
type fixture struct {
	t   *testing.T
	st  *store.Store
	srv *httptest.Server
	log *bytes.Buffer
	// The posted updates.
	mndaa, script, theinni, retracted, edited store.Update
}

// mustOpenStore opens a store in a temporary directory, closed when the test ends.
func mustOpenStore(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sitrep.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// serve registers the feeds of st on a mux behind a test server.
func serve(t testing.TB, st *store.Store, opts feed.Options) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	feed.New(st, opts).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2023, 10, 30, 9, 0, 0, 0, time.UTC)}
	f := &fixture{t: t, st: mustOpenStore(t, store.Options{NoSync: true, Now: c.now}), log: &bytes.Buffer{}}
	f.mndaa = f.post(store.Draft{
		Text:     "The MNDAA says its forces captured the border town of Laukkaing after heavy fighting.",
		Claimant: f.id(store.KindGroup, "MNDAA"),
		Source:   store.Source{Name: "MNDAA statement"},
		Happened: time.Date(2023, 10, 29, 0, 0, 0, 0, time.UTC), Precision: store.Day,
	})
	f.script = f.post(store.Draft{
		Text:   `Residents of Lashio report <script>alert("x")</script> & shelling near the airport.`,
		Source: store.Source{Name: "Local residents"},
	})
	f.theinni = f.post(store.Draft{
		Text:     "The alliance claims complete control of Hseni (Theinni) after a week of fighting.",
		Claimant: f.id(store.KindGroup, "Brotherhood Alliance"),
		Source:   store.Source{Name: "The Irrawaddy", URL: "https://www.irrawaddy.com/news/burma/theinni.html?a=1&b=2"},
	})
	f.retracted = f.post(store.Draft{
		Text:     "The junta says it retook Chinshwehaw.",
		Claimant: f.id(store.KindGroup, "junta"),
	})
	f.edited = f.post(store.Draft{Text: "Fighting reported near Kutkai."})
	var err error
	if _, f.retracted, err = f.st.SetStatus(ctx, f.retracted.ID, store.Retracted, "The statement was withdrawn by its author.", mod); err != nil {
		t.Fatal(err)
	}
	if _, f.edited, err = f.st.Edit(ctx, f.edited.ID, "Heavy fighting reported near Kutkai on the Union Highway.", mod); err != nil {
		t.Fatal(err)
	}
	f.srv = serve(t, f.st, feed.Options{
		BaseURL: baseURL,
		Logger:  slog.New(slog.NewTextHandler(f.log, nil)),
	})
	return f
}

// id resolves a name in the test store.
func (f *fixture) id(kind store.Kind, name string) string {
	f.t.Helper()
	id, err := f.st.Resolve(context.Background(), kind, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// post stores a draft by the moderator.
func (f *fixture) post(d store.Draft) store.Update {
	f.t.Helper()
	d.Author = mod
	u, _, err := f.st.Post(context.Background(), d)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   string
}

// get requests path (already escaped) from srv with optional headers.
func get(t testing.TB, srv *httptest.Server, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(body)}
}

// townPath and claimsPath are the escaped addresses of a town's and a group's feeds.
func townPath(name string) string   { return "/town/" + url.PathEscape(name) + "/feed.atom" }
func claimsPath(name string) string { return "/claims/" + url.PathEscape(name) + "/feed.atom" }

// The Atom document as the tests read it: every element that RFC 4287 allows once is
// a slice, so that a test can count them.
type (
	xFeed struct {
		XMLName   xml.Name  `xml:"http://www.w3.org/2005/Atom feed"`
		IDs       []string  `xml:"id"`
		Titles    []xText   `xml:"title"`
		Updated   []string  `xml:"updated"`
		Authors   []xPerson `xml:"author"`
		Links     []xLink   `xml:"link"`
		Generator []xText   `xml:"generator"`
		Entries   []xEntry  `xml:"entry"`
	}
	xEntry struct {
		IDs        []string    `xml:"id"`
		Titles     []xText     `xml:"title"`
		Updated    []string    `xml:"updated"`
		Published  []string    `xml:"published"`
		Authors    []xPerson   `xml:"author"`
		Links      []xLink     `xml:"link"`
		Categories []xCategory `xml:"category"`
		Content    []xText     `xml:"content"`
		Summary    []xText     `xml:"summary"`
	}
	xText struct {
		Type string `xml:"type,attr"`
		Body string `xml:",chardata"`
	}
	xPerson struct {
		Names []string `xml:"name"`
	}
	xLink struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	}
	xCategory struct {
		Term   string `xml:"term,attr"`
		Scheme string `xml:"scheme,attr"`
	}
)

// checkAtom parses a feed and checks the elements RFC 4287 requires: the feed's id,
// title and updated exactly once, an author on the feed or on every entry, each entry's
// id, title and updated exactly once, absolute IRIs for ids, RFC 3339 times, a self
// link that is absolute, and content or an alternate link on every entry.
func checkAtom(t *testing.T, body string) xFeed {
	t.Helper()
	var f xFeed
	if err := xml.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("not an Atom feed: %v\n%s", err, body)
	}
	once := func(what string, n int) {
		t.Helper()
		if n != 1 {
			t.Errorf("%s appears %d times, want exactly once", what, n)
		}
	}
	iri := func(what, s string) {
		t.Helper()
		if u, err := url.Parse(s); err != nil || u.Scheme == "" {
			t.Errorf("%s %q is not an absolute IRI", what, s)
		}
	}
	when := func(what, s string) time.Time {
		t.Helper()
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Errorf("%s %q is not RFC 3339: %v", what, s, err)
		}
		return at
	}
	person := func(what string, p xPerson) {
		t.Helper()
		if len(p.Names) != 1 || strings.TrimSpace(p.Names[0]) == "" {
			t.Errorf("%s has names %q, want exactly one", what, p.Names)
		}
	}
	once("feed id", len(f.IDs))
	once("feed title", len(f.Titles))
	once("feed updated", len(f.Updated))
	for _, id := range f.IDs {
		iri("feed id", id)
	}
	for _, u := range f.Updated {
		when("feed updated", u)
	}
	for _, p := range f.Authors {
		person("feed author", p)
	}
	var self []string
	for _, l := range f.Links {
		iri("feed link", l.Href)
		if l.Rel == "self" {
			self = append(self, l.Href)
		}
	}
	once("feed link rel=self", len(self))
	once("generator", len(f.Generator))
	ids := map[string]bool{}
	for i, e := range f.Entries {
		what := fmt.Sprintf("entry %d", i)
		once(what+" id", len(e.IDs))
		once(what+" title", len(e.Titles))
		once(what+" updated", len(e.Updated))
		once(what+" content", len(e.Content))
		if len(e.Published) > 1 {
			t.Errorf("%s has %d published", what, len(e.Published))
		}
		for _, id := range e.IDs {
			iri(what+" id", id)
			if ids[id] {
				t.Errorf("%s id %s repeats", what, id)
			}
			ids[id] = true
		}
		if len(f.Authors) == 0 && len(e.Authors) == 0 {
			t.Errorf("%s has no author and neither has the feed", what)
		}
		for _, p := range e.Authors {
			person(what+" author", p)
		}
		for _, l := range e.Links {
			iri(what+" link", l.Href)
		}
		for _, c := range e.Categories {
			if c.Term == "" {
				t.Errorf("%s has a category without a term", what)
			}
		}
		for _, c := range e.Content {
			if c.Type != "text" && c.Type != "html" {
				t.Errorf("%s content type %q", what, c.Type)
			}
		}
		if len(e.Updated) == 1 && len(e.Published) == 1 {
			if up, pub := when(what+" updated", e.Updated[0]), when(what+" published", e.Published[0]); up.Before(pub) {
				t.Errorf("%s updated %s before published %s", what, up, pub)
			}
		}
	}
	if len(f.Authors) == 0 && len(f.Entries) == 0 {
		t.Error("the feed has no author")
	}
	return f
}

// mustFeed gets a feed, checks that it is valid Atom and returns it.
func mustFeed(t *testing.T, srv *httptest.Server, path string) (xFeed, response) {
	t.Helper()
	res := get(t, srv, path)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return checkAtom(t, res.body), res
}

// entryOf returns the entry of an update, or fails.
func entryOf(t *testing.T, f xFeed, u store.Update) xEntry {
	t.Helper()
	for _, e := range f.Entries {
		if e.IDs[0] == updateID(u) {
			return e
		}
	}
	t.Fatalf("no entry for update %d in %q", u.ID, f.IDs)
	return xEntry{}
}

func updateID(u store.Update) string {
	return fmt.Sprintf("tag:sitrep.example.org,2023:update/%d", u.ID)
}

// entryIDs lists a feed's entry ids.
func entryIDs(f xFeed) []string {
	var ids []string
	for _, e := range f.Entries {
		ids = append(ids, e.IDs[0])
	}
	return ids
}

// text is an entry's content: its HTML once the XML is read.
func text(e xEntry) string { return e.Content[0].Body }

func TestFeedsAreValidAtom(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{
		"/feed.atom",
		townPath("Hseni"),
		townPath("Laukkaing"),
		townPath("Mogok"), // no updates
		townPath("သိန္နီ"),
		claimsPath("MNDAA"),
		claimsPath("TNLA"),
		claimsPath("Kokang army"),
		claimsPath("junta"),
		claimsPath("KIA"), // no claims
	} {
		t.Run(path, func(t *testing.T) {
			doc, res := mustFeed(t, f.srv, path)
			self := doc.Links[slices.IndexFunc(doc.Links, func(l xLink) bool { return l.Rel == "self" })].Href
			if !strings.HasPrefix(self, baseURL+"/") {
				t.Errorf("self link %q not under %s", self, baseURL)
			}
			if !strings.HasPrefix(doc.IDs[0], "tag:sitrep.example.org,2023:feed/") {
				t.Errorf("feed id %q", doc.IDs[0])
			}
			if len(doc.Authors) != 1 || doc.Authors[0].Names[0] != feed.DefaultAuthor {
				t.Errorf("feed authors %+v", doc.Authors)
			}
			if res.header.Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
}

func TestLatest(t *testing.T) {
	f := newFixture(t)
	doc, _ := mustFeed(t, f.srv, "/feed.atom")
	if got := len(doc.Entries); got != 5 {
		t.Fatalf("%d entries, want 5: %q", got, entryIDs(doc))
	}
	if doc.Titles[0].Body != "sitrep: latest updates" {
		t.Errorf("title %q", doc.Titles[0].Body)
	}
	// The feed was last updated when the newest change was made: the edit.
	if want := f.edited.History[0].At.UTC().Format(time.RFC3339); doc.Updated[0] != want {
		t.Errorf("feed updated %s, want the edit's %s", doc.Updated[0], want)
	}
}

func TestTownResolvesAsTheChatDoes(t *testing.T) {
	f := newFixture(t)
	var feedID string
	for _, name := range []string{"Hseni", "Hsenwi", "theinni", "THEINNI", "Thienni", "Senwi", "သိန္နီ"} {
		t.Run(name, func(t *testing.T) {
			doc, _ := mustFeed(t, f.srv, townPath(name))
			if got := entryIDs(doc); !slices.Equal(got, []string{updateID(f.theinni)}) {
				t.Errorf("entries %q, want only the Theinni update %s", got, updateID(f.theinni))
			}
			if doc.Titles[0].Body != "sitrep: Hsenwi" {
				t.Errorf("title %q", doc.Titles[0].Body)
			}
			if feedID == "" {
				feedID = doc.IDs[0]
			} else if doc.IDs[0] != feedID {
				t.Errorf("feed id %q, want the same id for every spelling, %q", doc.IDs[0], feedID)
			}
		})
	}
	doc, _ := mustFeed(t, f.srv, townPath("Laukkaing"))
	if got := entryIDs(doc); !slices.Equal(got, []string{updateID(f.mndaa)}) {
		t.Errorf("Laukkaing entries %q, want %s", got, updateID(f.mndaa))
	}
	e := entryOf(t, doc, f.mndaa)
	if got, want := e.Titles[0].Body, "[UNVERIFIED] MNDAA claims: Laukkai"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if len(e.Authors) != 1 || e.Authors[0].Names[0] != "MNDAA" {
		t.Errorf("authors %+v, want the claimant MNDAA", e.Authors)
	}
}

func TestClaimsIncludeAlliances(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		group string
		want  []store.Update
	}{
		// The Brotherhood Alliance is MNDAA, TNLA and AA: a member's feed has the
		// alliance's statements, newest first.
		{"MNDAA", []store.Update{f.theinni, f.mndaa}},
		{"Kokang army", []store.Update{f.theinni, f.mndaa}},
		{"TNLA", []store.Update{f.theinni}},
		{"Arakan Army", []store.Update{f.theinni}},
		{"Brotherhood", []store.Update{f.theinni}},
		{"SAC", []store.Update{f.retracted}},
		{"KIA", nil},
	} {
		t.Run(tc.group, func(t *testing.T) {
			doc, _ := mustFeed(t, f.srv, claimsPath(tc.group))
			var want []string
			for _, u := range tc.want {
				want = append(want, updateID(u))
			}
			if got := entryIDs(doc); !slices.Equal(got, want) {
				t.Errorf("entries %q, want %q", got, want)
			}
		})
	}
	doc, _ := mustFeed(t, f.srv, claimsPath("TNLA"))
	e := entryOf(t, doc, f.theinni)
	if c := text(e); !strings.Contains(c, "Brotherhood Alliance statement") {
		t.Errorf("an alliance claim in TNLA's feed is not marked as the alliance's statement:\n%s", c)
	}
	if got := doc.Titles[0].Body; got != "sitrep: claims by TNLA" {
		t.Errorf("title %q", got)
	}
}

func TestUnknownNames(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ path, want string }{
		{townPath("Nowhere"), "Did you mean"},
		{townPath("Kutkaixyz"), "Did you mean Kutkai"},
		{claimsPath("Nobody at all"), "No group called “Nobody at all”."},
		{townPath("MNDAA"), "MNDAA is a group."},
		{townPath("---"), "needs letters or digits"},
		{townPath(strings.Repeat("x", 5000)), "No town called"},
		{townPath("\x00"), "needs letters or digits"},
	} {
		t.Run(clip(tc.path), func(t *testing.T) {
			res := get(t, f.srv, tc.path)
			if res.status != http.StatusNotFound {
				t.Fatalf("status %d, want 404: %s", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(res.body, tc.want) {
				t.Errorf("body %q, want it to say %q", res.body, tc.want)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

func TestEscaping(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/feed.atom", townPath("Lashio")} {
		res := get(t, f.srv, path)
		if strings.Contains(res.body, "<script") {
			t.Errorf("%s: the raw <script> appears in the body:\n%s", path, res.body)
		}
		doc := checkAtom(t, res.body)
		e := entryOf(t, doc, f.script)
		if c := text(e); !strings.Contains(c, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; shelling") {
			t.Errorf("%s: the content does not show the text as written:\n%s", path, c)
		}
		if c := html.UnescapeString(text(e)); !strings.Contains(c, `<script>alert("x")</script> & shelling`) {
			t.Errorf("%s: the text is not there once unescaped:\n%s", path, c)
		}
	}
}

func TestEntryShowsStatusAndSource(t *testing.T) {
	f := newFixture(t)
	doc, _ := mustFeed(t, f.srv, "/feed.atom")

	e := entryOf(t, doc, f.theinni)
	src := f.theinni.Source.URL
	if got, want := e.Titles[0].Body, "[UNVERIFIED] Brotherhood Alliance claims: Hsenwi"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	c := text(e)
	for _, want := range []string{"[UNVERIFIED]", "Status: unverified", "Claimed by <strong>Brotherhood Alliance", "The Irrawaddy", html.EscapeString(src), "Towns: Hsenwi", "complete control of Hseni"} {
		if !strings.Contains(c, want) {
			t.Errorf("content lacks %q:\n%s", want, c)
		}
	}
	if i := slices.IndexFunc(e.Links, func(l xLink) bool { return l.Rel == "alternate" }); i < 0 || e.Links[i].Href != src {
		t.Errorf("links %+v, want rel=alternate %s", e.Links, src)
	}
	if !hasCategory(e, "unverified") || !hasCategory(e, f.id(store.KindTown, "Hsenwi")) || !hasCategory(e, f.id(store.KindGroup, "Brotherhood Alliance")) {
		t.Errorf("categories %+v", e.Categories)
	}
	if e.Published[0] != f.theinni.Posted.UTC().Format(time.RFC3339) || e.Updated[0] != e.Published[0] {
		t.Errorf("published %s updated %s, want both %s", e.Published, e.Updated, f.theinni.Posted)
	}

	// The source's own reporting is by the source.
	e = entryOf(t, doc, f.script)
	if len(e.Authors) != 1 || e.Authors[0].Names[0] != "Local residents" {
		t.Errorf("authors %+v, want the source", e.Authors)
	}
	if len(e.Links) != 0 {
		t.Errorf("links %+v for an update without a source URL", e.Links)
	}
	// Neither claimant nor source: by the feed's author.
	e = entryOf(t, doc, f.edited)
	if len(e.Authors) != 1 || e.Authors[0].Names[0] != feed.DefaultAuthor {
		t.Errorf("authors %+v, want the feed's author", e.Authors)
	}
}

func TestRetractedAndEdited(t *testing.T) {
	f := newFixture(t)
	doc, _ := mustFeed(t, f.srv, "/feed.atom")

	e := entryOf(t, doc, f.retracted)
	if got := e.Titles[0].Body; !strings.HasPrefix(got, "[RETRACTED] junta claims: Chinshwehaw") {
		t.Errorf("title %q", got)
	}
	c := text(e)
	for _, want := range []string{"[RETRACTED]", "Status: retracted", "Retracted:", "The statement was withdrawn by its author."} {
		if !strings.Contains(c, want) {
			t.Errorf("retracted content lacks %q:\n%s", want, c)
		}
	}
	if !hasCategory(e, "retracted") {
		t.Errorf("categories %+v", e.Categories)
	}
	if want := f.retracted.History[0].At.UTC().Format(time.RFC3339); e.Updated[0] != want || e.Published[0] == want {
		t.Errorf("retracted entry published %s updated %s, want updated at the retraction %s", e.Published, e.Updated, want)
	}

	e = entryOf(t, doc, f.edited)
	c = text(e)
	if !strings.Contains(c, "Heavy fighting reported near Kutkai") || !strings.Contains(c, "Edited:") {
		t.Errorf("edited content:\n%s", c)
	}
	if want := f.edited.History[0].At.UTC().Format(time.RFC3339); e.Updated[0] != want {
		t.Errorf("edited entry updated %s, want %s", e.Updated, want)
	}
}

func hasCategory(e xEntry, term string) bool {
	return slices.ContainsFunc(e.Categories, func(c xCategory) bool { return c.Term == term })
}

func TestETag(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/feed.atom", townPath("Hseni"), claimsPath("MNDAA")} {
		t.Run(path, func(t *testing.T) {
			first := get(t, f.srv, path)
			etag := first.header.Get("ETag")
			if first.status != http.StatusOK || etag == "" {
				t.Fatalf("status %d, ETag %q", first.status, etag)
			}
			again := get(t, f.srv, path, "If-None-Match", etag)
			if again.status != http.StatusNotModified || again.body != "" {
				t.Errorf("If-None-Match: status %d, body %q; want 304 and nothing", again.status, again.body)
			}
			if again.header.Get("ETag") != etag {
				t.Errorf("304 ETag %q, want %q", again.header.Get("ETag"), etag)
			}
			other := get(t, f.srv, path, "If-None-Match", `"something else"`)
			if other.status != http.StatusOK || other.body != first.body {
				t.Errorf("another ETag: status %d", other.status)
			}
		})
	}
	// A change to the store that leaves a feed as it was keeps its ETag; a change to the
	// feed gives a new one.
	latest := get(t, f.srv, "/feed.atom").header.Get("ETag")
	claims := get(t, f.srv, claimsPath("MNDAA")).header.Get("ETag")
	f.post(store.Draft{Text: "Shelling reported in Lashio."})
	if res := get(t, f.srv, "/feed.atom", "If-None-Match", latest); res.status != http.StatusOK || res.header.Get("ETag") == latest {
		t.Errorf("after a post, /feed.atom: status %d ETag %q (was %q)", res.status, res.header.Get("ETag"), latest)
	}
	if res := get(t, f.srv, claimsPath("MNDAA"), "If-None-Match", claims); res.status != http.StatusNotModified {
		t.Errorf("after a post without claim, MNDAA's claims: status %d, want 304", res.status)
	}
	if _, _, err := f.st.SetStatus(context.Background(), f.mndaa.ID, store.Confirmed, "", mod); err != nil {
		t.Fatal(err)
	}
	if res := get(t, f.srv, claimsPath("MNDAA"), "If-None-Match", claims); res.status != http.StatusOK || !strings.Contains(res.body, "[CONFIRMED]") {
		t.Errorf("after a confirmation, MNDAA's claims: status %d", res.status)
	}
}

func TestLatestHoldsTheNewest50(t *testing.T) {
	ctx := context.Background()
	st := mustOpenStore(t, store.Options{NoSync: true})
	first := time.Date(2023, 10, 27, 4, 0, 0, 0, time.UTC)
	var updates []store.Update
	for id := uint64(1); id <= 55; id++ {
		at := first.Add(time.Duration(id) * time.Hour)
		updates = append(updates, store.Update{
			ID: id, Text: fmt.Sprintf("Update number %d.", id), Status: store.Unverified,
			Happened: at, Posted: at, Author: mod,
		})
	}
	if _, err := st.Import(ctx, updates); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, st, feed.Options{TagAuthority: "sitrep.example.org"})
	f, _ := mustFeed(t, srv, "/feed.atom")
	var want []string
	for id := 55; id > 5; id-- {
		want = append(want, fmt.Sprintf("tag:sitrep.example.org,2023:update/%d", id))
	}
	if got := entryIDs(f); !slices.Equal(got, want) {
		t.Errorf("entries %q,\nwant the newest 50, newest first: %q", got, want)
	}
	if want := updates[54].Posted.Format(time.RFC3339); f.Updated[0] != want {
		t.Errorf("feed updated %s, want %s", f.Updated[0], want)
	}
}

func TestAddresses(t *testing.T) {
	st := mustOpenStore(t, store.Options{NoSync: true})
	t.Run("from the request", func(t *testing.T) {
		srv := serve(t, st, feed.Options{})
		res := get(t, srv, townPath("Hseni"), "X-Forwarded-Proto", "https")
		f := checkAtom(t, res.body)
		host := strings.TrimPrefix(srv.URL, "http://")
		if got, want := f.Links[0].Href, "https://"+host+"/town/Hsenwi/feed.atom"; f.Links[0].Rel != "self" || got != want {
			t.Errorf("self link %q, want %q", got, want)
		}
		if got, want := f.IDs[0], "tag:127.0.0.1,2023:feed/town/hsenwi"; got != want {
			t.Errorf("feed id %q, want %q", got, want)
		}
		if len(f.Links) != 1 {
			t.Errorf("links %+v, want only self without a site", f.Links)
		}
	})
	t.Run("configured", func(t *testing.T) {
		opts := feed.Options{
			BaseURL: "https://example.org/sitrep/", SiteURL: "https://example.org/",
			Author: "The desk", TagAuthority: "sitrep.example.net", TagDate: "2024-01",
		}
		if err := opts.Validate(); err != nil {
			t.Fatal(err)
		}
		srv := serve(t, st, opts)
		f := checkAtom(t, get(t, srv, claimsPath("Three Brotherhood Alliance"), "X-Forwarded-Proto", "http").body)
		want := []xLink{{"self", "https://example.org/sitrep/claims/Brotherhood%20Alliance/feed.atom"}, {"alternate", "https://example.org/"}}
		if !slices.Equal(f.Links, want) {
			t.Errorf("links %+v, want %+v", f.Links, want)
		}
		if got, want := f.IDs[0], "tag:sitrep.example.net,2024-01:feed/claims/brotherhoodalliance"; got != want {
			t.Errorf("feed id %q, want %q", got, want)
		}
		if f.Authors[0].Names[0] != "The desk" {
			t.Errorf("author %+v", f.Authors)
		}
		// No entries: a fixed time, not the clock, so that the feed stays the same.
		if got, want := f.Updated[0], "2024-01-01T00:00:00Z"; got != want {
			t.Errorf("updated %s, want %s", got, want)
		}
	})
	t.Run("invalid options", func(t *testing.T) {
		for _, opts := range []feed.Options{
			{BaseURL: "example.org"},
			{BaseURL: "ftp://example.org"},
			{SiteURL: "https://example.org/?q=1"},
			{TagAuthority: "Example.org"},
			{TagAuthority: "exa mple.org"},
			{TagDate: "23"},
			{TagDate: "2023-1-1"},
		} {
			if err := opts.Validate(); err == nil {
				t.Errorf("%+v is valid", opts)
			}
		}
	})
}

func TestStoreFailure(t *testing.T) {
	f := newFixture(t)
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/feed.atom", townPath("Hseni"), claimsPath("MNDAA")} {
		res := get(t, f.srv, path)
		if res.status != http.StatusInternalServerError {
			t.Errorf("%s on a closed store: status %d, want 500", path, res.status)
		}
		if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || strings.Contains(res.body, "database") {
			t.Errorf("%s: %q %q, want a plain message without details", path, ct, res.body)
		}
	}
	if !strings.Contains(f.log.String(), "feed failed") {
		t.Errorf("nothing logged:\n%s", f.log)
	}
}

func TestHead(t *testing.T) {
	f := newFixture(t)
	res, err := f.srv.Client().Head(f.srv.URL + "/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
	res, err = f.srv.Client().Post(f.srv.URL+"/feed.atom", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
}

func TestConcurrentReadsAndWrites(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				path := []string{"/feed.atom", townPath("Lashio"), claimsPath("TNLA")}[(i+j)%3]
				res, err := f.srv.Client().Get(f.srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Errorf("%s: %d", path, res.StatusCode)
				}
			}
		})
	}
	for range 10 {
		f.post(store.Draft{Text: "Fighting near Lashio, the alliance says.", Claimant: f.id(store.KindGroup, "TNLA")})
	}
	wg.Wait()
}
