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
// chat kind and whether it is quiet.
func subIndexValue(sub Subscription) []byte {
	v := sub.ChatKind + "|"
	if sub.Quiet {
		v += "q"
	}
	return []byte(v)
}

// dueKey is "platform 0 time seq", so due deliveries of a platform sort by when they
// are due and then by post order.
func dueKey(platform string, at time.Time, seq uint64) []byte {
	k := append([]byte(platform), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	return binary.BigEndian.AppendUint64(k, seq)
}

// byUpdateKey is "update id, delivery seq".
func byUpdateKey(update, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(u64(update), seq)
}

// migrateOutbox creates the delivery buckets and indexes existing subscriptions by
// filter (schema 1 → 2).
func migrateOutbox(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketSubsByFilter, bucketOutbox, bucketDue, bucketByUpdate, bucketCounters} {
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
// it is silent only if every matching subscription is quiet.
func (s *Store) fanOut(tx *bolt.Tx, u Update, alliances []string, now time.Time) (int, error) {
	filters := []Filter{{Kind: AllUpdates}}
	for _, t := range u.Towns {
		filters = append(filters, Filter{Kind: TownFilter, ID: t})
	}
	for _, g := range append(append([]string(nil), u.Groups...), alliances...) {
		filters = append(filters, Filter{Kind: GroupFilter, ID: g})
	}
	var out []*Delivery
	byChat := map[string]*Delivery{}
	c := tx.Bucket(bucketSubsByFilter).Cursor()
	for _, f := range filters {
		fs := f.String()
		prefix := []byte(fs + "\x00")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			platform, chatID, ok := strings.Cut(string(k[len(prefix):]), "\x00")
			if !ok {
				return 0, fmt.Errorf("bad subscription index key %q", k)
			}
			kind, flags, _ := strings.Cut(string(v), "|")
			quiet := flags == "q"
			key := platform + "\x00" + chatID
			if d := byChat[key]; d != nil {
				d.Filters = appendUnique(d.Filters, fs)
				d.Silent = d.Silent && quiet
				continue
			}
			d := &Delivery{Kind: PostDelivery, UpdateID: u.ID, Chat: Chat{Platform: platform, ID: chatID}, ChatKind: kind,
				Filters: []string{fs}, Silent: quiet, State: Pending, NextAttempt: now, Created: now}
			byChat[key] = d
			out = append(out, d)
		}
	}
	for _, d := range out {
		if err := addDelivery(tx, d); err != nil {
			return 0, err
		}
	}
	return len(out), nil
}

// addDelivery assigns a delivery its id and writes it with its due and update index
// entries.
func addDelivery(tx *bolt.Tx, d *Delivery) error {
	b := tx.Bucket(bucketOutbox)
	b.FillPercent = 1 // ids only grow
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	d.ID = seq
	if err := put(b, u64(seq), d); err != nil {
		return err
	}
	due := tx.Bucket(bucketDue)
	due.FillPercent = 0.9
	if err := due.Put(dueKey(d.Chat.Platform, d.NextAttempt, seq), nil); err != nil {
		return err
	}
	bu := tx.Bucket(bucketByUpdate)
	bu.FillPercent = 1
	return bu.Put(byUpdateKey(d.UpdateID, seq), nil)
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
			State: Pending, NextAttempt: now, Ref: orig.Ref, Created: now}
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
	out := tx.Bucket(bucketOutbox)
	c := tx.Bucket(bucketByUpdate).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		var d Delivery
		ok, err := get(out, k[8:], &d)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("delivery %d of update %d: %w", binary.BigEndian.Uint64(k[8:]), updateID, ErrNotFound)
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
		out2 := tx.Bucket(bucketOutbox)
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.Seek(prefix); k != nil && len(out) < limit && bytes.HasPrefix(k, prefix) && bytes.Compare(k, end) <= 0; k, _ = c.Next() {
			seq := binary.BigEndian.Uint64(k[len(k)-8:])
			if skip != nil && skip(seq) {
				continue
			}
			var d Delivery
			ok, err := get(out2, u64(seq), &d)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due deliveries for %s: %w", platform, err)
	}
	return out, nil
}

// NextDue returns when the platform's next pending delivery falls due, if any.
func (s *Store) NextDue(ctx context.Context, platform string) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := append([]byte(platform), 0)
		k, _ := tx.Bucket(bucketDue).Cursor().Seek(prefix)
		if k != nil && bytes.HasPrefix(k, prefix) {
			at, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k[len(prefix):]))), true
		}
		return nil
	})
	return at, ok, err
}

// markDelivery changes one pending delivery in a batched write transaction: many
// concurrent marks share one commit, and each returns only once its change is on disk.
// A delivery that is no longer pending is left alone, so a mark may be repeated.
func (s *Store) markDelivery(ctx context.Context, id uint64, what string, fn func(tx *bolt.Tx, d *Delivery) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		var d Delivery
		ok, err := get(b, u64(id), &d)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("delivery %d: %w", id, ErrNotFound)
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
			if err := tx.Bucket(bucketDue).Put(dueKey(d.Chat.Platform, d.NextAttempt, d.ID), nil); err != nil {
				return err
			}
		}
		return put(b, u64(id), d)
	})
	if err != nil {
		return fmt.Errorf("mark delivery %d %s: %w", id, what, diskError(err))
	}
	return nil
}

// MarkSent records that a delivery went out as the platform message ref, counts it
// for its subscriptions, and, when the update changed after revision (the number of
// its history entries when it was rendered), queues a correction for the chat.
func (s *Store) MarkSent(ctx context.Context, id uint64, ref string, revision int) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, id, "sent", func(tx *bolt.Tx, d *Delivery) error {
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
				State: Pending, NextAttempt: now, Ref: ref, Created: now}
			return addDelivery(tx, c)
		}
		return nil
	})
}

// MarkRetry schedules another attempt at a delivery; counted attempts (transient
// failures) are what a retry limit is measured against, a platform's retry-after is not.
func (s *Store) MarkRetry(ctx context.Context, id uint64, at time.Time, cause string, counted bool) error {
	return s.markDelivery(ctx, id, "retry", func(tx *bolt.Tx, d *Delivery) error {
		d.NextAttempt, d.LastError = at.UTC(), cause
		if counted {
			d.Attempts++
		}
		return count(tx, "retried:"+d.Chat.Platform)
	})
}

// MarkFailed parks a delivery: it will not be tried again.
func (s *Store) MarkFailed(ctx context.Context, id uint64, cause string) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, id, "failed", func(tx *bolt.Tx, d *Delivery) error {
		d.State, d.Done, d.LastError = Failed, now, cause
		return count(tx, "failed:"+d.Chat.Platform)
	})
}

// ChatGone handles a chat the bot can no longer post to (removed, deleted, blocked):
// the delivery and every other pending one for the chat are parked, and the chat's
// subscriptions are removed, all audited.
func (s *Store) ChatGone(ctx context.Context, id uint64, cause string) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, id, "chat gone", func(tx *bolt.Tx, d *Delivery) error {
		d.State, d.Done, d.LastError = Failed, now, "chat gone: "+cause
		if err := count(tx, "failed:"+d.Chat.Platform); err != nil {
			return err
		}
		if err := s.forEachPendingOfChat(tx, d.Chat, d.ID, func(o *Delivery) {
			o.State, o.Done, o.LastError = Failed, now, "chat gone: "+cause
		}); err != nil {
			return err
		}
		return s.moveChatSubscriptions(tx, d.Chat, nil, cause)
	})
}

// ChatMoved handles a chat that now lives under another id (a Telegram group that
// became a supergroup): its subscriptions and pending deliveries, this one included,
// move to the new id and are due at once.
func (s *Store) ChatMoved(ctx context.Context, id uint64, newChatID string) error {
	now := s.now().UTC()
	return s.markDelivery(ctx, id, "chat moved", func(tx *bolt.Tx, d *Delivery) error {
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
	out := tx.Bucket(bucketOutbox)
	var matched []Delivery
	c := due.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		seq := binary.BigEndian.Uint64(k[len(k)-8:])
		if seq == skip {
			continue
		}
		var d Delivery
		if _, err := get(out, u64(seq), &d); err != nil {
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
			if err := due.Put(dueKey(d.Chat.Platform, d.NextAttempt, d.ID), nil); err != nil {
				return err
			}
		}
		if err := put(out, u64(d.ID), d); err != nil {
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
			if len(v) == 8 {
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
