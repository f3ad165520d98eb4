package store

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/sitrep-bot/sitrep/store/names"
)

//go:embed gazetteer.json
var bundledGazetteer []byte

// Gazetteer is a list of towns and groups as shipped with the binary. Group members
// are given by name.
type Gazetteer struct {
	Towns  []Town  `json:"towns"`
	Groups []Group `json:"groups"`
}

// BundledGazetteer returns the towns and groups every new store starts with.
func BundledGazetteer() (Gazetteer, error) {
	var g Gazetteer
	if err := json.Unmarshal(bundledGazetteer, &g); err != nil {
		return g, fmt.Errorf("decode bundled gazetteer: %w", err)
	}
	return g, nil
}

// Kind says whether a name is a town's or a group's.
type Kind string

// The kinds of named record.
const (
	KindTown  Kind = "town"
	KindGroup Kind = "group"
)

// nameRef is what a name key points at, with the name as written.
type nameRef struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// NameError says that a name matched nothing of the kind asked for, with the closest
// known names to suggest. It matches ErrNotFound.
type NameError struct {
	Kind        Kind
	Query       string
	Suggestions []string // display names, closest first, at most three
	Spellings   []string // the names the suggestions matched, as written (each resolves)
	OtherKind   Kind     // set when the name is known, but as the other kind
	OtherName   string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("no %s called %q", e.Kind, e.Query)
}

// Explain says it to a reader, with the suggestions: "No town called “Lashoi”. Did you
// mean Lashio?" (a long query is clipped to 40 characters).
func (e *NameError) Explain() string {
	var b strings.Builder
	q := e.Query
	if utf8.RuneCountInString(q) > 40 {
		q = string([]rune(q)[:40]) + "…"
	}
	fmt.Fprintf(&b, "No %s called “%s”.", e.Kind, q)
	if e.OtherKind != "" {
		fmt.Fprintf(&b, " %s is a %s.", e.OtherName, e.OtherKind)
	}
	if n := len(e.Suggestions); n > 0 {
		list := e.Suggestions[0]
		if n > 1 {
			list = strings.Join(e.Suggestions[:n-1], ", ") + " or " + e.Suggestions[n-1]
		}
		fmt.Fprintf(&b, " Did you mean %s?", list)
	}
	return b.String()
}

// Is makes a NameError match ErrNotFound.
func (e *NameError) Is(target error) bool { return target == ErrNotFound }

// catalog is the in-memory view of every name, rebuilt after the gazetteer changes.
type catalog struct {
	refs     map[string]nameRef // name key → record
	keys     map[Kind][]string  // name keys of each kind, for suggestions
	display  map[Kind]map[string]string
	memberOf map[string][]string // group id → alliance ids
	towns    map[string]Town
	groups   map[string]Group
	finder   *names.Finder
}

// loadCatalog returns the catalog, building it on first use. It holds s.mu while it
// reads, so a change that commits and then calls forgetCatalog can never leave a catalog
// built from the older snapshot in place.
func (s *Store) loadCatalog(ctx context.Context) (*catalog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.catalog != nil {
		return s.catalog, nil
	}
	c := &catalog{
		refs:     map[string]nameRef{},
		keys:     map[Kind][]string{},
		display:  map[Kind]map[string]string{KindTown: {}, KindGroup: {}},
		memberOf: map[string][]string{},
		towns:    map[string]Town{},
		groups:   map[string]Group{},
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketNames).ForEach(func(k, v []byte) error {
			var r nameRef
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode name %q: %w", k, err)
			}
			c.refs[string(k)] = r
			c.keys[r.Kind] = append(c.keys[r.Kind], string(k))
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketTowns).ForEach(func(k, v []byte) error {
			var t Town
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("decode town %q: %w", k, err)
			}
			c.display[KindTown][t.ID] = t.Name
			c.towns[t.ID] = t
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketGroups).ForEach(func(k, v []byte) error {
			var g Group
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("decode group %q: %w", k, err)
			}
			c.display[KindGroup][g.ID] = g.Name
			c.groups[g.ID] = g
			for _, m := range g.Members {
				c.memberOf[m] = append(c.memberOf[m], g.ID)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load names: %w", err)
	}
	all := make([]string, 0, len(c.refs))
	for k := range c.refs {
		all = append(all, k)
	}
	c.finder = names.NewFinder(all)
	s.catalog = c
	return c, nil
}

// forgetCatalog drops the cached names after the gazetteer changed.
func (s *Store) forgetCatalog() {
	s.mu.Lock()
	s.catalog = nil
	s.mu.Unlock()
}

// Resolve finds the town or group a typed name means: by name, alias or Burmese name,
// ignoring case, diacritics, spaces and hyphens, and forgiving a small typo when only
// one record is that close. Otherwise it returns a *NameError with suggestions.
func (s *Store) Resolve(ctx context.Context, kind Kind, query string) (id string, err error) {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return "", err
	}
	key := names.Key(query)
	if key == "" {
		return "", fmt.Errorf("%w: a %s name needs letters or digits", ErrInvalid, kind)
	}
	nerr := &NameError{Kind: kind, Query: query}
	if r, ok := c.refs[key]; ok {
		if r.Kind == kind {
			return r.ID, nil
		}
		nerr.OtherKind, nerr.OtherName = r.Kind, c.display[r.Kind][r.ID]
	}
	// Typos first, which lets Closest skip names of a very different length; only an
	// unknown name pays for ranking every name to suggest the nearest.
	cands := names.Closest(query, c.keys[kind], 12, 2)
	if len(cands) == 0 {
		cands = names.Closest(query, c.keys[kind], 12, 1<<30)
	}
	type hit struct {
		id, name, spelling string
		dist               int
	}
	var hits []hit
	for _, cand := range cands {
		r := c.refs[cand.Key]
		if slices.ContainsFunc(hits, func(h hit) bool { return h.id == r.ID }) {
			continue
		}
		name := c.display[kind][r.ID]
		if !strings.EqualFold(r.Name, name) {
			name = r.Name + " (" + name + ")"
		}
		hits = append(hits, hit{r.ID, name, r.Name, cand.Distance})
	}
	if nerr.OtherKind == "" && len(hits) > 0 && hits[0].dist <= names.Tolerance(key) &&
		(len(hits) == 1 || hits[1].dist > hits[0].dist) {
		return hits[0].id, nil
	}
	for _, h := range hits[:min(3, len(hits))] {
		nerr.Suggestions = append(nerr.Suggestions, h.name)
		nerr.Spellings = append(nerr.Spellings, h.spelling)
	}
	return "", nerr
}

// Tag returns the towns and groups that text mentions by any of their names.
func (s *Store) Tag(ctx context.Context, text string) (towns, groups []string, err error) {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range c.finder.Find(text) {
		r := c.refs[k]
		switch r.Kind {
		case KindTown:
			towns = appendUnique(towns, r.ID)
		case KindGroup:
			groups = appendUnique(groups, r.ID)
		}
	}
	return towns, groups, nil
}

// Name returns the display name of a town or group id, or the id itself when unknown.
func (s *Store) Name(ctx context.Context, kind Kind, id string) string {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return id
	}
	if n, ok := c.display[kind][id]; ok {
		return n
	}
	return id
}

// Names returns every name, alias and Burmese name of the given kind that starts with
// prefix once folded, at most limit, as display strings (for autocomplete).
func (s *Store) Names(ctx context.Context, kind Kind, prefix string, limit int) ([]string, error) {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	p := names.Key(prefix)
	var out []string
	for _, k := range c.keys[kind] {
		if strings.HasPrefix(k, p) {
			out = append(out, c.refs[k].Name)
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AlliancesOf returns the ids of the alliances a group belongs to.
func (s *Store) AlliancesOf(ctx context.Context, groupID string) ([]string, error) {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	return c.memberOf[groupID], nil
}

// Town returns the town with the given id.
func (s *Store) Town(ctx context.Context, id string) (Town, error) {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return Town{}, err
	}
	t, ok := c.towns[id]
	if !ok {
		return t, fmt.Errorf("town %q: %w", id, ErrNotFound)
	}
	return t, nil
}

// Group returns the group with the given id.
func (s *Store) Group(ctx context.Context, id string) (Group, error) {
	c, err := s.loadCatalog(ctx)
	if err != nil {
		return Group{}, err
	}
	g, ok := c.groups[id]
	if !ok {
		return g, fmt.Errorf("group %q: %w", id, ErrNotFound)
	}
	return g, nil
}

// Towns returns every town, by name.
func (s *Store) Towns(ctx context.Context) ([]Town, error) {
	return list[Town](ctx, s, bucketTowns)
}

// Groups returns every group, by id.
func (s *Store) Groups(ctx context.Context) ([]Group, error) {
	return list[Group](ctx, s, bucketGroups)
}

// list decodes every value of a small bucket.
func list[T any](ctx context.Context, s *Store, bucket []byte) ([]T, error) {
	var out []T
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var item T
			if err := json.Unmarshal(v, &item); err != nil {
				return fmt.Errorf("decode %s %q: %w", bucket, k, err)
			}
			out = append(out, item)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", bucket, err)
	}
	return out, nil
}

// AddTown adds a town to the gazetteer under its name, aliases and Burmese name.
func (s *Store) AddTown(ctx context.Context, t Town, by Author) (Town, error) {
	t.ID = names.Key(t.Name)
	if t.ID == "" {
		return t, fmt.Errorf("%w: a town needs a name", ErrInvalid)
	}
	t.Control = nil
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if err := putTown(tx, t); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: "add-town", Record: "town/" + t.ID, After: jsonText(t)})
	})
	s.forgetCatalog()
	if err != nil {
		return t, fmt.Errorf("add town %s: %w", t.Name, err)
	}
	return t, nil
}

// AddGroup adds a group to the gazetteer; Members holds the ids of an alliance's
// members.
func (s *Store) AddGroup(ctx context.Context, g Group, by Author) (Group, error) {
	g.ID = names.Key(g.Name)
	if g.ID == "" {
		return g, fmt.Errorf("%w: a group needs a name", ErrInvalid)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if err := putGroup(tx, g); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: "add-group", Record: "group/" + g.ID, After: jsonText(g)})
	})
	s.forgetCatalog()
	if err != nil {
		return g, fmt.Errorf("add group %s: %w", g.Name, err)
	}
	return g, nil
}

// AddAlias adds another name for a town or group.
func (s *Store) AddAlias(ctx context.Context, kind Kind, id, alias string, by Author) error {
	bucket := map[Kind][]byte{KindTown: bucketTowns, KindGroup: bucketGroups}[kind]
	if bucket == nil {
		return fmt.Errorf("%w: kind %q", ErrInvalid, kind)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		raw := b.Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
		}
		if err := claimName(tx, alias, nameRef{Kind: kind, ID: id, Name: alias}); err != nil {
			return err
		}
		// Rewrite the record with the alias appended, keeping every other field.
		var fields map[string]json.RawMessage
		var aliases []string
		if err := json.Unmarshal(raw, &fields); err != nil {
			return fmt.Errorf("decode %s %q: %w", kind, id, err)
		}
		if a, ok := fields["aliases"]; ok {
			if err := json.Unmarshal(a, &aliases); err != nil {
				return fmt.Errorf("decode %s %q aliases: %w", kind, id, err)
			}
		}
		fields["aliases"], _ = json.Marshal(append(aliases, alias))
		if err := put(b, []byte(id), fields); err != nil {
			return err
		}
		return s.audit(tx, AuditEntry{Actor: by.ID(), Action: "add-alias", Record: string(kind) + "/" + id, After: alias})
	})
	s.forgetCatalog()
	if err != nil {
		return fmt.Errorf("add alias %q to %s %s: %w", alias, kind, id, err)
	}
	return nil
}

// loadGazetteer writes a gazetteer's towns and groups into a new store.
func loadGazetteer(tx *bolt.Tx, g Gazetteer) error {
	for _, t := range g.Towns {
		t.ID = names.Key(t.Name)
		if err := putTown(tx, t); err != nil {
			return fmt.Errorf("gazetteer: %w", err)
		}
	}
	for _, gr := range g.Groups {
		gr.ID = names.Key(gr.Name)
		for i, m := range gr.Members {
			gr.Members[i] = names.Key(m)
		}
		if err := putGroup(tx, gr); err != nil {
			return fmt.Errorf("gazetteer: %w", err)
		}
	}
	return nil
}

// putTown writes a new town and claims all its names.
func putTown(tx *bolt.Tx, t Town) error {
	if tx.Bucket(bucketTowns).Get([]byte(t.ID)) != nil {
		return fmt.Errorf("town %s: %w", t.Name, ErrExists)
	}
	for _, n := range townNames(t) {
		if err := claimName(tx, n, nameRef{Kind: KindTown, ID: t.ID, Name: n}); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bucketTowns), []byte(t.ID), t)
}

// putGroup writes a new group and claims all its names.
func putGroup(tx *bolt.Tx, g Group) error {
	if tx.Bucket(bucketGroups).Get([]byte(g.ID)) != nil {
		return fmt.Errorf("group %s: %w", g.Name, ErrExists)
	}
	for _, m := range g.Members {
		if tx.Bucket(bucketGroups).Get([]byte(m)) == nil {
			return fmt.Errorf("group %s: member %q: %w", g.Name, m, ErrNotFound)
		}
	}
	for _, n := range append([]string{g.Name, g.FullName, g.Burmese}, g.Aliases...) {
		if n == "" {
			continue
		}
		if err := claimName(tx, n, nameRef{Kind: KindGroup, ID: g.ID, Name: n}); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bucketGroups), []byte(g.ID), g)
}

// townNames lists every name a town is known by.
func townNames(t Town) []string {
	out := []string{t.Name}
	if t.Burmese != "" {
		out = append(out, t.Burmese)
	}
	return append(out, t.Aliases...)
}

// claimName points a name's key at a record, refusing a name another record has.
func claimName(tx *bolt.Tx, name string, ref nameRef) error {
	key := names.Key(name)
	if key == "" {
		return fmt.Errorf("%w: name %q has no letters or digits", ErrInvalid, name)
	}
	b := tx.Bucket(bucketNames)
	var old nameRef
	ok, err := get(b, []byte(key), &old)
	if err != nil {
		return err
	}
	if ok {
		if old.Kind == ref.Kind && old.ID == ref.ID {
			return nil // a second spelling of a name it already has
		}
		return fmt.Errorf("name %q: %w: it is %s %s", name, ErrExists, old.Kind, old.ID)
	}
	return put(b, []byte(key), ref)
}

// appendUnique appends s unless list has it.
func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
