package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrLastAdmin is returned when a change would leave the store with no admin.
var ErrLastAdmin = errors.New("that would leave no admin")

// subKey is "platform 0 chat 0 filter", so a chat's subscriptions are one range.
func subKey(c Chat, f Filter) []byte {
	return []byte(c.Platform + "\x00" + c.ID + "\x00" + f.String())
}

// chatPrefix is the start of a chat's subscription keys.
func chatPrefix(c Chat) []byte { return []byte(c.Platform + "\x00" + c.ID + "\x00") }

// Subscribe adds a subscription. When the chat already has one with the same filter it
// reports false, and only changes its options (quiet, digest) if they differ.
func (s *Store) Subscribe(ctx context.Context, sub Subscription) (created bool, err error) {
	if sub.Chat.Platform == "" || sub.Chat.ID == "" {
		return false, fmt.Errorf("subscribe: %w: no chat", ErrInvalid)
	}
	if sub.Created.IsZero() {
		sub.Created = s.now().UTC()
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if sub.Digest && (sub.DigestHour < 0 || sub.DigestHour > 23) {
			return fmt.Errorf("%w: digest hour %d", ErrInvalid, sub.DigestHour)
		}
		switch sub.Filter.Kind {
		case AllUpdates:
			sub.Filter.ID = ""
		case TownFilter:
			if tx.Bucket(bucketTowns).Get([]byte(sub.Filter.ID)) == nil {
				return fmt.Errorf("town %q: %w", sub.Filter.ID, ErrNotFound)
			}
		case GroupFilter:
			if tx.Bucket(bucketGroups).Get([]byte(sub.Filter.ID)) == nil {
				return fmt.Errorf("group %q: %w", sub.Filter.ID, ErrNotFound)
			}
		default:
			return fmt.Errorf("%w: filter kind %q", ErrInvalid, sub.Filter.Kind)
		}
		b := tx.Bucket(bucketSubs)
		key := subKey(sub.Chat, sub.Filter)
		var old Subscription
		exists, err := get(b, key, &old)
		if err != nil {
			return err
		}
		if exists {
			if old.Quiet == sub.Quiet && old.Digest == sub.Digest && old.DigestHour == sub.DigestHour {
				return nil
			}
			// The same filter with other options: keep its history, change how it is sent.
			before := jsonText(old)
			old.Quiet, old.Digest, old.DigestHour = sub.Quiet, sub.Digest, sub.DigestHour
			if err := putSubscription(tx, old); err != nil {
				return err
			}
			return s.audit(tx, AuditEntry{Actor: sub.CreatedBy.ID(), Action: "subscribe-options", Record: "chat/" + sub.Chat.Platform + ":" + sub.Chat.ID, Before: before, After: jsonText(old)})
		}
		created = true
		if err := putSubscription(tx, sub); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: sub.CreatedBy.ID(), Action: "subscribe", Record: "chat/" + sub.Chat.Platform + ":" + sub.Chat.ID, After: sub.Filter.String()})
	})
	if err != nil {
		return false, fmt.Errorf("subscribe %s:%s to %s: %w", sub.Chat.Platform, sub.Chat.ID, sub.Filter, err)
	}
	return created, nil
}

// Unsubscribe removes a chat's subscription with the given filter, or every
// subscription of the chat when filter is nil, and returns what it removed.
func (s *Store) Unsubscribe(ctx context.Context, chat Chat, filter *Filter, by Author) ([]Subscription, error) {
	var removed []Subscription
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubs)
		var keys [][]byte
		c := b.Cursor()
		prefix := chatPrefix(chat)
		if filter != nil {
			prefix = subKey(chat, *filter)
		}
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if filter != nil && !bytes.Equal(k, prefix) {
				continue
			}
			var sub Subscription
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("decode subscription %q: %w", k, err)
			}
			removed = append(removed, sub)
			keys = append(keys, bytes.Clone(k))
		}
		for i, k := range keys {
			if err := deleteSubscription(tx, k, removed[i]); err != nil {
				return err
			}
			if err := s.audit(tx, AuditEntry{Actor: by.ID(), Action: "unsubscribe", Record: "chat/" + chat.Platform + ":" + chat.ID, Before: removed[i].Filter.String()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unsubscribe %s:%s: %w", chat.Platform, chat.ID, err)
	}
	return removed, nil
}

// putSubscription writes a subscription and its filter index entry.
func putSubscription(tx *bolt.Tx, sub Subscription) error {
	if err := put(tx.Bucket(bucketSubs), subKey(sub.Chat, sub.Filter), sub); err != nil {
		return err
	}
	return tx.Bucket(bucketSubsByFilter).Put(subFilterKey(sub.Filter, sub.Chat), subIndexValue(sub))
}

// deleteSubscription removes a subscription stored under key and its index entry.
func deleteSubscription(tx *bolt.Tx, key []byte, sub Subscription) error {
	if err := tx.Bucket(bucketSubs).Delete(key); err != nil {
		return err
	}
	return tx.Bucket(bucketSubsByFilter).Delete(subFilterKey(sub.Filter, sub.Chat))
}

// Subscriptions returns a chat's subscriptions.
func (s *Store) Subscriptions(ctx context.Context, chat Chat) ([]Subscription, error) {
	var out []Subscription
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSubs).Cursor()
		prefix := chatPrefix(chat)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var sub Subscription
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("decode subscription %q: %w", k, err)
			}
			out = append(out, sub)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("subscriptions of %s:%s: %w", chat.Platform, chat.ID, err)
	}
	return out, nil
}

// Moderator returns the stored moderator record of an identity ("telegram:123").
func (s *Store) Moderator(ctx context.Context, id string) (Moderator, bool, error) {
	var m Moderator
	var ok bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		ok, err = get(tx.Bucket(bucketMods), []byte(id), &m)
		return err
	})
	if err != nil {
		return m, false, fmt.Errorf("moderator %s: %w", id, err)
	}
	return m, ok, nil
}

// Moderators returns every stored moderator and admin, by identity.
func (s *Store) Moderators(ctx context.Context) ([]Moderator, error) {
	return list[Moderator](ctx, s, bucketMods)
}

// AddModerator stores a moderator or admin, or changes the role of one already stored.
// It returns ErrExists when the identity already has that role.
func (s *Store) AddModerator(ctx context.Context, m Moderator, by Author) error {
	if m.Added.IsZero() {
		m.Added = s.now().UTC()
	}
	m.AddedBy = by.ID()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMods)
		var old Moderator
		ok, err := get(b, []byte(m.ID), &old)
		if err != nil {
			return err
		}
		if ok && old.Role == m.Role {
			return fmt.Errorf("%w: %s is already a %s", ErrExists, m.ID, m.Role)
		}
		if ok && old.Role == AdminRole {
			if err := keepAnAdmin(b, m.ID); err != nil {
				return err
			}
		}
		if err := put(b, []byte(m.ID), m); err != nil {
			return err
		}
		before := ""
		if ok {
			before = jsonText(old)
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: "mod-add", Record: "moderator/" + m.ID, Before: before, After: jsonText(m)})
	})
	if err != nil {
		return fmt.Errorf("add moderator %s: %w", m.ID, err)
	}
	return nil
}

// RemoveModerator removes a stored moderator or admin. When needAdmin is set (no
// admins come from configuration) it refuses to remove the last stored admin.
func (s *Store) RemoveModerator(ctx context.Context, id string, needAdmin bool, by Author) (Moderator, error) {
	var m Moderator
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMods)
		ok, err := get(b, []byte(id), &m)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("moderator %s: %w", id, ErrNotFound)
		}
		if needAdmin && m.Role == AdminRole {
			if err := keepAnAdmin(b, id); err != nil {
				return err
			}
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: "mod-remove", Record: "moderator/" + id, Before: jsonText(m)})
	})
	if err != nil {
		return m, fmt.Errorf("remove moderator %s: %w", id, err)
	}
	return m, nil
}

// keepAnAdmin fails with ErrLastAdmin unless an admin other than id remains.
func keepAnAdmin(b *bolt.Bucket, id string) error {
	found := false
	err := b.ForEach(func(k, v []byte) error {
		var m Moderator
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode moderator %q: %w", k, err)
		}
		if m.Role == AdminRole && m.ID != id {
			found = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s is the last admin", ErrLastAdmin, id)
	}
	return nil
}
