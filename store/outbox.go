package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DeliveryKind says what a delivery carries.
type DeliveryKind string

// The kinds of delivery.
const (
	PostDelivery       DeliveryKind = "post"       // an update, sent as a new message
	CorrectionDelivery DeliveryKind = "correction" // an update's new state, edited into (or replied to) a sent message
)

// DeliveryState is where a delivery is in its life.
type DeliveryState string

// The states of a delivery.
const (
	Pending DeliveryState = "pending" // waiting to be sent, possibly after a retry time
	Sent    DeliveryState = "sent"    // the platform accepted it
	Failed  DeliveryState = "failed"  // parked: it will not be tried again; LastError says why
)

// Delivery is one update (or one correction of it) to one chat: an outbox entry.
type Delivery struct {
	ID          uint64        `json:"id"`
	Kind        DeliveryKind  `json:"kind"`
	UpdateID    uint64        `json:"update"`
	Chat        Chat          `json:"chat"`
	ChatKind    string        `json:"chat_kind,omitempty"`
	Filters     []string      `json:"filters,omitempty"` // the subscription filters that matched
	Silent      bool          `json:"silent,omitempty"`
	Digest      bool          `json:"digest,omitempty"` // goes out in the chat's daily digest (and is corrected by reply)
	State       DeliveryState `json:"state"`
	Attempts    int           `json:"attempts,omitempty"`
	NextAttempt time.Time     `json:"next"`
	LastError   string        `json:"error,omitempty"`
	// Ref is the platform's id of the sent message: for a post, set when it is sent;
	// for a correction, the message to correct.
	Ref     string    `json:"ref,omitempty"`
	Created time.Time `json:"created"`
	Done    time.Time `json:"done,omitzero"`
}

// systemActor is who the audit log names for the dispatcher's own changes.
const systemActor = "system:delivery"

// subFilterKey is "filter 0 platform 0 chat": a filter's subscribers are one range.
func subFilterKey(f Filter, c Chat) []byte {
	return []byte(f.String() + "\x00" + c.Platform + "\x00" + c.ID)
}

// subIndexValue is what fan-out needs of a subscription without decoding it: the
// chat kind, then "q" if it is quiet and "dHH" if it takes a daily digest at HH.
func subIndexValue(sub Subscription) []byte {
	v := sub.ChatKind + "|"
	if sub.Quiet {
		v += "q"
	}
	if sub.Digest {
		v += fmt.Sprintf("d%02d", sub.DigestHour)
	}
	return []byte(v)
}

// subFlags reads the quiet and digest flags of a subscription index value; hour is -1
// when the subscription takes every update as it comes.
func subFlags(v []byte) (quiet bool, hour int) {
	_, flags, _ := bytes.Cut(v, []byte("|"))
	quiet, hour = bytes.IndexByte(flags, 'q') >= 0, -1
	if i := bytes.IndexByte(flags, 'd'); i >= 0 && i+3 <= len(flags) {
		hour = int(flags[i+1]-'0')*10 + int(flags[i+2]-'0')
	}
	return quiet, hour
}

// nextDigest is the next time at hour:00 in loc after now.
func nextDigest(now time.Time, hour int, loc *time.Location) time.Time {
	l := now.In(loc)
	t := time.Date(l.Year(), l.Month(), l.Day(), hour, 0, 0, 0, loc)
	if !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t.UTC()
}

// dueKey is "platform 0 time seq", so due deliveries of a platform sort by when they
// are due and then by post order.
func dueKey(platform string, at time.Time, seq uint64) []byte {
	k := make([]byte, 0, len(platform)+17)
	k = append(append(k, platform...), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	return binary.BigEndian.AppendUint64(k, seq)
}

// outboxKey is "update id, delivery seq": an update's deliveries are one range, and
// later posts sort after earlier ones.
func outboxKey(update, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, update)
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// migrateOutbox creates the delivery buckets and indexes existing subscriptions by
// filter (schema 1 → 2).
func migrateOutbox(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketSubsByFilter, bucketOutbox, bucketDue, bucketCounters} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	idx := tx.Bucket(bucketSubsByFilter)
	return tx.Bucket(bucketSubs).ForEach(func(k, v []byte) error {
		var sub Subscription
		if err := json.Unmarshal(v, &sub); err != nil {
			return fmt.Errorf("decode subscription %q: %w", k, err)
		}
		return idx.Put(subFilterKey(sub.Filter, sub.Chat), subIndexValue(sub))
	})
}

// fanOut writes one delivery per chat whose subscriptions match the update: filter
// "all", a town it is tagged with, a group it names or that claims it, or an alliance
// the claimant belongs to. A chat gets one delivery however many of its filters match;
// it is silent only if every matching subscription is quiet and the update does not
// change a town's control, and it waits for the chat's daily digest only if every
// matching subscription takes a digest.
func (s *Store) fanOut(tx *bolt.Tx, u Update, alliances []string, now time.Time) (int, error) {
	filters := []Filter{{Kind: AllUpdates}}
	for _, t := range u.Towns {
		filters = append(filters, Filter{Kind: TownFilter, ID: t})
	}
	for _, g := range append(append([]string(nil), u.Groups...), alliances...) {
		filters = append(filters, Filter{Kind: GroupFilter, ID: g})
	}
	// Collect slim targets first: a fan-out can reach tens of thousands of chats.
	type target struct {
		platform, chat, kind string
		filters              []string
		silent               bool
		digestHour           int // -1: send at once
	}
	var out []target
	byChat := map[string]int{} // platform 0 chat → index in out
	c := tx.Bucket(bucketSubsByFilter).Cursor()
	for _, f := range filters {
		fs := f.String()
		only := []string{fs} // shared by the chats this filter matches first; appends copy
		prefix := []byte(fs + "\x00")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			quiet, hour := subFlags(v)
			if i, ok := byChat[string(k[len(prefix):])]; ok { // no allocation for the lookup
				t := &out[i]
				t.filters = appendUnique(t.filters, fs)
				t.silent = t.silent && quiet
				if hour < 0 || t.digestHour < 0 {
					t.digestHour = -1
				}
				continue
			}
			key := string(k[len(prefix):])
			platform, chatID, ok := strings.Cut(key, "\x00")
			if !ok {
				return 0, fmt.Errorf("bad subscription index key %q", k)
			}
			byChat[key] = len(out)
			out = append(out, target{platform: platform, chat: chatID, kind: chatKind(v), filters: only[:1:1], silent: quiet, digestHour: hour})
		}
	}
	ds := make([]Delivery, len(out))
	for i, t := range out {
		ds[i] = Delivery{Kind: PostDelivery, UpdateID: u.ID, Chat: Chat{Platform: t.platform, ID: t.chat}, ChatKind: t.kind,
			Filters: t.filters, Silent: t.silent && u.Control == "", State: Pending, NextAttempt: now, Created: now}
		if t.digestHour >= 0 {
			ds[i].Digest, ds[i].NextAttempt = true, nextDigest(now, t.digestHour, s.loc)
		}
	}
	if err := addDeliveries(tx, ds); err != nil {
		return 0, err
	}
	return len(out), nil
}

// chatKind reads the chat kind from a subscription index value without allocating for
// the usual kinds.
func chatKind(v []byte) string {
	kind, _, _ := bytes.Cut(v, []byte("|"))
	for _, k := range []string{"group", "private", "channel", ""} {
		if string(kind) == k {
			return k
		}
	}
	return string(kind)
}

// addDelivery assigns a delivery its id and writes it with its due index entry.
func addDelivery(tx *bolt.Tx, d *Delivery) error {
	ds := []Delivery{*d}
	err := addDeliveries(tx, ds)
	d.ID = ds[0].ID
	return err
}

// addDeliveries assigns deliveries their ids and writes them, then their due index
// entries: one bucket at a time, in key order, which is what bbolt writes fastest.
// Keys and values are cut from one buffer (bbolt keeps them until the commit), which
// spares a fan-out to thousands of chats most of its allocations.
func addDeliveries(tx *bolt.Tx, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	b := tx.Bucket(bucketOutbox)
	b.FillPercent = 0.95 // keys mostly grow: a fan-out appends
	arena := make([]byte, 0, len(ds)*(160+len(ds[0].Chat.Platform)+len(ds[0].Chat.ID)))
	cut := func(start int) []byte { return arena[start:len(arena):len(arena)] }
	for i := range ds {
		d := &ds[i]
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		d.ID = seq
		start := len(arena)
		arena = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(arena, d.UpdateID), seq)
		key := cut(start)
		start = len(arena)
		arena = appendDelivery(arena, d)
		if err := b.Put(key, cut(start)); err != nil {
			return err
		}
	}
	due := tx.Bucket(bucketDue)
	due.FillPercent = 0.9
	for i := range ds {
		d := &ds[i]
		start := len(arena)
		arena = append(append(arena, d.Chat.Platform...), 0)
		arena = binary.BigEndian.AppendUint64(arena, uint64(d.NextAttempt.UnixNano()))
		arena = binary.BigEndian.AppendUint64(arena, d.ID)
		key := cut(start)
		start = len(arena)
		arena = binary.BigEndian.AppendUint64(arena, d.UpdateID)
		if err := due.Put(key, cut(start)); err != nil {
			return err
		}
	}
	return nil
}

// getDelivery reads one delivery.
func getDelivery(tx *bolt.Tx, update, seq uint64) (Delivery, error) {
	v := tx.Bucket(bucketOutbox).Get(outboxKey(update, seq))
	if v == nil {
		return Delivery{}, fmt.Errorf("delivery %d of update %d: %w", seq, update, ErrNotFound)
	}
	return decodeDelivery(update, seq, v)
}

// putDelivery rewrites a delivery.
func putDelivery(tx *bolt.Tx, d *Delivery) error {
	return tx.Bucket(bucketOutbox).Put(outboxKey(d.UpdateID, d.ID), encodeDelivery(d))
}

// enqueueCorrections adds a correction for every chat that was sent the update and has
// no correction waiting already (a waiting one will render the newest state anyway).
func enqueueCorrections(tx *bolt.Tx, updateID uint64, now time.Time) (int, error) {
	sent := map[string]Delivery{}
	var order []string
	waiting := map[string]bool{}
	err := eachDeliveryOf(tx, updateID, func(d Delivery) error {
		key := d.Chat.Platform + "\x00" + d.Chat.ID
		switch {
		case d.Kind == PostDelivery && d.State == Sent && d.Ref != "":
			if _, ok := sent[key]; !ok {
				order = append(order, key)
			}
			sent[key] = d
		case d.Kind == CorrectionDelivery && d.State == Pending:
			waiting[key] = true
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range order {
		if waiting[key] {
			continue
		}
		orig := sent[key]
		c := &Delivery{Kind: CorrectionDelivery, UpdateID: updateID, Chat: orig.Chat, ChatKind: orig.ChatKind, Silent: true,
			Digest: orig.Digest, State: Pending, NextAttempt: now, Ref: orig.Ref, Created: now}
		if err := addDelivery(tx, c); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// eachDeliveryOf calls fn with every delivery of an update, oldest first.
func eachDeliveryOf(tx *bolt.Tx, updateID uint64, fn func(Delivery) error) error {
	prefix := u64(updateID)
	c := tx.Bucket(bucketOutbox).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		d, err := decodeDelivery(updateID, binary.BigEndian.Uint64(k[8:]), v)
		if err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// Deliveries returns every delivery of an update, oldest first.
func (s *Store) Deliveries(ctx context.Context, updateID uint64) ([]Delivery, error) {
	var out []Delivery
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return eachDeliveryOf(tx, updateID, func(d Delivery) error {
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of update %d: %w", updateID, err)
	}
	return out, nil
}

// Due returns up to limit pending deliveries for a platform whose time has come, in
// the order they fell due (post order for a fan-out), leaving out those skip names
// (the ones a dispatcher already holds). It only reads.
func (s *Store) Due(ctx context.Context, platform string, now time.Time, limit int, skip func(id uint64) bool) ([]Delivery, error) {
	var out []Delivery
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := append([]byte(platform), 0)
		end := dueKey(platform, now, 1<<64-1)
		c := tx.Bucket(bucketDue).Cursor()
		for k, v := c.Seek(prefix); k != nil && len(out) < limit && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) <= 0; k, v = c.Next() {
			seq := binary.BigEndian.Uint64(k[len(k)-8:])
			if skip != nil && skip(seq) {
				continue
			}
			d, err := getDelivery(tx, binary.BigEndian.Uint64(v), seq)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due deliveries for %s: %w", platform, err)
	}
	return out, nil
}

// markDelivery changes one pending delivery in a batched write transaction: many
// concurrent marks share one commit, and each returns only once its change is on disk.
// A delivery that is no longer pending is left alone, so a mark may be repeated.
func (s *Store) markDelivery(ctx context.Context, update, id uint64, what string, fn func(tx *bolt.Tx, d *Delivery) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		d, err := getDelivery(tx, update, id)
		if err != nil {
			return err
		}
		if d.State != Pending {
			return nil
		}
		if err := tx.Bucket(bucketDue).Delete(dueKey(d.Chat.Platform, d.NextAttempt, d.ID)); err != nil {
			return err
		}
		if err := fn(tx, &d); err != nil {
			return err
		}
		if d.State == Pending {
			if err := tx.Bucket(bucketDue).Put(dueKey(d.Chat.Platform, d.NextAttempt, d.ID), u64(d.UpdateID)); err != nil {
				return err
			}
		}
		return putDelivery(tx, &d)
	})
	if err != nil {
		return fmt.Errorf("mark delivery %d %s: %w", id, what, diskError(err))
	}
	return nil
}

// MarkSent records that a delivery went out as the platform message ref, counts it
// for its subscriptions, and, when the update changed after revision (the number of
// its history entries when it was rendered), queues a correction for the chat.
func (s *Store) MarkSent(ctx context.Context, update, id uint64, ref string, revision int) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, update, id, "sent", func(tx *bolt.Tx, d *Delivery) error {
		d.State, d.Done, d.Attempts, d.LastError = Sent, now, d.Attempts+1, ""
		if d.Kind == PostDelivery {
			d.Ref = ref
		}
		if err := count(tx, "sent:"+d.Chat.Platform); err != nil {
			return err
		}
		if d.Kind != PostDelivery {
			return nil
		}
		subs := tx.Bucket(bucketSubs)
		for _, fs := range d.Filters {
			key := []byte(d.Chat.Platform + "\x00" + d.Chat.ID + "\x00" + fs)
			var sub Subscription
			ok, err := get(subs, key, &sub)
			if err != nil {
				return err
			}
			if ok {
				sub.Delivered++
				if err := put(subs, key, sub); err != nil {
					return err
				}
			}
		}
		u, err := s.getUpdate(tx, d.UpdateID)
		if err != nil {
			return err
		}
		if len(u.History) != revision && ref != "" {
			// Changed while this was being sent: the chat has an old version.
			c := &Delivery{Kind: CorrectionDelivery, UpdateID: d.UpdateID, Chat: d.Chat, ChatKind: d.ChatKind, Silent: true,
				Digest: d.Digest, State: Pending, NextAttempt: now, Ref: ref, Created: now}
			return addDelivery(tx, c)
		}
		return nil
	})
}

// MarkRetry schedules another attempt at a delivery; counted attempts (transient
// failures) are what a retry limit is measured against, a platform's retry-after is not.
func (s *Store) MarkRetry(ctx context.Context, update, id uint64, at time.Time, cause string, counted bool) error {
	return s.markDelivery(ctx, update, id, "retry", func(tx *bolt.Tx, d *Delivery) error {
		d.NextAttempt, d.LastError = at.UTC(), cause
		if counted {
			d.Attempts++
		}
		return count(tx, "retried:"+d.Chat.Platform)
	})
}

// MarkFailed parks a delivery: it will not be tried again.
func (s *Store) MarkFailed(ctx context.Context, update, id uint64, cause string) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, update, id, "failed", func(tx *bolt.Tx, d *Delivery) error {
		d.State, d.Done, d.LastError = Failed, now, cause
		return count(tx, "failed:"+d.Chat.Platform)
	})
}

// ChatGone handles a chat the bot can no longer post to (removed, deleted, blocked):
// the delivery and every other pending one for the chat are parked, and the chat's
// subscriptions are removed, all audited.
func (s *Store) ChatGone(ctx context.Context, update, id uint64, cause string) error {
	now := s.now().UTC()
	if !strings.HasPrefix(cause, "chat gone") {
		cause = "chat gone: " + cause
	}
	return s.markDelivery(ctx, update, id, "chat gone", func(tx *bolt.Tx, d *Delivery) error {
		d.State, d.Done, d.LastError = Failed, now, cause
		if err := count(tx, "failed:"+d.Chat.Platform); err != nil {
			return err
		}
		if err := s.forEachPendingOfChat(tx, d.Chat, d.ID, func(o *Delivery) {
			o.State, o.Done, o.LastError = Failed, now, cause
		}); err != nil {
			return err
		}
		return s.moveChatSubscriptions(tx, d.Chat, nil, cause)
	})
}

// ChatMoved handles a chat that now lives under another id (a Telegram group that
// became a supergroup): its subscriptions and pending deliveries, this one included,
// move to the new id and are due at once.
func (s *Store) ChatMoved(ctx context.Context, update, id uint64, newChatID string) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, update, id, "chat moved", func(tx *bolt.Tx, d *Delivery) error {
		to := Chat{Platform: d.Chat.Platform, ID: newChatID}
		if err := s.forEachPendingOfChat(tx, d.Chat, d.ID, func(o *Delivery) { o.Chat = to }); err != nil {
			return err
		}
		if err := s.moveChatSubscriptions(tx, d.Chat, &to, "chat moved to "+newChatID); err != nil {
			return err
		}
		d.Chat, d.NextAttempt, d.LastError = to, now, "chat moved from "+d.Chat.ID
		return nil
	})
}

// forEachPendingOfChat changes every pending delivery of a chat but skip, keeping the
// due index in step.
func (s *Store) forEachPendingOfChat(tx *bolt.Tx, chat Chat, skip uint64, change func(*Delivery)) error {
	prefix := append([]byte(chat.Platform), 0)
	due := tx.Bucket(bucketDue)
	var matched []Delivery
	c := due.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if seq == skip {
			continue
		}
		d, err := getDelivery(tx, binary.BigEndian.Uint64(v), seq)
		if err != nil {
			return err
		}
		if d.Chat == chat {
			matched = append(matched, d)
		}
	}
	for _, d := range matched {
		if err := due.Delete(dueKey(d.Chat.Platform, d.NextAttempt, d.ID)); err != nil {
			return err
		}
		change(&d)
		if d.State == Pending {
			if err := due.Put(dueKey(d.Chat.Platform, d.NextAttempt, d.ID), u64(d.UpdateID)); err != nil {
				return err
			}
		}
		if err := putDelivery(tx, &d); err != nil {
			return err
		}
	}
	return nil
}

// moveChatSubscriptions moves a chat's subscriptions to another chat id, or removes
// them when to is nil, auditing each.
func (s *Store) moveChatSubscriptions(tx *bolt.Tx, from Chat, to *Chat, why string) error {
	prefix := chatPrefix(from)
	var subs []Subscription
	var keys [][]byte
	c := tx.Bucket(bucketSubs).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var sub Subscription
		if err := json.Unmarshal(v, &sub); err != nil {
			return fmt.Errorf("decode subscription %q: %w", k, err)
		}
		subs = append(subs, sub)
		keys = append(keys, bytes.Clone(k))
	}
	for i, sub := range subs {
		if err := deleteSubscription(tx, keys[i], sub); err != nil {
			return err
		}
		e := AuditEntry{Actor: systemActor, Action: "unsubscribe", Record: "chat/" + from.Platform + ":" + from.ID, Before: sub.Filter.String(), Note: why}
		if to != nil {
			sub.Chat = *to
			if err := putSubscription(tx, sub); err != nil {
				return err
			}
			e.Action, e.After = "move-subscription", to.Platform+":"+to.ID
		}
		if err := s.audit(tx, e); err != nil {
			return err
		}
	}
	return nil
}

// count adds one to a named counter.
func count(tx *bolt.Tx, name string) error {
	b := tx.Bucket(bucketCounters)
	var n uint64
	if v := b.Get([]byte(name)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	return b.Put([]byte(name), u64(n+1))
}

// Counters returns the store's delivery counters: "sent:telegram", "failed:discord",
// "retried:console" and so on, for metrics.
func (s *Store) Counters(ctx context.Context) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			if len(v) == 8 && !bytes.HasPrefix(k, []byte("status:")) {
				out[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return out, nil
}
