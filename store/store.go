// Package store keeps sitrep's data in one bbolt file: updates and their indexes, the
// gazetteer of towns and groups, subscriptions, moderators and the audit log. It is the
// only package that imports bbolt.
package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	_ "time/tzdata" // Asia/Yangon for digest hours, even without a system zone database
)

// Errors the store answers with; callers compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
	ErrLocked   = errors.New("store is locked by another process")
	ErrNotStore = errors.New("not a sitrep store")
	ErrDisk     = errors.New("the disk refused the write")
	// ErrDuplicate is returned with the existing update when a post's origin was
	// posted before.
	ErrDuplicate = errors.New("already posted")
)

// schemaVersion is the layout this binary reads and writes.
const schemaVersion = 4

// Bucket names. Index keys are "id 0x00 sequence" so that one town's, group's or
// claimant's entries are a contiguous range in sequence order.
var (
	bucketMeta         = []byte("meta")
	bucketUpdates      = []byte("updates")        // seq → Update
	bucketByTime       = []byte("idx_time")       // event time (8) seq (8) → nil
	bucketByTown       = []byte("idx_town")       // town id 0 seq → nil
	bucketByGroup      = []byte("idx_group")      // group id 0 seq → nil (mentioned or claimant)
	bucketByClaim      = []byte("idx_claim")      // claimant id 0 seq → nil
	bucketTowns        = []byte("towns")          // town id → Town
	bucketGroups       = []byte("groups")         // group id → Group
	bucketNames        = []byte("names")          // name key → "town:id" | "group:id"
	bucketSubs         = []byte("subs")           // platform 0 chat 0 filter → Subscription
	bucketMods         = []byte("moderators")     // identity → Moderator
	bucketAudit        = []byte("audit")          // seq → AuditEntry
	bucketSubsByFilter = []byte("idx_sub_filter") // filter 0 platform 0 chat → "kind|q"
	bucketOutbox       = []byte("outbox")         // update id (8) seq (8) → Delivery (binary)
	bucketDue          = []byte("idx_due")        // platform 0 next attempt (8) seq (8) → update id, pending only
	bucketCounters     = []byte("counters")       // name → uint64
	bucketOrigins      = []byte("idx_origin")     // platform message identity → update id
	allBuckets         = [][]byte{bucketMeta, bucketUpdates, bucketByTime, bucketByTown, bucketByGroup, bucketByClaim, bucketTowns, bucketGroups, bucketNames, bucketSubs, bucketMods, bucketAudit, bucketSubsByFilter, bucketOutbox, bucketDue, bucketCounters, bucketOrigins}
	keySchema          = []byte("schema")
	keyCreated         = []byte("created")
)

// Options tune how a store is opened. The zero value is a durable store with a
// one-second lock timeout and the wall clock.
type Options struct {
	LockTimeout time.Duration    // how long to wait for another process's lock; 0 means 1s
	NoSync      bool             // skip fsync on commit (bulk loads and benchmarks only)
	ReadOnly    bool             // open shared, read-only
	Now         func() time.Time // clock; nil means time.Now
	// Location is where daily digest hours are counted; nil means Asia/Yangon.
	Location *time.Location
}

// Store is an open sitrep store. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time
	loc  *time.Location

	mu      sync.Mutex // guards catalog
	catalog *catalog   // names known to the store, built on first use

	decoded decodedUpdates // recently read updates, so hot answers skip JSON decoding
	version atomic.Uint64  // counts committed changes to what readers see
}

// Version changes whenever a change that readers can see (an update, the gazetteer,
// a subscription, a moderator) is committed, so that callers may cache answers
// computed from the store until it moves.
func (s *Store) Version() uint64 { return s.version.Load() }

// Open opens the store at path, creating it (and loading the bundled gazetteer) when the
// file does not exist, and migrating an older schema.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	db, err := openBolt(path, &bolt.Options{
		Timeout:      timeout,
		NoSync:       opts.NoSync,
		ReadOnly:     opts.ReadOnly,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open store %s: %w (is sitrep serve or console already running on it?)", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, fmt.Errorf("open store %s: %w: the file is not a bbolt database or is damaged (%v)", path, ErrNotStore, err)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, diskError(err))
	}
	s := &Store{db: db, path: path, now: opts.Now, decoded: decodedUpdates{max: 4096}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc = opts.Location; s.loc == nil {
		if s.loc, err = time.LoadLocation("Asia/Yangon"); err != nil {
			s.loc = time.FixedZone("MMT", 6*3600+1800)
		}
	}
	if err := s.safeInit(ctx, opts.ReadOnly); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close releases the file. Reads and writes after Close fail.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// openBolt is bolt.Open, turning its panic on a damaged freelist page into
// bolterrors.ErrInvalid.
func openBolt(path string, opts *bolt.Options) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %v", bolterrors.ErrInvalid, r)
		}
	}()
	return bolt.Open(path, 0o600, opts)
}

// safeInit is init, turning a panic of bbolt on a damaged page into ErrNotStore so
// that a damaged file is reported instead of crashing the process.
func (s *Store) safeInit(ctx context.Context, readOnly bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the file is damaged (%v); run sitrep check, or restore a backup", ErrNotStore, r)
		}
	}()
	return s.init(ctx, readOnly)
}

// init creates a new store's buckets and gazetteer, or checks and migrates an existing
// one.
func (s *Store) init(ctx context.Context, readOnly bool) error {
	var version uint64
	fresh := false
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			fresh = true
			return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				return fmt.Errorf("%w: it holds bucket %q but no sitrep metadata", ErrNotStore, name)
			})
		}
		v := meta.Get(keySchema)
		if len(v) != 8 {
			return fmt.Errorf("%w: no schema version", ErrNotStore)
		}
		version = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return err
	}
	if fresh {
		if readOnly {
			return fmt.Errorf("%w: the file is empty", ErrNotStore)
		}
		return s.create(ctx)
	}
	if version > schemaVersion {
		return fmt.Errorf("%w: schema %d is newer than this binary understands (%d); upgrade sitrep", ErrNotStore, version, schemaVersion)
	}
	if version < schemaVersion && readOnly {
		return fmt.Errorf("schema %d needs migrating to %d: open it writable once", version, schemaVersion)
	}
	return s.migrate(ctx, version)
}

// create lays out a new store and loads the bundled gazetteer, all in one transaction.
func (s *Store) create(ctx context.Context) error {
	g, err := BundledGazetteer()
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keySchema, u64(schemaVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyCreated, []byte(s.now().UTC().Format(time.RFC3339))); err != nil {
			return err
		}
		return loadGazetteer(tx, g)
	})
}

// A migration moves a store from one schema version to the next inside one
// transaction.
type migration func(tx *bolt.Tx) error

// migrations returns the migration from version i+1 to i+2 at index i. Append to this
// list; never edit an entry.
func migrations() []migration {
	return []migration{
		migrateOutbox,       // 1 → 2: the delivery outbox and the subscription filter index
		migrateOrigins,      // 2 → 3: posts remembered by the chat message they came from
		migrateStatusCounts, // 3 → 4: updates counted by status, for metrics
	}
}

// migrate runs every migration from version to schemaVersion, each in its own
// transaction that also records the new version, so a crash leaves a consistent store.
func (s *Store) migrate(ctx context.Context, version uint64) error {
	steps := migrations()
	for v := version; v < schemaVersion; v++ {
		if int(v-1) >= len(steps) {
			return fmt.Errorf("no migration from schema %d", v)
		}
		step := steps[v-1]
		err := s.update(ctx, func(tx *bolt.Tx) error {
			if err := step(tx); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keySchema, u64(v+1))
		})
		if err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	return nil
}

// migrateOrigins creates the index of posts by the chat message that made them.
func migrateOrigins(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketOrigins)
	return err
}

// Cursor returns a named position a platform adapter keeps, such as the Telegram
// update offset; 0 when none is stored.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get([]byte("cursor:" + name)); len(b) == 8 {
			v = int64(binary.BigEndian.Uint64(b))
		}
		return nil
	})
	return v, err
}

// SetCursor stores a named position.
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Not through update: a cursor is not something readers see.
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("cursor:"+name), u64(uint64(v)))
	})
	if err != nil {
		err = diskError(err)
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	return nil
}

// update runs fn in a write transaction and explains disk failures.
func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.Update(fn); err != nil {
		return diskError(err)
	}
	s.version.Add(1)
	return nil
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// diskError marks errors that mean the disk or file system refused a write, so that
// callers can tell the operator instead of a user.
func diskError(err error) error {
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: the disk is full: %w", ErrDisk, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, bolterrors.ErrDatabaseReadOnly):
		return fmt.Errorf("%w: the store is read-only: %w", ErrDisk, err)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: permission denied: %w", ErrDisk, err)
	case errors.As(err, &errno) && errno == syscall.EIO:
		return fmt.Errorf("%w: input/output error: %w", ErrDisk, err)
	}
	return err
}

// u64 encodes n big-endian so that keys sort numerically.
func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// indexKey is "id 0x00 seq".
func indexKey(id string, seq uint64) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// timeKey is the event time as a big-endian unsigned offset, then the sequence, so that
// the time index sorts by when things happened and ties by posting order.
func timeKey(t time.Time, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint64(k, seq)
}

// put stores v as JSON under key.
func put(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

// get decodes the JSON under key into v, reporting whether it was there.
func get(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

// jsonText renders v for an audit entry.
func jsonText(v any) string {
	if v == nil {
		return ""
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(data)
}

// audit appends an entry to the audit log inside tx.
func (s *Store) audit(tx *bolt.Tx, e AuditEntry) error {
	b := tx.Bucket(bucketAudit)
	b.FillPercent = 1 // append-only
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.ID = seq
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
	return put(b, u64(seq), e)
}

// Audit records an action that changed nothing else, such as a refused command.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if err := s.update(ctx, func(tx *bolt.Tx) error { return s.audit(tx, e) }); err != nil {
		return fmt.Errorf("audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return nil
}

// AuditLog returns the newest n audit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, n int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode audit %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}
