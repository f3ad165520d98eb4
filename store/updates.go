package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// MaxTextLen is the longest update text the store accepts, in bytes.
const MaxTextLen = 3000

// Post stores a new update, tagged with every town and group its text mentions, with
// its index entries, its audit entry and one outbox delivery per subscribed chat it
// matches, in one transaction: when Post returns, the update and its deliveries are on
// disk. It also returns how many chats it was queued for.
func (s *Store) Post(ctx context.Context, d Draft) (Update, int, error) {
	u := Update{
		Text:      strings.TrimSpace(d.Text),
		Claimant:  d.Claimant,
		Status:    d.Status,
		Source:    d.Source,
		Happened:  d.Happened,
		Precision: d.Precision,
		Posted:    s.now().UTC(),
		Author:    d.Author,
		Pinned:    Tags{Towns: d.Towns, Groups: d.Groups},
		Control:   d.Control,
	}
	if u.Control != "" && len(u.Pinned.Towns) == 0 {
		return u, 0, fmt.Errorf("post: %w: a change of control needs the town it concerns (town:<name>)", ErrInvalid)
	}
	if u.Status == "" {
		u.Status = Unverified
	}
	if u.Status == Retracted {
		return u, 0, fmt.Errorf("post: %w: a new update cannot be retracted", ErrInvalid)
	}
	if err := checkText(u.Text); err != nil {
		return u, 0, fmt.Errorf("post: %w", err)
	}
	if u.Happened.IsZero() {
		u.Happened, u.Precision = u.Posted, Exact
	}
	towns, groups, err := s.Tag(ctx, u.Text)
	if err != nil {
		return u, 0, fmt.Errorf("post: %w", err)
	}
	mergeTags(&u, towns, groups)
	var alliances []string
	if u.Claimant != "" {
		if alliances, err = s.AlliancesOf(ctx, u.Claimant); err != nil {
			return u, 0, fmt.Errorf("post: %w", err)
		}
	}
	queued := 0
	again := false
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if d.Origin != "" {
			if v := tx.Bucket(bucketOrigins).Get([]byte(d.Origin)); len(v) == 8 {
				prev, err := s.getUpdate(tx, binary.BigEndian.Uint64(v))
				u, again = prev, true
				return err
			}
		}
		if err := checkTags(tx, u); err != nil {
			return err
		}
		b := tx.Bucket(bucketUpdates)
		b.FillPercent = 1 // ids only grow
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		u.ID = seq
		if err := put(b, u64(seq), u); err != nil {
			return err
		}
		if err := writeIndexes(tx, u); err != nil {
			return err
		}
		if d.Origin != "" {
			if err := tx.Bucket(bucketOrigins).Put([]byte(d.Origin), u64(u.ID)); err != nil {
				return err
			}
		}
		if u.Control != "" {
			if err := setControls(tx, u); err != nil {
				return err
			}
		}
		if queued, err = s.fanOut(tx, u, alliances, u.Posted); err != nil {
			return err
		}
		// The update itself is the record of the post; the audit entry says who and when.
		return s.audit(tx, AuditEntry{Actor: u.Author.ID(), Action: "post", Record: updateRecord(u.ID)})
	})
	if u.Control != "" && !again {
		s.forgetCatalog() // towns changed hands
	}
	if err != nil {
		return Update{}, 0, fmt.Errorf("post: %w", err)
	}
	if again {
		return u, 0, fmt.Errorf("post: %w: %s was posted already as update %d", ErrDuplicate, d.Origin, u.ID)
	}
	return u, queued, nil
}

// setControls records, inside a post's transaction, that the update's claimed holder
// now controls each of its pinned towns.
func setControls(tx *bolt.Tx, u Update) error {
	if tx.Bucket(bucketGroups).Get([]byte(u.Control)) == nil {
		return fmt.Errorf("group %q: %w", u.Control, ErrNotFound)
	}
	for _, id := range u.Pinned.Towns {
		var t Town
		ok, err := get(tx.Bucket(bucketTowns), []byte(id), &t)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("town %q: %w", id, ErrNotFound)
		}
		t.Control = &Control{Holder: u.Control, Since: u.Happened, UpdateID: u.ID, SetBy: u.Author, SetAt: u.Posted}
		if err := put(tx.Bucket(bucketTowns), []byte(id), t); err != nil {
			return err
		}
	}
	return nil
}

// mergeTags sets an update's towns and groups from its pinned tags, its claimant and
// the names found in its text.
func mergeTags(u *Update, towns, groups []string) {
	u.Towns, u.Groups = nil, nil
	for _, t := range append(slices.Clone(u.Pinned.Towns), towns...) {
		u.Towns = appendUnique(u.Towns, t)
	}
	if u.Claimant != "" {
		u.Groups = append(u.Groups, u.Claimant)
	}
	for _, g := range append(slices.Clone(u.Pinned.Groups), groups...) {
		u.Groups = appendUnique(u.Groups, g)
	}
}

// checkText refuses empty, oversized or control-character text.
func checkText(text string) error {
	switch {
	case text == "":
		return fmt.Errorf("%w: the text is empty", ErrInvalid)
	case len(text) > MaxTextLen:
		return fmt.Errorf("%w: the text is %d bytes; at most %d", ErrInvalid, len(text), MaxTextLen)
	}
	for _, r := range text {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return fmt.Errorf("%w: the text contains a control character", ErrInvalid)
		}
	}
	return nil
}

// checkTags makes sure every town and group an update names exists.
func checkTags(tx *bolt.Tx, u Update) error {
	for _, t := range u.Towns {
		if tx.Bucket(bucketTowns).Get([]byte(t)) == nil {
			return fmt.Errorf("town %q: %w", t, ErrNotFound)
		}
	}
	for _, g := range u.Groups {
		if tx.Bucket(bucketGroups).Get([]byte(g)) == nil {
			return fmt.Errorf("group %q: %w", g, ErrNotFound)
		}
	}
	return nil
}

// updateRecord names an update in the audit log.
func updateRecord(id uint64) string { return fmt.Sprintf("update/%d", id) }

// writeIndexes adds an update's entries to the time, town, group and claimant indexes.
func writeIndexes(tx *bolt.Tx, u Update) error {
	if err := addStatus(tx, u.Status, 1); err != nil {
		return err
	}
	return eachIndexKey(u, func(bucket, key []byte) error {
		b := tx.Bucket(bucket)
		// Within each id's range keys only grow, so pages can be packed tightly.
		b.FillPercent = 0.9
		return b.Put(key, nil)
	})
}

// deleteIndexes removes an update's index entries.
func deleteIndexes(tx *bolt.Tx, u Update) error {
	if err := addStatus(tx, u.Status, -1); err != nil {
		return err
	}
	return eachIndexKey(u, func(bucket, key []byte) error {
		return tx.Bucket(bucket).Delete(key)
	})
}

// eachIndexKey calls fn with every index entry of u.
func eachIndexKey(u Update, fn func(bucket, key []byte) error) error {
	if err := fn(bucketByTime, timeKey(u.Happened, u.ID)); err != nil {
		return err
	}
	for _, t := range u.Towns {
		if err := fn(bucketByTown, indexKey(t, u.ID)); err != nil {
			return err
		}
	}
	for _, g := range u.Groups {
		if err := fn(bucketByGroup, indexKey(g, u.ID)); err != nil {
			return err
		}
	}
	if u.Claimant != "" {
		return fn(bucketByClaim, indexKey(u.Claimant, u.ID))
	}
	return nil
}

// Get returns the update with the given id. Its slices may be shared with other
// readers: treat them as read-only.
func (s *Store) Get(ctx context.Context, id uint64) (Update, error) {
	var u Update
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		u, err = s.getUpdate(tx, id)
		return err
	})
	return u, err
}

// getUpdate reads one update inside tx, decoding it only when the decoded cache does
// not hold exactly the same stored bytes.
func (s *Store) getUpdate(tx *bolt.Tx, id uint64) (Update, error) {
	raw := tx.Bucket(bucketUpdates).Get(u64(id))
	if raw == nil {
		return Update{}, fmt.Errorf("update %d: %w", id, ErrNotFound)
	}
	if u, ok := s.decoded.get(id, raw); ok {
		return u, nil
	}
	var u Update
	if err := json.Unmarshal(raw, &u); err != nil {
		return u, fmt.Errorf("decode update %d: %w", id, err)
	}
	s.decoded.put(id, raw, u)
	return u, nil
}

// Latest returns the n updates that happened most recently, newest first.
func (s *Store) Latest(ctx context.Context, n int) ([]Update, error) {
	return s.LatestPage(ctx, 0, n)
}

// LatestPage is Latest after skipping the newest skip updates (for "older" pages).
func (s *Store) LatestPage(ctx context.Context, skip, n int) ([]Update, error) {
	var out []Update
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketByTime).Cursor()
		k, _ := c.Last()
		for i := 0; i < skip && k != nil; i++ {
			k, _ = c.Prev()
		}
		for ; k != nil && len(out) < n; k, _ = c.Prev() {
			u, err := s.getUpdate(tx, binary.BigEndian.Uint64(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("latest %d: %w", n, err)
	}
	return out, nil
}

// AboutTown returns the newest n updates tagged with a town, newest posted first.
func (s *Store) AboutTown(ctx context.Context, townID string, n int) ([]Update, error) {
	return s.AboutTownPage(ctx, townID, 0, n)
}

// AboutTownPage is AboutTown after skipping the newest skip updates.
func (s *Store) AboutTownPage(ctx context.Context, townID string, skip, n int) ([]Update, error) {
	out, err := s.newest(ctx, bucketByTown, []string{townID}, skip, n)
	if err != nil {
		return nil, fmt.Errorf("updates about town %s: %w", townID, err)
	}
	return out, nil
}

// AboutGroup returns the newest n updates that name a group or are claimed by it.
func (s *Store) AboutGroup(ctx context.Context, groupID string, n int) ([]Update, error) {
	out, err := s.newest(ctx, bucketByGroup, []string{groupID}, 0, n)
	if err != nil {
		return nil, fmt.Errorf("updates about group %s: %w", groupID, err)
	}
	return out, nil
}

// ClaimsBy returns the newest n updates claimed by any of the given groups, newest
// posted first.
func (s *Store) ClaimsBy(ctx context.Context, groupIDs []string, n int) ([]Update, error) {
	return s.ClaimsByPage(ctx, groupIDs, 0, n)
}

// ClaimsByPage is ClaimsBy after skipping the newest skip claims.
func (s *Store) ClaimsByPage(ctx context.Context, groupIDs []string, skip, n int) ([]Update, error) {
	out, err := s.newest(ctx, bucketByClaim, groupIDs, skip, n)
	if err != nil {
		return nil, fmt.Errorf("claims by %v: %w", groupIDs, err)
	}
	return out, nil
}

// newest merges the index ranges of several ids, newest sequence first, skips the
// first skip entries and reads at most n updates: the work is bounded by skip + n, not
// by the size of the store.
func (s *Store) newest(ctx context.Context, bucket []byte, ids []string, skip, n int) ([]Update, error) {
	var out []Update
	err := s.view(ctx, func(tx *bolt.Tx) error {
		heads := make([]*indexHead, 0, len(ids))
		for _, id := range ids {
			h := &indexHead{c: tx.Bucket(bucket).Cursor(), prefix: append([]byte(id), 0)}
			k, _ := h.c.Seek(indexKey(id, 1<<64-1))
			if k == nil {
				k, _ = h.c.Last()
			} else if !bytes.Equal(k, indexKey(id, 1<<64-1)) {
				k, _ = h.c.Prev()
			}
			h.seq = h.at(k)
			heads = append(heads, h)
		}
		for len(out) < n {
			var best *indexHead
			for _, h := range heads {
				if h.seq != 0 && (best == nil || h.seq > best.seq) {
					best = h
				}
			}
			if best == nil {
				return nil
			}
			if skip > 0 {
				skip--
				k, _ := best.c.Prev()
				best.seq = best.at(k)
				continue
			}
			u, err := s.getUpdate(tx, best.seq)
			if err != nil {
				return err
			}
			out = append(out, u)
			k, _ := best.c.Prev()
			best.seq = best.at(k)
		}
		return nil
	})
	return out, err
}

// indexHead walks one id's range of an index backwards.
type indexHead struct {
	c      *bolt.Cursor
	prefix []byte // id 0x00
	seq    uint64 // the sequence at the cursor; 0 once past the range
}

// at returns the sequence in index key k if k is in the head's range, or 0.
func (h *indexHead) at(k []byte) uint64 {
	if len(k) != len(h.prefix)+8 || !bytes.HasPrefix(k, h.prefix) {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(h.prefix):])
}

// Edit replaces an update's text, re-tags it, and keeps the old text in its history.
// It returns the update as it was and as it is now.
func (s *Store) Edit(ctx context.Context, id uint64, text string, by Author) (before, after Update, err error) {
	text = strings.TrimSpace(text)
	if err := checkText(text); err != nil {
		return before, after, fmt.Errorf("edit update %d: %w", id, err)
	}
	// Tag outside the transaction: the catalog may need a read of its own.
	towns, groups, err := s.Tag(ctx, text)
	if err != nil {
		return before, after, fmt.Errorf("edit update %d: %w", id, err)
	}
	return s.change(ctx, id, "edit", by, func(tx *bolt.Tx, u *Update) error {
		if u.Status == Retracted {
			return fmt.Errorf("%w: update %d is retracted", ErrInvalid, id)
		}
		if u.Text == text {
			return fmt.Errorf("%w: the text is unchanged", ErrInvalid)
		}
		u.Text = text
		mergeTags(u, towns, groups)
		return checkTags(tx, *u)
	})
}

// SetStatus changes an update's verification status, with a note saying why (required
// for a retraction), and keeps the old status in its history.
func (s *Store) SetStatus(ctx context.Context, id uint64, status Status, note string, by Author) (before, after Update, err error) {
	note = strings.TrimSpace(note)
	if _, err := ParseStatus(string(status)); err != nil {
		return before, after, fmt.Errorf("set status of update %d: %w", id, err)
	}
	if status == Retracted && note == "" {
		return before, after, fmt.Errorf("set status of update %d: %w: a retraction needs a reason", id, ErrInvalid)
	}
	if len(note) > MaxTextLen {
		return before, after, fmt.Errorf("set status of update %d: %w: the note is too long", id, ErrInvalid)
	}
	action := "verify"
	if status == Retracted {
		action = "retract"
	}
	return s.change(ctx, id, action, by, func(_ *bolt.Tx, u *Update) error {
		if u.Status == status && u.Note == note {
			return fmt.Errorf("%w: update %d is already %s", ErrInvalid, id, status)
		}
		u.Status, u.Note = status, note
		return nil
	})
}

// change applies one moderator change to an update in a single transaction: it keeps
// the old state in History, rewrites the index entries, queues a correction for every
// chat that was sent the update, and audits the change.
func (s *Store) change(ctx context.Context, id uint64, action string, by Author, apply func(*bolt.Tx, *Update) error) (before, after Update, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		u, err := s.getUpdate(tx, id)
		if err != nil {
			return err
		}
		before = u
		after = u
		after.History = append(slices.Clone(u.History), Revision{At: s.now().UTC(), By: by, Text: u.Text, Status: u.Status, Note: u.Note})
		if err := apply(tx, &after); err != nil {
			return err
		}
		if err := deleteIndexes(tx, before); err != nil {
			return err
		}
		if err := writeIndexes(tx, after); err != nil {
			return err
		}
		if err := put(tx.Bucket(bucketUpdates), u64(id), after); err != nil {
			return err
		}
		if _, err := enqueueCorrections(tx, id, s.now().UTC()); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: action, Record: updateRecord(id), Before: jsonText(stateOf(before)), After: jsonText(stateOf(after))})
	})
	if err != nil {
		return before, after, fmt.Errorf("%s update %d: %w", action, id, err)
	}
	return before, after, nil
}

// state is the part of an update a moderator changes, as the audit log records it
// (the full earlier versions are in the update's History).
type state struct {
	Text   string   `json:"text"`
	Status Status   `json:"status"`
	Note   string   `json:"note,omitempty"`
	Towns  []string `json:"towns,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// stateOf extracts an update's changeable state.
func stateOf(u Update) state {
	return state{Text: u.Text, Status: u.Status, Note: u.Note, Towns: u.Towns, Groups: u.Groups}
}

// SetControl records who holds a town, optionally citing the update that reports it;
// the holder is then held since that update's event time.
func (s *Store) SetControl(ctx context.Context, townID, holder string, updateID uint64, by Author) (Town, error) {
	var t Town
	err := s.update(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bucketTowns), []byte(townID), &t)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("town %q: %w", townID, ErrNotFound)
		}
		if tx.Bucket(bucketGroups).Get([]byte(holder)) == nil {
			return fmt.Errorf("group %q: %w", holder, ErrNotFound)
		}
		now := s.now().UTC()
		c := &Control{Holder: holder, Since: now, UpdateID: updateID, SetBy: by, SetAt: now}
		if updateID != 0 {
			u, err := s.getUpdate(tx, updateID)
			if err != nil {
				return err
			}
			c.Since = u.Happened
		}
		before := jsonText(t.Control)
		t.Control = c
		if err := put(tx.Bucket(bucketTowns), []byte(townID), t); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: "control", Record: "town/" + townID, Before: before, After: jsonText(c)})
	})
	s.forgetCatalog() // the catalog holds towns with their control
	if err != nil {
		return t, fmt.Errorf("set control of %s: %w", townID, err)
	}
	return t, nil
}

// Import writes updates exactly as given (ids included), with their index entries, in
// one transaction, skipping ids the store already has. It is for restoring exports and
// loading test data; it does not audit each update.
func (s *Store) Import(ctx context.Context, updates []Update) (added int, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUpdates)
		b.FillPercent = 1
		for _, u := range updates {
			if u.ID == 0 {
				return fmt.Errorf("%w: update without id", ErrInvalid)
			}
			if b.Get(u64(u.ID)) != nil {
				continue
			}
			if err := put(b, u64(u.ID), u); err != nil {
				return err
			}
			if err := writeIndexes(tx, u); err != nil {
				return err
			}
			if u.ID > b.Sequence() {
				if err := b.SetSequence(u.ID); err != nil {
					return err
				}
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import %d updates: %w", len(updates), err)
	}
	return added, nil
}

// ImportError is an update of an import batch that the store refused; Index is its
// position in the batch, from 0.
type ImportError struct {
	Index int
	Err   error
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("update %d of the batch: %v", e.Index+1, e.Err)
}

// Unwrap returns the reason.
func (e *ImportError) Unwrap() error { return e.Err }

// ImportResult is what an import did or, for a dry run, would do.
type ImportResult struct {
	Added   int      // updates written (or that would be)
	Present int      // updates the store already had, by external id
	IDs     []uint64 // the local ids given to the added updates, in batch order (none for a dry run)
}

// importActor is who the audit log names for an import.
const importActor = "system:import"

// ImportUpdates adds updates exported from another store (or from this one), each
// identified by its ExternalID: an update whose external id the store already knows
// (an earlier import of it, or one of the store's own updates) is counted as present
// and left alone, so importing the same export again adds nothing. The store assigns
// the local ids (Update.ID is ignored) and keeps each update's external id. Every update
// is validated first (text, status, precision, times, author, and every town and group
// it names must be in this store's gazetteer); if any is refused, the error is an
// *ImportError naming it and nothing is written. Imported updates are history: nothing
// is queued for subscribers. An update that changed a town's control sets it again
// unless the store knows of a later change. All of it is one transaction; a dry run
// validates and counts without writing.
func (s *Store) ImportUpdates(ctx context.Context, updates []Update, dryRun bool) (ImportResult, error) {
	identity, err := s.identity(ctx)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	var res ImportResult
	controls := false
	plan := func(tx *bolt.Tx) ([]bool, error) {
		res = ImportResult{}
		fresh := make([]bool, len(updates))
		seen := make(map[string]int, len(updates))
		for i, u := range updates {
			if first, ok := seen[u.ExternalID]; ok && u.ExternalID != "" {
				return nil, &ImportError{Index: i, Err: fmt.Errorf("%w: external id %q repeats update %d of the batch", ErrInvalid, u.ExternalID, first+1)}
			}
			seen[u.ExternalID] = i
			if err := validImport(tx, u); err != nil {
				return nil, &ImportError{Index: i, Err: err}
			}
			if knownExternal(tx, identity, u.ExternalID) {
				res.Present++
				continue
			}
			fresh[i] = true
			res.Added++
		}
		return fresh, nil
	}
	if dryRun {
		err = s.view(ctx, func(tx *bolt.Tx) error {
			_, err := plan(tx)
			return err
		})
	} else {
		err = s.update(ctx, func(tx *bolt.Tx) error {
			fresh, err := plan(tx)
			if err != nil || res.Added == 0 {
				return err
			}
			b := tx.Bucket(bucketUpdates)
			b.FillPercent = 1
			ext, err := tx.CreateBucketIfNotExists(bucketExternal)
			if err != nil {
				return err
			}
			for i, u := range updates {
				if !fresh[i] {
					continue
				}
				if u.ID, err = b.NextSequence(); err != nil {
					return err
				}
				if err := put(b, u64(u.ID), u); err != nil {
					return err
				}
				if err := writeIndexes(tx, u); err != nil {
					return err
				}
				if err := ext.Put([]byte(u.ExternalID), u64(u.ID)); err != nil {
					return err
				}
				if u.Control != "" {
					changed, err := importControl(tx, u)
					if err != nil {
						return &ImportError{Index: i, Err: err}
					}
					controls = controls || changed
				}
				res.IDs = append(res.IDs, u.ID)
			}
			return s.audit(tx, AuditEntry{Actor: importActor, Action: "import", Record: "updates",
				Note: fmt.Sprintf("%d updates imported (%d already present), ids %d–%d", res.Added, res.Present, res.IDs[0], res.IDs[len(res.IDs)-1])})
		})
	}
	if controls {
		s.forgetCatalog() // towns changed hands
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import %d updates: %w", len(updates), err)
	}
	return res, nil
}

// knownExternal reports whether the store has the update an external id names: one it
// imported, or one of its own.
func knownExternal(tx *bolt.Tx, identity, external string) bool {
	if ext := tx.Bucket(bucketExternal); ext != nil && ext.Get([]byte(external)) != nil {
		return true
	}
	id := ownUpdate(identity, external)
	if id == 0 {
		return false
	}
	var u struct {
		ExternalID string `json:"external_id"`
	}
	raw := tx.Bucket(bucketUpdates).Get(u64(id))
	return raw != nil && json.Unmarshal(raw, &u) == nil && u.ExternalID == ""
}

// validImport checks an update to import against the rules posts follow and against
// the store's gazetteer.
func validImport(tx *bolt.Tx, u Update) error {
	if u.ExternalID == "" {
		return fmt.Errorf("%w: no external_id", ErrInvalid)
	}
	if err := checkText(u.Text); err != nil {
		return err
	}
	if !slices.Contains(Statuses(), u.Status) {
		return fmt.Errorf("%w: unknown status %q", ErrInvalid, u.Status)
	}
	if !slices.Contains([]Precision{Exact, Day, Month, Approximate}, u.Precision) {
		return fmt.Errorf("%w: unknown precision %q", ErrInvalid, u.Precision)
	}
	switch {
	case u.Happened.IsZero():
		return fmt.Errorf("%w: no happened time", ErrInvalid)
	case u.Posted.IsZero():
		return fmt.Errorf("%w: no posted time", ErrInvalid)
	case u.Author.Platform == "" || u.Author.UserID == "":
		return fmt.Errorf("%w: no author (platform and user_id)", ErrInvalid)
	case len(u.Note) > MaxTextLen:
		return fmt.Errorf("%w: the note is too long", ErrInvalid)
	}
	for i, r := range u.History {
		if r.At.IsZero() {
			return fmt.Errorf("%w: history entry %d has no time", ErrInvalid, i+1)
		}
		if !slices.Contains(Statuses(), r.Status) {
			return fmt.Errorf("%w: history entry %d: unknown status %q", ErrInvalid, i+1, r.Status)
		}
	}
	if err := checkTags(tx, u); err != nil {
		return err
	}
	if err := checkTags(tx, Update{Towns: u.Pinned.Towns, Groups: u.Pinned.Groups}); err != nil {
		return err
	}
	for _, g := range []string{u.Claimant, u.Control} {
		if g != "" && tx.Bucket(bucketGroups).Get([]byte(g)) == nil {
			return fmt.Errorf("group %q: %w", g, ErrNotFound)
		}
	}
	return nil
}

// importControl sets the control of an imported update's pinned towns, unless a town's
// control was last set for a later time. It reports whether it changed any.
func importControl(tx *bolt.Tx, u Update) (bool, error) {
	changed := false
	for _, id := range u.Pinned.Towns {
		var t Town
		ok, err := get(tx.Bucket(bucketTowns), []byte(id), &t)
		if err != nil {
			return changed, err
		}
		if !ok {
			return changed, fmt.Errorf("town %q: %w", id, ErrNotFound)
		}
		if t.Control != nil && t.Control.Since.After(u.Happened) {
			continue
		}
		t.Control = &Control{Holder: u.Control, Since: u.Happened, UpdateID: u.ID, SetBy: u.Author, SetAt: u.Posted}
		if err := put(tx.Bucket(bucketTowns), []byte(id), t); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// Count returns how many updates the store holds (ids are never reused or deleted).
func (s *Store) Count(ctx context.Context) (uint64, error) {
	var n uint64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketUpdates).Sequence()
		return nil
	})
	return n, err
}
