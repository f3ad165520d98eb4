package store

import (
	"bytes"
	"sync"
)

// decodedUpdates remembers decoded updates by id together with the exact bytes they were
// decoded from. A hit needs the stored bytes to be identical, so an edited update is
// never served stale, whatever the order of reads and writes.
type decodedUpdates struct {
	mu      sync.Mutex
	max     int
	entries map[uint64]decodedUpdate
}

type decodedUpdate struct {
	raw    []byte // a copy of the stored value
	update Update
}

// get returns the decoded update if raw is what it was decoded from.
func (c *decodedUpdates) get(id uint64, raw []byte) (Update, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || !bytes.Equal(e.raw, raw) {
		return Update{}, false
	}
	return e.update, true
}

// put remembers a decoded update, evicting an arbitrary entry when full.
func (c *decodedUpdates) put(id uint64, raw []byte, u Update) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[uint64]decodedUpdate, c.max)
	}
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[id] = decodedUpdate{raw: bytes.Clone(raw), update: u}
}
