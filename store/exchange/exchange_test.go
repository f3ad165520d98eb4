package exchange

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

var mod = store.Author{Platform: "telegram", UserID: "1001", Name: "Moderator"}

// tricky is a text that CSV must quote: commas, quotes and a newline.
const tricky = "MNDAA: \"we hold Hsenwi, Kunlong\"\nResidents, though, report fighting"

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sitrep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// storeA is a store built the way moderators build one: posts with sources, dates,
// claimants, explicit towns and groups, a change of control, an edit, a verification
// and a retraction.
func storeA(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	s := openStore(t)
	yangon, err := time.LoadLocation("Asia/Yangon")
	if err != nil {
		t.Fatal(err)
	}
	post := func(d store.Draft) store.Update {
		t.Helper()
		d.Author = mod
		u, _, err := s.Post(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	post(store.Draft{Text: "Operation 1027 begins: attacks across northern Shan", Claimant: "brotherhoodalliance",
		Source:   store.Source{Name: "The Irrawaddy", URL: "https://www.irrawaddy.com/news/burma/1027"},
		Happened: time.Date(2023, 10, 27, 0, 0, 0, 0, yangon), Precision: store.Day})
	u2 := post(store.Draft{Text: tricky, Claimant: "mndaa", Towns: []string{"hsenwi"}, Groups: []string{"tnla"}, Control: "mndaa",
		Happened: time.Date(2023, 11, 2, 0, 0, 0, 0, yangon), Precision: store.Approximate})
	post(store.Draft{Text: "Junta says Lashio is calm", Claimant: "junta", Happened: time.Date(2023, 11, 5, 0, 0, 0, 0, yangon), Precision: store.Month})
	u4 := post(store.Draft{Text: "Reports of shelling near Namhkam"})
	if _, _, err := s.Edit(ctx, u2.ID, tricky+"; TNLA took part", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetStatus(ctx, u2.ID, store.Confirmed, "photos geolocated", mod); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetStatus(ctx, u4.ID, store.Retracted, "wrong town", mod); err != nil {
		t.Fatal(err)
	}
	return s
}

func export(t *testing.T, s *store.Store, f Format, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(context.Background(), s, &buf, f, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportImportRoundTripsEveryField(t *testing.T) {
	ctx := context.Background()
	a := storeA(t)
	first := export(t, a, JSONL, Options{})
	lines := strings.Split(strings.TrimSpace(string(first)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), first)
	}
	// The export really carries what the test is about.
	var u2 store.Update
	if err := json.Unmarshal([]byte(lines[1]), &u2); err != nil {
		t.Fatal(err)
	}
	if len(u2.History) != 2 || u2.Control != "mndaa" || u2.Note == "" || len(u2.Pinned.Towns) != 1 || u2.Precision != store.Approximate ||
		u2.ExternalID == "" || !slices.Contains(u2.Groups, "tnla") || u2.Author != mod {
		t.Fatalf("update 2 exported as %+v", u2)
	}

	b := openStore(t)
	res, err := Import(ctx, b, bytes.NewReader(first), false)
	if err != nil || res.Added != 4 || res.Present != 0 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	second := export(t, b, JSONL, Options{})
	if !bytes.Equal(first, second) {
		t.Fatalf("export after import differs:\nA: %s\nB: %s", first, second)
	}
	// The same, field by field, from the stores themselves.
	for id := uint64(1); id <= 4; id++ {
		ua, err := a.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ub, err := b.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ida, _ := a.Identity(ctx)
		if ub.ExternalID != store.ExternalID(ida, ua) {
			t.Errorf("update %d: external id %q, want %q", id, ub.ExternalID, store.ExternalID(ida, ua))
		}
		ub.ExternalID = ""
		ja, _ := json.Marshal(ua)
		jb, _ := json.Marshal(ub)
		if !bytes.Equal(ja, jb) {
			t.Errorf("update %d:\nA %s\nB %s", id, ja, jb)
		}
	}
	town, err := b.Town(ctx, "hsenwi")
	if err != nil || town.Control == nil || town.Control.Holder != "mndaa" {
		t.Errorf("hsenwi control in B = %+v, %v; want mndaa as in A", town.Control, err)
	}
	// And a third generation keeps the ids too.
	c := openStore(t)
	if _, err := Import(ctx, c, bytes.NewReader(second), false); err != nil {
		t.Fatal(err)
	}
	if third := export(t, c, JSONL, Options{}); !bytes.Equal(first, third) {
		t.Fatalf("third generation differs:\n%s", third)
	}
}

func TestImportTwiceAddsNothing(t *testing.T) {
	ctx := context.Background()
	data := export(t, storeA(t), JSONL, Options{})
	b := openStore(t)
	if _, _, err := b.Post(ctx, store.Draft{Text: "B's own update about Kutkai", Author: mod}); err != nil {
		t.Fatal(err)
	}
	if res, err := Import(ctx, b, bytes.NewReader(data), false); err != nil || res.Added != 4 {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	before := export(t, b, JSONL, Options{})
	res, err := Import(ctx, b, bytes.NewReader(data), false)
	if err != nil || res.Added != 0 || res.Present != 4 {
		t.Fatalf("second import: %+v, %v; want 0 added, 4 present", res, err)
	}
	if after := export(t, b, JSONL, Options{}); !bytes.Equal(before, after) {
		t.Fatal("the second import changed the store")
	}
	if n, _ := b.Count(ctx); n != 5 {
		t.Fatalf("B holds %d updates, want its own 1 and the 4 imported", n)
	}
	// B's export, which holds A's updates, imported back into... B: nothing new either.
	if res, err := Import(ctx, b, bytes.NewReader(before), false); err != nil || res.Added != 0 || res.Present != 5 {
		t.Fatalf("B into B: %+v, %v", res, err)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	data := export(t, storeA(t), JSONL, Options{})
	b := openStore(t)
	v := b.Version()
	res, err := Import(ctx, b, bytes.NewReader(data), true)
	if err != nil || res.Added != 4 || len(res.IDs) != 0 {
		t.Fatalf("dry run: %+v, %v; want 4 that would be added", res, err)
	}
	if n, _ := b.Count(ctx); n != 0 || b.Version() != v {
		t.Fatalf("dry run wrote: %d updates", n)
	}
}

func TestImportRejectsABadLineAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	data := export(t, storeA(t), JSONL, Options{})
	var extra store.Update
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if err := json.Unmarshal([]byte(lines[3]), &extra); err != nil {
		t.Fatal(err)
	}
	extra.ExternalID += "-copy"
	extraLine, _ := json.Marshal(extra)
	lines = append(lines, string(extraLine)) // 5 good lines
	for _, tc := range []struct {
		name, line3, want string
	}{
		{"bad JSON", `{"text": "cut off`, "bad JSON"},
		{"unknown field", strings.Replace(lines[2], `"text"`, `"txet"`, 1), "unknown field"},
		{"unknown town", strings.Replace(lines[2], `"status"`, `"towns":["atlantis"],"status"`, 1), `town "atlantis": not found`},
		{"unknown group", strings.Replace(lines[2], `"claimant":"junta"`, `"claimant":"spectre"`, 1), `group "spectre"`},
		{"unknown status", strings.Replace(lines[2], `"status":"unverified"`, `"status":"rumour"`, 1), `unknown status "rumour"`},
		{"missing text", strings.Replace(lines[2], `"text":"Junta says Lashio is calm"`, `"text":""`, 1), "text is empty"},
		{"bad time", strings.Replace(lines[2], `"happened":"2023-11-05`, `"happened":"yesterday`, 1), "bad JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.line3 == lines[2] {
				t.Fatalf("the edit did not apply to %s", lines[2])
			}
			bad := slices.Clone(lines)
			bad[2] = tc.line3
			file := strings.Join(bad, "\n") + "\n"
			b := openStore(t)
			if _, _, err := b.Post(ctx, store.Draft{Text: "B's own update about Kutkai", Author: mod}); err != nil {
				t.Fatal(err)
			}
			before := export(t, b, JSONL, Options{})
			_, err := Import(ctx, b, strings.NewReader(file), false)
			var le *LineError
			if !errors.As(err, &le) || le.Line != 3 || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want line 3 and %q", err, tc.want)
			}
			if after := export(t, b, JSONL, Options{}); !bytes.Equal(before, after) {
				t.Fatalf("the store changed:\n%s", after)
			}
		})
	}
}

func TestCSVHasACLEDColumnsAndQuotesText(t *testing.T) {
	data := export(t, storeA(t), CSV, Options{})
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, data)
	}
	header := rows[0]
	acled := []string{"event_date", "actor1", "location", "admin1", "latitude", "longitude", "source", "notes", "status", "claimant"}
	for _, c := range acled {
		if !slices.Contains(header, c) {
			t.Errorf("header %v lacks %s", header, c)
		}
	}
	col := func(row []string, name string) string { return row[slices.Index(header, name)] }
	var hsenwi []string
	ids := map[string]int{}
	for _, row := range rows[1:] {
		if len(row) != len(header) {
			t.Fatalf("row %v has %d columns, header %d", row, len(row), len(header))
		}
		ids[col(row, "id")]++
		if col(row, "id") == "2" && col(row, "location") == "Hsenwi" {
			hsenwi = row
		}
	}
	if len(ids) != 4 {
		t.Fatalf("rows cover updates %v, want 4", ids)
	}
	if hsenwi == nil {
		t.Fatalf("no Hsenwi row for update 2:\n%s", data)
	}
	for name, want := range map[string]string{
		"notes": tricky + "; TNLA took part", "event_date": "2023-11-02", "actor1": "MNDAA", "claimant": "MNDAA",
		"admin1": "Shan", "latitude": "23.3", "longitude": "97.96", "status": "confirmed", "status_note": "photos geolocated",
		"precision": "approximate",
	} {
		if got := col(hsenwi, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if ids["2"] < 2 {
		t.Errorf("update 2 (Hsenwi, Kunlong) has %d rows, want one per town", ids["2"])
	}
}

func TestExportSince(t *testing.T) {
	a := storeA(t)
	yangon, _ := time.LoadLocation("Asia/Yangon")
	since, err := ParseSince("2023-11-02", yangon)
	if err != nil {
		t.Fatal(err)
	}
	data := export(t, a, JSONL, Options{Since: since})
	// Updates 2 (2 November), 3 (5 November) and 4 (posted now); not 1 (27 October).
	if n := strings.Count(string(data), "\n"); n != 3 || strings.Contains(string(data), "Operation 1027 begins") {
		t.Fatalf("since 2023-11-02: %d lines:\n%s", n, data)
	}
	rfc, err := ParseSince("2023-11-04T00:00:00Z", yangon)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(export(t, a, JSONL, Options{Since: rfc})), "\n"); n != 2 {
		t.Fatalf("since 4 November: %d lines, want 2", n)
	}
	if _, err := ParseSince("last week", yangon); err == nil {
		t.Fatal("ParseSince accepted \"last week\"")
	}
}
