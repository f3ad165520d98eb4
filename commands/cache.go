package commands

import (
	"sync"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
)

// answerTTL is how long a cached answer may be reused while the store has not
// changed: its relative times ("3 minutes ago") may be this much behind.
const answerTTL = 10 * time.Second

// maxCachedAnswers bounds the answer cache.
const maxCachedAnswers = 1024

// answers caches the replies of reading commands that everyone may run and that do
// not depend on who asks (/latest, /town, /claims, /about): in a busy group many people
// ask the same thing, and a reply is reused until the store changes or answerTTL
// passes.
type answers struct {
	mu      sync.Mutex
	entries map[string]cachedAnswer
}

type cachedAnswer struct {
	reply   bot.Reply
	version uint64
	at      time.Time
}

// get returns a cached reply computed at this store version within the TTL.
func (c *answers) get(key string, version uint64, now time.Time) (bot.Reply, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.version != version || now.Sub(e.at) > answerTTL {
		return bot.Reply{}, false
	}
	return e.reply, true
}

// put remembers a reply, evicting an arbitrary entry when full.
func (c *answers) put(key string, version uint64, now time.Time, r bot.Reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cachedAnswer, maxCachedAnswers)
	}
	if len(c.entries) >= maxCachedAnswers {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cachedAnswer{reply: r, version: version, at: now}
}
