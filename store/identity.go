package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// External ids name an update across stores, so that exporting from one store and
// importing into another (or into the same one again) is idempotent. An update posted
// in a store has the external id "sitrep:<store identity>:<id>", derived from the
// store's identity and its id; an update that was imported keeps the external id it came
// with, in Update.ExternalID, and the external-id index maps it to the local id the
// importing store assigned.
var (
	// bucketExternal is external id → update id (8), for imported updates only. It is
	// created by the first import, so a store that never imported has none.
	bucketExternal = []byte("idx_external")
	keyIdentity    = []byte("identity")
)

// externalPrefix starts the external ids a sitrep store derives for its own updates.
const externalPrefix = "sitrep:"

// Identity returns the store's identity: a random string (crypto/rand.Text) made the first time it is asked
// for and kept in the store from then on. A store created before identities existed
// gets one the first time it is exported. A backup carries its store's identity, so a
// store restored from a backup exports the same external ids as the original; two
// copies of one file that both go on taking posts would not be told apart.
func (s *Store) Identity(ctx context.Context) (string, error) {
	id, err := s.identity(ctx)
	if err != nil || id != "" {
		return id, err
	}
	if s.db.IsReadOnly() {
		return "", fmt.Errorf("store identity: %w: the store has none yet and is open read-only", ErrInvalid)
	}
	// Not through update: the identity is not something readers see.
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyIdentity); v != nil {
			id = string(v)
			return nil
		}
		id = rand.Text() // 26 random base32 characters
		return meta.Put(keyIdentity, []byte(id))
	})
	if err != nil {
		return "", fmt.Errorf("store identity: %w", diskError(err))
	}
	return id, nil
}

// identity reads the store's identity, "" when it has none yet.
func (s *Store) identity(ctx context.Context) (string, error) {
	var id string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(keyIdentity))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store identity: %w", err)
	}
	return id, nil
}

// ExternalID is the external id of an update in the store with the given identity:
// the one it was imported with, or "sitrep:<identity>:<id>" for one posted there.
func ExternalID(identity string, u Update) string {
	if u.ExternalID != "" {
		return u.ExternalID
	}
	return externalPrefix + identity + ":" + strconv.FormatUint(u.ID, 10)
}

// ownUpdate returns the local id named by an external id that this store derived for
// one of its own updates, or 0.
func ownUpdate(identity, external string) uint64 {
	if identity == "" {
		return 0
	}
	rest, ok := strings.CutPrefix(external, externalPrefix+identity+":")
	if !ok {
		return 0
	}
	id, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// EachUpdate calls fn with every update whose event time is at or after since (every
// update when since is zero), in id order, with ExternalID filled in, all inside one
// read transaction: what fn sees is one consistent state of the store. It makes the
// store's identity if it has none yet. fn must not call the store.
func (s *Store) EachUpdate(ctx context.Context, since time.Time, fn func(Update) error) error {
	identity, err := s.Identity(ctx)
	if err != nil {
		return err
	}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUpdates).ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var u Update
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("decode update %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !since.IsZero() && u.Happened.Before(since) {
				return nil
			}
			u.ExternalID = ExternalID(identity, u)
			return fn(u)
		})
	})
	if err != nil {
		return fmt.Errorf("read updates: %w", err)
	}
	return nil
}
