// Package exchange moves updates in and out of a sitrep store as files: JSON lines that
// carry every field of an update (for import into another store) and CSV with columns
// named after ACLED's (for spreadsheets and conflict-data tools).
//
// A JSON line is a store.Update as the store encodes it, with its external_id filled in:
// the id the update has across stores, which makes import idempotent. The "id" field is
// the update's id in the store it was exported from; importing assigns a new one.
//
// CSV has one row per town an update concerns, as ACLED has one row per event location:
// an update about Hsenwi and Kunlong is two rows with the same id and external_id, and
// an update about no town is one row with an empty location. Count updates by distinct
// id, not by rows.
package exchange

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

// Format is a file format for exported updates.
type Format string

// The export formats.
const (
	JSONL Format = "jsonl" // one store.Update as JSON per line, every field
	CSV   Format = "csv"   // ACLED-style columns, one row per town
)

// ParseFormat returns the format named by s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case JSONL, CSV:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: want jsonl or csv", s)
}

// ParseSince reads a date as YYYY-MM-DD (the start of that day in loc) or as an RFC 3339
// time.
func ParseSince(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD or an RFC 3339 time such as 2023-10-27T06:00:00+06:30", s)
	}
	return t, nil
}

// Options tune an export.
type Options struct {
	// Since, if set, leaves out updates whose event time is before it.
	Since time.Time
	// Location is where CSV event dates are counted; nil means Asia/Yangon, the zone
	// moderators give dates in.
	Location *time.Location
}

// Export writes the store's updates to w in the given format, in id order, and
// returns how many updates it wrote (CSV may have more rows than that).
func Export(ctx context.Context, st *store.Store, w io.Writer, format Format, opts Options) (int, error) {
	switch format {
	case JSONL:
		return WriteJSONL(ctx, st, w, opts)
	case CSV:
		return WriteCSV(ctx, st, w, opts)
	}
	return 0, fmt.Errorf("export: unknown format %q", format)
}

// WriteJSONL writes one update per line as JSON, every field, with its external id.
func WriteJSONL(ctx context.Context, st *store.Store, w io.Writer, opts Options) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := st.EachUpdate(ctx, opts.Since, func(u store.Update) error {
		n++
		return enc.Encode(u)
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("export jsonl: %w", err)
	}
	return n, nil
}

// CSVHeader is the header row of a CSV export. The first columns are ACLED's, with
// ACLED's meaning: event_date (YYYY-MM-DD), actor1 (the claimant, or else the first
// group named), location (town), admin1 (state or region, as "Shan"), admin3
// (township), latitude, longitude, source, notes (the update's text). Then sitrep's
// own: status, claimant, groups (every group named, "; "-separated), status_note,
// source_url, precision (of the event date), posted (RFC 3339), id, external_id.
func CSVHeader() []string {
	return []string{"event_date", "actor1", "location", "admin1", "admin3", "latitude", "longitude", "source", "notes",
		"status", "claimant", "groups", "status_note", "source_url", "precision", "posted", "id", "external_id"}
}

// WriteCSV writes the updates as CSV with CSVHeader's columns, one row per town.
func WriteCSV(ctx context.Context, st *store.Store, w io.Writer, opts Options) (int, error) {
	loc := opts.Location
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation("Asia/Yangon"); err != nil {
			return 0, fmt.Errorf("export csv: %w", err)
		}
	}
	towns, err := st.Towns(ctx)
	if err != nil {
		return 0, fmt.Errorf("export csv: %w", err)
	}
	groups, err := st.Groups(ctx)
	if err != nil {
		return 0, fmt.Errorf("export csv: %w", err)
	}
	townByID := make(map[string]store.Town, len(towns))
	for _, t := range towns {
		townByID[t.ID] = t
	}
	groupName := make(map[string]string, len(groups))
	for _, g := range groups {
		groupName[g.ID] = g.Name
	}
	name := func(id string) string {
		if n, ok := groupName[id]; ok {
			return n
		}
		return id
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader()); err != nil {
		return 0, fmt.Errorf("export csv: %w", err)
	}
	n := 0
	err = st.EachUpdate(ctx, opts.Since, func(u store.Update) error {
		n++
		actor := ""
		switch {
		case u.Claimant != "":
			actor = name(u.Claimant)
		case len(u.Groups) > 0:
			actor = name(u.Groups[0])
		}
		names := make([]string, len(u.Groups))
		for i, g := range u.Groups {
			names[i] = name(g)
		}
		claimant := ""
		if u.Claimant != "" {
			claimant = name(u.Claimant)
		}
		row := func(t store.Town) []string {
			lat, lon := "", ""
			if t.Lat != 0 || t.Lon != 0 {
				lat, lon = strconv.FormatFloat(t.Lat, 'f', -1, 64), strconv.FormatFloat(t.Lon, 'f', -1, 64)
			}
			return []string{u.Happened.In(loc).Format(time.DateOnly), actor, t.Name, admin1(t.Region), t.Township, lat, lon,
				u.Source.Name, u.Text, string(u.Status), claimant, strings.Join(names, "; "), u.Note, u.Source.URL,
				precision(u.Precision), u.Posted.UTC().Format(time.RFC3339), strconv.FormatUint(u.ID, 10), u.ExternalID}
		}
		if len(u.Towns) == 0 {
			return cw.Write(row(store.Town{}))
		}
		for _, id := range u.Towns {
			t, ok := townByID[id]
			if !ok {
				t = store.Town{ID: id, Name: id}
			}
			if err := cw.Write(row(t)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil {
		return n, fmt.Errorf("export csv: %w", err)
	}
	return n, nil
}

// admin1 turns a gazetteer region ("Shan State (North)", "Mandalay Region") into the
// name ACLED uses for the state or region ("Shan", "Mandalay").
func admin1(region string) string {
	region, _, _ = strings.Cut(region, " (")
	region = strings.TrimSuffix(region, " State")
	region = strings.TrimSuffix(region, " Region")
	return strings.TrimSpace(region)
}

// precision names an event time's precision in the CSV: "exact" for the zero value.
func precision(p store.Precision) string {
	if p == store.Exact {
		return "exact"
	}
	return string(p)
}

// Record is one update read from a JSON lines file, with the line it was on.
type Record struct {
	Line   int
	Update store.Update
}

// LineError is a record that could not be read or imported, with its line number.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// ReadJSONL reads every record of a JSON lines file as WriteJSONL writes them. Blank
// lines are skipped. A line that is not one JSON object of an update's fields (unknown
// fields included) is a *LineError. Records are checked against a store only by
// Import.
func ReadJSONL(r io.Reader) ([]Record, error) {
	br := bufio.NewReader(r)
	var out []Record
	for line := 1; ; line++ {
		data, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("line %d: %w", line, err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
			u, derr := decodeLine(trimmed)
			if derr != nil {
				return out, &LineError{Line: line, Err: derr}
			}
			out = append(out, Record{Line: line, Update: u})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
	}
}

// decodeLine decodes one update, refusing unknown fields and anything after it.
func decodeLine(data []byte) (store.Update, error) {
	var u store.Update
	if data[0] != '{' {
		return u, errors.New("bad JSON: not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return u, fmt.Errorf("bad JSON: %w", err)
	}
	if dec.More() {
		return u, errors.New("bad JSON: more than one value on the line")
	}
	return u, nil
}

// Import reads a JSON lines file and imports its updates into st (see
// store.ImportUpdates): every record is checked before anything is written, and the
// first bad one is reported as a *LineError with its line number, with nothing
// written. A dry run checks and counts without writing.
func Import(ctx context.Context, st *store.Store, r io.Reader, dryRun bool) (store.ImportResult, error) {
	records, err := ReadJSONL(r)
	if err != nil {
		return store.ImportResult{}, err
	}
	updates := make([]store.Update, len(records))
	for i, rec := range records {
		updates[i] = rec.Update
	}
	res, err := st.ImportUpdates(ctx, updates, dryRun)
	var ie *store.ImportError
	if errors.As(err, &ie) && ie.Index < len(records) {
		return res, &LineError{Line: records[ie.Index].Line, Err: ie.Err}
	}
	return res, err
}
