package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// maxProblems bounds how many problems a check lists; the count goes on.
const maxProblems = 1000

// CheckReport is what Check found: how much the store holds and what is wrong with it.
type CheckReport struct {
	Schema        uint64
	Updates       int
	Imported      int // updates that came from another store (with an external id)
	Towns         int
	Groups        int
	Subscriptions int
	Moderators    int
	Deliveries    int
	Pending       int // deliveries waiting to be sent
	AuditEntries  int
	// Problems describes each inconsistency found, at most maxProblems of them;
	// ProblemCount counts them all.
	Problems     []string
	ProblemCount int
}

// OK reports whether the check found nothing wrong.
func (r CheckReport) OK() bool { return r.ProblemCount == 0 }

// Summary is the report's counts in one line.
func (r CheckReport) Summary() string {
	return fmt.Sprintf("%d updates (%d imported), %d towns, %d groups, %d subscriptions, %d moderators, %d deliveries (%d pending), %d audit entries, schema %d",
		r.Updates, r.Imported, r.Towns, r.Groups, r.Subscriptions, r.Moderators, r.Deliveries, r.Pending, r.AuditEntries, r.Schema)
}

func (r *CheckReport) problem(format string, args ...any) {
	r.ProblemCount++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Check verifies the store in one read transaction, writing nothing: bbolt's own
// page-level check, then sitrep's invariants: a known schema version and every
// bucket; every update decodes under its own id, below the id sequence; every update
// has its time, town, group and claimant index entries and every index entry belongs
// to an update; origin and external-id entries point at existing updates; every
// subscription has its filter index entry and back; every delivery decodes, belongs to
// an update, and is in the due index exactly when it is pending; town control names
// known groups. Problems go in the report; the error is for a store that could not be
// read at all.
func (s *Store) Check(ctx context.Context) (r CheckReport, err error) {
	defer func() {
		// bbolt panics on a page it cannot make sense of; that is a finding here.
		if p := recover(); p != nil {
			r.problem("the store is damaged: reading it failed: %v", p)
			err = nil
		}
	}()
	err = s.view(ctx, func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			r.problem("bbolt: %v", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		missing := false
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				r.problem("bucket %s is missing", name)
				missing = true
			}
		}
		if missing {
			return nil // the rest would only trip over the missing buckets
		}
		checkMeta(tx, &r)
		updates := checkUpdates(tx, &r)
		if err := ctx.Err(); err != nil {
			return err
		}
		checkIndexes(tx, &r, updates)
		checkStatusCounts(tx, &r, updates)
		checkGazetteer(tx, &r)
		checkSubscriptions(tx, &r)
		checkOutbox(tx, &r, updates)
		r.Moderators = tx.Bucket(bucketMods).Stats().KeyN
		r.AuditEntries = tx.Bucket(bucketAudit).Stats().KeyN
		return ctx.Err()
	})
	if err != nil {
		return r, fmt.Errorf("check %s: %w", s.path, err)
	}
	return r, nil
}

// checkMeta checks the schema version and the store identity.
func checkMeta(tx *bolt.Tx, r *CheckReport) {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(keySchema); len(v) != 8 {
		r.problem("meta: no schema version")
	} else if r.Schema = binary.BigEndian.Uint64(v); r.Schema != schemaVersion {
		r.problem("meta: schema %d, this binary knows %d", r.Schema, schemaVersion)
	}
	if id := meta.Get(keyIdentity); id != nil && !validIdentity(id) {
		r.problem("meta: identity %q is not a store identity", id)
	}
}

// validIdentity reports whether id looks like what Identity makes: 26 characters of
// the base32 alphabet.
func validIdentity(id []byte) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// updateInfo is what the later checks need of an update.
type updateInfo struct {
	external string // the external id it was imported with
	status   Status
}

// checkUpdates decodes every update and returns them by id.
func checkUpdates(tx *bolt.Tx, r *CheckReport) map[uint64]updateInfo {
	b := tx.Bucket(bucketUpdates)
	out := make(map[uint64]updateInfo, b.Stats().KeyN)
	_ = b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			r.problem("updates: key %x is not an id", k)
			return nil
		}
		id := binary.BigEndian.Uint64(k)
		var u Update
		if err := json.Unmarshal(v, &u); err != nil {
			r.problem("update %d: does not decode: %v", id, err)
			return nil
		}
		if u.ID != id {
			r.problem("update %d: stored under id %d", u.ID, id)
		}
		if id > b.Sequence() {
			r.problem("update %d: above the id sequence %d", id, b.Sequence())
		}
		if _, err := ParseStatus(string(u.Status)); err != nil {
			r.problem("update %d: %v", id, err)
		}
		r.Updates++
		if u.ExternalID != "" {
			r.Imported++
		}
		out[id] = updateInfo{external: u.ExternalID, status: u.Status}
		return nil
	})
	return out
}

// checkIndexes compares the time, town, group and claimant indexes, the origin index
// and the external-id index with the updates.
func checkIndexes(tx *bolt.Tx, r *CheckReport, updates map[uint64]updateInfo) {
	want := map[string]map[string]uint64{} // bucket → key → update id
	for _, name := range [][]byte{bucketByTime, bucketByTown, bucketByGroup, bucketByClaim} {
		want[string(name)] = map[string]uint64{}
	}
	_ = tx.Bucket(bucketUpdates).ForEach(func(k, v []byte) error {
		var u Update
		if len(k) != 8 || json.Unmarshal(v, &u) != nil || u.ID != binary.BigEndian.Uint64(k) {
			return nil // reported by checkUpdates
		}
		return eachIndexKey(u, func(bucket, key []byte) error {
			want[string(bucket)][string(key)] = u.ID
			return nil
		})
	})
	for _, name := range [][]byte{bucketByTime, bucketByTown, bucketByGroup, bucketByClaim} {
		expected := want[string(name)]
		_ = tx.Bucket(name).ForEach(func(k, _ []byte) error {
			if _, ok := expected[string(k)]; ok {
				delete(expected, string(k))
				return nil
			}
			if len(k) < 8 {
				r.problem("%s: entry %q is too short", name, k)
				return nil
			}
			id := binary.BigEndian.Uint64(k[len(k)-8:])
			if _, ok := updates[id]; !ok {
				r.problem("%s: entry %s points at update %d, which does not exist", name, indexKeyString(name, k), id)
			} else {
				r.problem("%s: entry %s does not match update %d", name, indexKeyString(name, k), id)
			}
			return nil
		})
		keys := make([]string, 0, len(expected))
		for k := range expected {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			r.problem("%s: update %d has no entry %s", name, expected[k], indexKeyString(name, []byte(k)))
		}
	}
	_ = tx.Bucket(bucketOrigins).ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			r.problem("%s: entry %q holds %d bytes, not an update id", bucketOrigins, k, len(v))
		} else if id := binary.BigEndian.Uint64(v); !hasUpdate(updates, id) {
			r.problem("%s: entry %q points at update %d, which does not exist", bucketOrigins, k, id)
		}
		return nil
	})
	indexed := map[uint64]bool{}
	if ext := tx.Bucket(bucketExternal); ext != nil {
		_ = ext.ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				r.problem("%s: entry %q holds %d bytes, not an update id", bucketExternal, k, len(v))
				return nil
			}
			id := binary.BigEndian.Uint64(v)
			switch u, ok := updates[id]; {
			case !ok:
				r.problem("%s: entry %q points at update %d, which does not exist", bucketExternal, k, id)
			case u.external != string(k):
				r.problem("%s: entry %q points at update %d, whose external id is %q", bucketExternal, k, id, u.external)
			default:
				indexed[id] = true
			}
			return nil
		})
	}
	ids := make([]uint64, 0)
	for id, u := range updates {
		if u.external != "" && !indexed[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		r.problem("%s: update %d has no entry for its external id %q", bucketExternal, id, updates[id].external)
	}
}

// checkStatusCounts compares the counts of updates by status with the updates.
func checkStatusCounts(tx *bolt.Tx, r *CheckReport, updates map[uint64]updateInfo) {
	n := map[Status]uint64{}
	for _, u := range updates {
		n[u.status]++
	}
	counters := tx.Bucket(bucketCounters)
	for _, st := range Statuses() {
		var stored uint64
		if v := counters.Get(statusCounter(st)); len(v) == 8 {
			stored = binary.BigEndian.Uint64(v)
		}
		if stored != n[st] {
			r.problem("%s: %d updates counted %s, the store holds %d", bucketCounters, stored, st, n[st])
		}
	}
}

// hasUpdate reports whether the store holds update id.
func hasUpdate(updates map[uint64]updateInfo, id uint64) bool {
	_, ok := updates[id]
	return ok
}

// indexKeyString renders an index key for a person: "hsenwi/12" or "time 1698364800/12".
func indexKeyString(bucket, k []byte) string {
	if len(k) < 8 {
		return fmt.Sprintf("%q", k)
	}
	seq := binary.BigEndian.Uint64(k[len(k)-8:])
	if bytes.Equal(bucket, bucketByTime) {
		if len(k) != 16 {
			return fmt.Sprintf("%x", k)
		}
		return fmt.Sprintf("time %d/%d", int64(binary.BigEndian.Uint64(k)^(1<<63)), seq)
	}
	return fmt.Sprintf("%s/%d", strings.TrimSuffix(string(k[:len(k)-8]), "\x00"), seq)
}

// checkGazetteer counts towns and groups and checks that control holders, alliance
// members and names point at records that exist.
func checkGazetteer(tx *bolt.Tx, r *CheckReport) {
	groups := tx.Bucket(bucketGroups)
	towns := tx.Bucket(bucketTowns)
	_ = towns.ForEach(func(k, v []byte) error {
		r.Towns++
		var t Town
		if err := json.Unmarshal(v, &t); err != nil {
			r.problem("town %q: does not decode: %v", k, err)
			return nil
		}
		if t.Control != nil && groups.Get([]byte(t.Control.Holder)) == nil {
			r.problem("town %q: held by unknown group %q", k, t.Control.Holder)
		}
		return nil
	})
	_ = groups.ForEach(func(k, v []byte) error {
		r.Groups++
		var g Group
		if err := json.Unmarshal(v, &g); err != nil {
			r.problem("group %q: does not decode: %v", k, err)
			return nil
		}
		for _, m := range g.Members {
			if groups.Get([]byte(m)) == nil {
				r.problem("group %q: member %q does not exist", k, m)
			}
		}
		return nil
	})
	_ = tx.Bucket(bucketNames).ForEach(func(k, v []byte) error {
		var ref nameRef
		if err := json.Unmarshal(v, &ref); err != nil {
			r.problem("name %q: does not decode: %v", k, err)
			return nil
		}
		b := towns
		if ref.Kind == KindGroup {
			b = groups
		}
		if b.Get([]byte(ref.ID)) == nil {
			r.problem("name %q: points at %s %q, which does not exist", k, ref.Kind, ref.ID)
		}
		return nil
	})
}

// checkSubscriptions compares subscriptions with their filter index.
func checkSubscriptions(tx *bolt.Tx, r *CheckReport) {
	want := map[string][]byte{}
	_ = tx.Bucket(bucketSubs).ForEach(func(k, v []byte) error {
		r.Subscriptions++
		var sub Subscription
		if err := json.Unmarshal(v, &sub); err != nil {
			r.problem("subscription %q: does not decode: %v", k, err)
			return nil
		}
		if !bytes.Equal(k, subKey(sub.Chat, sub.Filter)) {
			r.problem("subscription %q: stored under the wrong key", k)
		}
		want[string(subFilterKey(sub.Filter, sub.Chat))] = subIndexValue(sub)
		return nil
	})
	_ = tx.Bucket(bucketSubsByFilter).ForEach(func(k, v []byte) error {
		w, ok := want[string(k)]
		switch {
		case !ok:
			r.problem("%s: entry %q has no subscription", bucketSubsByFilter, k)
		case !bytes.Equal(w, v):
			r.problem("%s: entry %q says %q, the subscription %q", bucketSubsByFilter, k, v, w)
		}
		delete(want, string(k))
		return nil
	})
	for _, k := range slices.Sorted(maps.Keys(want)) {
		r.problem("%s: subscription %q has no entry", bucketSubsByFilter, k)
	}
}

// checkOutbox checks every delivery against its update and the due index.
func checkOutbox(tx *bolt.Tx, r *CheckReport, updates map[uint64]updateInfo) {
	want := map[string]uint64{} // due key → update id, for pending deliveries
	outbox := tx.Bucket(bucketOutbox)
	_ = outbox.ForEach(func(k, v []byte) error {
		r.Deliveries++
		if len(k) != 16 {
			r.problem("%s: key %x is not update id and sequence", bucketOutbox, k)
			return nil
		}
		update, seq := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])
		d, err := decodeDelivery(update, seq, v)
		if err != nil {
			r.problem("delivery %d of update %d: does not decode: %v", seq, update, err)
			return nil
		}
		if !hasUpdate(updates, update) {
			r.problem("delivery %d: its update %d does not exist", seq, update)
		}
		if seq > outbox.Sequence() {
			r.problem("delivery %d: above the delivery sequence %d", seq, outbox.Sequence())
		}
		if d.State == Pending {
			r.Pending++
			want[string(dueKey(d.Chat.Platform, d.NextAttempt, seq))] = update
		}
		return nil
	})
	_ = tx.Bucket(bucketDue).ForEach(func(k, v []byte) error {
		update, ok := want[string(k)]
		switch {
		case ok && len(v) == 8 && binary.BigEndian.Uint64(v) == update:
		case ok:
			r.problem("%s: entry %s names update %x, the delivery's is %d", bucketDue, dueKeyString(k), v, update)
		default:
			r.problem("%s: entry %s has no pending delivery", bucketDue, dueKeyString(k))
		}
		delete(want, string(k))
		return nil
	})
	for _, k := range slices.Sorted(maps.Keys(want)) {
		r.problem("%s: pending delivery has no entry %s", bucketDue, dueKeyString([]byte(k)))
	}
}

// dueKeyString renders a due index key for a person: "telegram delivery 7".
func dueKeyString(k []byte) string {
	if len(k) < 17 {
		return fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf("%s delivery %d", k[:len(k)-17], binary.BigEndian.Uint64(k[len(k)-8:]))
}
