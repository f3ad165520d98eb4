package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// statusCounter is the counter holding how many updates have a status.
func statusCounter(s Status) []byte { return []byte("status:" + string(s)) }

// addStatus adds delta to the count of updates with status s; writeIndexes and
// deleteIndexes call it, so every path that stores an update keeps the counts right.
func addStatus(tx *bolt.Tx, s Status, delta int64) error {
	b := tx.Bucket(bucketCounters)
	key := statusCounter(s)
	var n uint64
	if v := b.Get(key); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	if delta < 0 && n < uint64(-delta) {
		return fmt.Errorf("status count %s would go below zero", s)
	}
	return b.Put(key, u64(uint64(int64(n)+delta)))
}

// migrateStatusCounts counts the updates of an existing store by status.
func migrateStatusCounts(tx *bolt.Tx) error {
	counts := map[Status]uint64{}
	err := tx.Bucket(bucketUpdates).ForEach(func(k, v []byte) error {
		var u struct {
			Status Status `json:"status"`
		}
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("update %x: %w", k, err)
		}
		counts[u.Status]++
		return nil
	})
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketCounters)
	for s, n := range counts {
		if err := b.Put(statusCounter(s), u64(n)); err != nil {
			return err
		}
	}
	return nil
}

// Stats is a summary of what the store holds, for metrics.
type Stats struct {
	Updates  map[Status]uint64 // updates by verification status
	Pending  map[string]uint64 // deliveries waiting to be sent, by platform
	Counters map[string]uint64 // delivery outcomes, "sent:telegram" and so on
}

// Stats counts the store's updates by status and its pending deliveries by platform.
// Pending deliveries are counted from the due index, which holds only what is waiting.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Updates: map[Status]uint64{}, Pending: map[string]uint64{}, Counters: map[string]uint64{}}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return nil
			}
			n := binary.BigEndian.Uint64(v)
			if status, ok := strings.CutPrefix(string(k), "status:"); ok {
				st.Updates[Status(status)] = n
			} else {
				st.Counters[string(k)] = n
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketDue).ForEach(func(k, _ []byte) error {
			if platform, _, ok := bytes.Cut(k, []byte{0}); ok {
				st.Pending[string(platform)]++
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("store stats: %w", err)
	}
	return st, nil
}

// Writable checks that the store can commit a write: it records the time of the check
// in a write transaction, which bbolt syncs to disk. It returns an error wrapping
// ErrDisk when the disk or file system refuses.
func (s *Store) Writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Not s.update: a health check changes nothing readers see, so Version stays.
	err := s.db.Update(func(tx *bolt.Tx) error {
		v, err := s.now().UTC().MarshalBinary()
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put([]byte("health"), v)
	})
	if err != nil {
		return fmt.Errorf("write to store %s: %w", s.path, diskError(err))
	}
	return nil
}
