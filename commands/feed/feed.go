// Package feed serves sitrep's updates as Atom 1.0 feeds (RFC 4287): the newest
// updates, the updates about a town and the claims of a group and its alliances. Names
// in feed addresses are resolved exactly as the chat commands resolve them (aliases,
// Burmese names, small typos), and every entry says who claims it, whether it is
// verified and where it comes from.
package feed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

// Size is how many updates a feed holds, newest first.
const Size = 50

// Defaults of the options.
const (
	DefaultAuthor  = "sitrep moderators"
	DefaultTagDate = "2023"
)

// generatorURI names the software in every feed.
const generatorURI = "https://github.com/sitrep-bot/sitrep"

// maxNameLen bounds the names resolved from feed addresses, in bytes: no town or group
// name is longer, and suggestions for longer ones would cost more than they are worth.
const maxNameLen = 200

// maxCached bounds the cache of rendered feeds.
const maxCached = 256

// Options configure the feeds. The zero value serves feeds whose addresses are derived
// from each request.
type Options struct {
	// BaseURL is the public address the feeds are served under, such as
	// "https://sitrep.example.org" (a path prefix is kept). Empty means each request's
	// scheme (TLS or X-Forwarded-Proto) and Host.
	BaseURL string
	// SiteURL, if set, is linked from every feed as its rel="alternate" page.
	SiteURL string
	// Author is the feeds' author, and the author of entries with neither a claimant
	// nor a named source; empty means DefaultAuthor.
	Author string
	// TagAuthority and TagDate make the tag: URIs (RFC 4151) that identify feeds and
	// entries, "tag:<authority>,<date>:update/12". They must never change once feeds
	// are published. Empty TagAuthority means BaseURL's host name (or, without
	// BaseURL, the request's); empty TagDate means DefaultTagDate.
	TagAuthority string
	TagDate      string
	// Location is where event dates and edit times are written; nil means Asia/Yangon.
	Location *time.Location
	// Logger receives store failures; nil discards.
	Logger *slog.Logger
	// NoCache turns off the reuse of rendered feeds while the store is unchanged
	// (benchmarks of the full path use it).
	NoCache bool
}

var (
	// tagAuthority is an RFC 4151 authority: a DNS name or an e-mail address.
	tagAuthority = regexp.MustCompile(`^(?:[a-z0-9._%+-]+@)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$`)
	// tagDate is an RFC 4151 date: YYYY, YYYY-MM or YYYY-MM-DD.
	tagDate = regexp.MustCompile(`^\d{4}(?:-\d{2}(?:-\d{2})?)?$`)
)

// Validate reports the first option that cannot be used, naming it.
func (o Options) Validate() error {
	for _, u := range []struct{ name, value string }{{"BaseURL", o.BaseURL}, {"SiteURL", o.SiteURL}} {
		if u.value == "" {
			continue
		}
		if _, err := absoluteHTTP(u.value); err != nil {
			return fmt.Errorf("feed: %s %q: %w", u.name, u.value, err)
		}
	}
	if o.TagAuthority != "" && !tagAuthority.MatchString(o.TagAuthority) {
		return fmt.Errorf("feed: TagAuthority %q is not a lower-case DNS name or e-mail address", o.TagAuthority)
	}
	if o.TagDate != "" {
		if _, err := parseTagDate(o.TagDate); err != nil {
			return fmt.Errorf("feed: TagDate %q is not YYYY, YYYY-MM or YYYY-MM-DD", o.TagDate)
		}
	}
	return nil
}

// absoluteHTTP parses an absolute http(s) URL with a host and no query or fragment.
func absoluteHTTP(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("not an absolute http(s) URL")
	case u.Host == "":
		return nil, errors.New("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, errors.New("a query, fragment or user is not allowed")
	}
	return u, nil
}

// parseTagDate reads a tag date as the first moment it names, in UTC.
func parseTagDate(s string) (time.Time, error) {
	if !tagDate.MatchString(s) {
		return time.Time{}, errors.New("bad tag date")
	}
	layout := map[int]string{4: "2006", 7: "2006-01", 10: "2006-01-02"}[len(s)]
	return time.Parse(layout, s)
}

// Handler serves the Atom feeds of one store. It is safe for concurrent use.
type Handler struct {
	st      *store.Store
	log     *slog.Logger
	loc     *time.Location
	author  string
	base    string // BaseURL without a trailing slash, or "" to derive it per request
	site    string
	tagAuth string // "" to derive it per request
	tagDate string
	epoch   time.Time // the feed's updated when it has no entries
	cache   *rendered // nil: off
}

// New returns the feeds of st. Options that fail Validate are logged and ignored.
func New(st *store.Store, opts Options) *Handler {
	h := &Handler{st: st, log: opts.Logger, loc: opts.Location, author: opts.Author, site: opts.SiteURL}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.loc == nil {
		loc, err := time.LoadLocation("Asia/Yangon")
		if err != nil {
			loc = time.FixedZone("MMT", 6*3600+1800)
		}
		h.loc = loc
	}
	if h.author == "" {
		h.author = DefaultAuthor
	}
	if err := opts.Validate(); err != nil {
		h.log.Error("feed options ignored", "err", err)
	}
	if u, err := absoluteHTTP(opts.BaseURL); err == nil {
		h.base = strings.TrimRight(u.String(), "/")
		h.tagAuth = dnsAuthority(u.Hostname())
	}
	if _, err := absoluteHTTP(opts.SiteURL); err != nil {
		h.site = ""
	}
	if tagAuthority.MatchString(opts.TagAuthority) {
		h.tagAuth = opts.TagAuthority
	}
	h.tagDate = DefaultTagDate
	if _, err := parseTagDate(opts.TagDate); err == nil {
		h.tagDate = opts.TagDate
	}
	h.epoch, _ = parseTagDate(h.tagDate)
	if !opts.NoCache {
		h.cache = &rendered{}
	}
	return h
}

// Register adds the feeds to mux: GET /feed.atom, GET /town/{name}/feed.atom and
// GET /claims/{group}/feed.atom (HEAD too).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /feed.atom", h.guard(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, latestFeed, "")
	}))
	mux.HandleFunc("GET /town/{name}/feed.atom", h.guard(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, townFeed, r.PathValue("name"))
	}))
	mux.HandleFunc("GET /claims/{group}/feed.atom", h.guard(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, claimsFeed, r.PathValue("group"))
	}))
}

// kind is which of the feeds a request asks for.
type kind string

const (
	latestFeed kind = "latest"
	townFeed   kind = "town"
	claimsFeed kind = "claims"
)

// site is where a request's feed lives: the public base URL and the tag authority.
type site struct {
	base    string // scheme://host[/prefix], no trailing slash
	tagAuth string
}

// tag returns the tag: URI of a specific name.
func (h *Handler) tag(s site, specific string) string {
	return "tag:" + s.tagAuth + "," + h.tagDate + ":" + specific
}

// siteOf works out the public base URL and tag authority of a request.
func (h *Handler) siteOf(r *http.Request) site {
	s := site{base: h.base, tagAuth: h.tagAuth}
	if s.base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(p), "https") {
			scheme = "https"
		} else if strings.EqualFold(strings.TrimSpace(p), "http") {
			scheme = "http"
		}
		host := r.Host
		if host == "" {
			host = "localhost"
		}
		s.base = (&url.URL{Scheme: scheme, Host: host}).String()
	}
	if s.tagAuth == "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		s.tagAuth = dnsAuthority(host)
	}
	return s
}

// dnsAuthority turns a host name into a tag authority, or "localhost" when it is not a
// DNS name (an IPv6 address, for instance).
func dnsAuthority(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || !tagAuthority.MatchString(host) || strings.Contains(host, "@") {
		return "localhost"
	}
	return host
}

// guard answers 500 instead of dropping the connection when a feed panics.
func (h *Handler) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "feed panicked", "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			plain(w, http.StatusInternalServerError, "Something went wrong on our side. Please try again later.")
		}()
		next(w, r)
	}
}

// serve answers one feed request: from the cache while the store is unchanged,
// otherwise rendered afresh; 304 when the client has it already.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, k kind, name string) {
	ctx := r.Context()
	version := h.st.Version() // before reading: a change during the read only costs a render
	s := h.siteOf(r)
	key := string(k) + "\x00" + s.base + "\x00" + s.tagAuth + "\x00" + name
	f, ok := h.cache.get(key, version)
	if !ok {
		doc, err := h.build(ctx, s, k, name)
		if err != nil {
			h.fail(w, r, k, err)
			return
		}
		var buf bytes.Buffer
		buf.WriteString(xml.Header)
		enc := xml.NewEncoder(&buf)
		enc.Indent("", "  ")
		if err := enc.Encode(doc); err != nil {
			h.fail(w, r, k, fmt.Errorf("encode %s feed: %w", k, err))
			return
		}
		buf.WriteByte('\n')
		sum := sha256.Sum256(buf.Bytes())
		f = feedBody{body: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		h.cache.put(key, version, f)
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/atom+xml; charset=utf-8")
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", "public, max-age=60")
	hd.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers If-None-Match with 304, HEAD without a body, and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// fail answers an unknown name with 404 and what it may have meant, and anything else
// with 500 (logged, without details).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, k kind, err error) {
	var ne *store.NameError
	switch {
	case errors.As(err, &ne):
		plain(w, http.StatusNotFound, ne.Explain())
	case errors.Is(err, errNoName):
		plain(w, http.StatusNotFound, fmt.Sprintf("A %s name needs letters or digits.", k.nameKind()))
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		plain(w, http.StatusServiceUnavailable, "The request was cancelled.")
	default:
		h.log.ErrorContext(r.Context(), "feed failed", "feed", string(k), "route", r.Pattern, "err", err)
		plain(w, http.StatusInternalServerError, "The feed cannot be read right now. Please try again later.")
	}
}

// plain writes a one-line text/plain answer.
func plain(w http.ResponseWriter, status int, msg string) {
	hd := w.Header()
	hd.Del("ETag")
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}

// nameKind is what a feed's name is a name of.
func (k kind) nameKind() store.Kind {
	if k == claimsFeed {
		return store.KindGroup
	}
	return store.KindTown
}

// feedBody is a rendered feed and its entity tag (a hash of the body, so that it
// survives restarts and store changes that leave the feed as it was).
type feedBody struct {
	body []byte
	etag string
}

// rendered caches feeds by request key until the store's version moves on.
type rendered struct {
	mu      sync.Mutex
	entries map[string]cachedFeed
}

type cachedFeed struct {
	feedBody
	version uint64
}

// get returns the feed rendered for key at this store version.
func (c *rendered) get(key string, version uint64) (feedBody, bool) {
	if c == nil {
		return feedBody{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.version != version {
		return feedBody{}, false
	}
	return e.feedBody, true
}

// put remembers a rendered feed, dropping the entries of older versions (and an
// arbitrary one when full).
func (c *rendered) put(key string, version uint64, f feedBody) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cachedFeed)
	}
	if len(c.entries) >= maxCached {
		for k, e := range c.entries {
			if e.version != version {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < maxCached {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cachedFeed{feedBody: f, version: version}
}
