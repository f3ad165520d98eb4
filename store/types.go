package store

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Status is how far a claim has been verified. Every rendering of an update shows it.
type Status string

// The verification statuses an update can have.
const (
	Unverified Status = "unverified" // the default: nobody has checked the claim yet
	Confirmed  Status = "confirmed"  // independently confirmed
	Disputed   Status = "disputed"   // contradicted by other credible reporting
	False      Status = "false"      // shown to be untrue
	Retracted  Status = "retracted"  // withdrawn by the moderators, with a reason
)

// Badge is how the status is shown everywhere, in chats and feeds: "[UNVERIFIED]".
func (s Status) Badge() string { return "[" + strings.ToUpper(string(s)) + "]" }

// Statuses lists every status in the order they are offered to moderators.
func Statuses() []Status { return []Status{Unverified, Confirmed, Disputed, False, Retracted} }

// ParseStatus returns the status named by s (case-insensitive).
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", fmt.Errorf("%w: unknown status %q", ErrInvalid, s)
}

// Author is a chat identity: the platform and the user's id there, with the display
// name they had when they acted.
type Author struct {
	Platform string `json:"platform"`
	UserID   string `json:"user_id"`
	Name     string `json:"name,omitempty"`
}

// ID is the author's identity as moderators and admins are configured: "telegram:123".
func (a Author) ID() string { return a.Platform + ":" + a.UserID }

// Source is where an update's information comes from.
type Source struct {
	Name string `json:"name,omitempty"` // outlet name, e.g. "The Irrawaddy"
	URL  string `json:"url,omitempty"`
}

// Label names the source for readers: the outlet's name, or its link's host.
func (s Source) Label() string {
	if s.Name != "" {
		return s.Name
	}
	if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
		return strings.TrimPrefix(u.Host, "www.")
	}
	return s.URL
}

// Precision says how exactly an update's event time is known.
type Precision string

// The precisions of an event time.
const (
	Exact       Precision = ""            // the moment it was posted
	Day         Precision = "day"         // a calendar day
	Month       Precision = "month"       // a calendar month
	Approximate Precision = "approximate" // around a day
)

// Format writes an event time as precisely as it is known: "2 Jan 2006 15:04",
// "2 Jan 2006", "Jan 2006" or "c. 2 Jan 2006".
func (p Precision) Format(t time.Time) string {
	switch p {
	case Day:
		return t.Format("2 Jan 2006")
	case Month:
		return t.Format("Jan 2006")
	case Approximate:
		return "c. " + t.Format("2 Jan 2006")
	}
	return t.Format("2 Jan 2006 15:04")
}

// Revision is an earlier state of an update, kept when it was edited or its status
// changed, with who changed it and when.
type Revision struct {
	At     time.Time `json:"at"`
	By     Author    `json:"by"`
	Text   string    `json:"text"`
	Status Status    `json:"status"`
	Note   string    `json:"note,omitempty"`
}

// Update is one moderator post. Updates are never deleted: a retraction is a status.
type Update struct {
	ID        uint64     `json:"id"`
	Text      string     `json:"text"`
	Towns     []string   `json:"towns,omitempty"`    // town ids it concerns
	Groups    []string   `json:"groups,omitempty"`   // group ids it concerns, the claimant included
	Claimant  string     `json:"claimant,omitempty"` // group id that claims it, or "" for the source's own reporting
	Status    Status     `json:"status"`
	Note      string     `json:"note,omitempty"` // why the status is what it is (a retraction's reason)
	Source    Source     `json:"source,omitzero"`
	Happened  time.Time  `json:"happened"`
	Precision Precision  `json:"precision,omitempty"`
	Posted    time.Time  `json:"posted"`
	Author    Author     `json:"author"`
	Pinned    Tags       `json:"pinned,omitzero"`   // tags given explicitly, kept when the text is edited
	Control   string     `json:"control,omitempty"` // group id that, per this update, now holds its pinned towns
	History   []Revision `json:"history,omitempty"` // earlier states, oldest first
	// ExternalID is the id the update had in the store it was imported from; it is ""
	// for an update posted in this store (see ExternalID for the id it is exported with).
	ExternalID string `json:"external_id,omitempty"`
}

// Tags are town and group ids an update concerns.
type Tags struct {
	Towns  []string `json:"towns,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// Edited reports when the update's text last changed after it was posted, if it did;
// status changes alone do not count.
func (u Update) Edited() (time.Time, bool) {
	for i := len(u.History) - 1; i >= 0; i-- {
		next := u.Text
		if i+1 < len(u.History) {
			next = u.History[i+1].Text
		}
		if u.History[i].Text != next {
			return u.History[i].At, true
		}
	}
	return time.Time{}, false
}

// Draft is what a moderator posts; the store assigns the id and posting time and tags
// the update with every town and group its text mentions.
type Draft struct {
	Text      string
	Towns     []string // town ids given explicitly, besides those found in Text
	Groups    []string // group ids given explicitly, besides those found in Text
	Claimant  string   // group id, or ""
	Status    Status   // "" means Unverified
	Source    Source
	Happened  time.Time // zero means the posting time
	Precision Precision
	Author    Author
	// Control, if set, is the group that this update reports now holds the towns in
	// Towns: their control is set with the post, and subscribers are always notified.
	Control string
	// Origin, if set, identifies the chat message the post came from
	// ("telegram:<chat>:<message>"): posting the same origin again returns the first
	// update instead of a second one, so a platform that re-delivers a message after a
	// crash cannot post it twice.
	Origin string
}

// Control is who holds a town as the moderators last set it.
type Control struct {
	Holder   string    `json:"holder"`              // group id
	Since    time.Time `json:"since"`               // when the holder took it (the update's event time, or when it was set)
	UpdateID uint64    `json:"update_id,omitempty"` // the update reporting it, if any
	SetBy    Author    `json:"set_by"`
	SetAt    time.Time `json:"set_at"`
}

// Town is a place in the gazetteer.
type Town struct {
	ID       string   `json:"id"` // the key of its canonical name
	Name     string   `json:"name"`
	Aliases  []string `json:"aliases,omitempty"`
	Burmese  string   `json:"burmese,omitempty"`
	Kind     string   `json:"kind,omitempty"` // city, town, village
	Township string   `json:"township,omitempty"`
	Region   string   `json:"region,omitempty"`
	Lat      float64  `json:"lat,omitempty"`
	Lon      float64  `json:"lon,omitempty"`
	Control  *Control `json:"control,omitempty"`
}

// GroupKind is what sort of armed or political actor a group is.
type GroupKind string

// The kinds of group.
const (
	EAO        GroupKind = "eao"        // ethnic armed organisation
	Military   GroupKind = "military"   // the junta's armed forces
	Militia    GroupKind = "militia"    // militias, most of them pro-junta
	Resistance GroupKind = "resistance" // resistance forces such as the PDFs
	Alliance   GroupKind = "alliance"   // an alliance of other groups
)

// Describe returns the kind in words.
func (k GroupKind) Describe() string {
	switch k {
	case EAO:
		return "ethnic armed organisation"
	case Military:
		return "military"
	case Militia:
		return "militia"
	case Resistance:
		return "resistance force"
	case Alliance:
		return "alliance"
	}
	return string(k)
}

// Group is an armed group, force or alliance that makes claims.
type Group struct {
	ID       string    `json:"id"` // the key of its canonical name
	Name     string    `json:"name"`
	FullName string    `json:"full_name,omitempty"`
	Aliases  []string  `json:"aliases,omitempty"`
	Burmese  string    `json:"burmese,omitempty"`
	Kind     GroupKind `json:"kind"`
	Members  []string  `json:"members,omitempty"` // member group ids, for an alliance
}

// FilterKind is what a subscription follows.
type FilterKind string

// The kinds of subscription filter.
const (
	AllUpdates  FilterKind = "all"
	TownFilter  FilterKind = "town"
	GroupFilter FilterKind = "group"
)

// Filter selects the updates a subscription receives.
type Filter struct {
	Kind FilterKind `json:"kind"`
	ID   string     `json:"id,omitempty"` // town or group id
}

// String is the filter as stored in keys: "all", "town:hsenwi".
func (f Filter) String() string {
	if f.Kind == AllUpdates {
		return string(AllUpdates)
	}
	return string(f.Kind) + ":" + f.ID
}

// Chat is a chat or channel on a platform.
type Chat struct {
	Platform string `json:"platform"`
	ID       string `json:"id"`
}

// Subscription is a chat's standing request to be sent matching updates.
type Subscription struct {
	Chat     Chat   `json:"chat"`
	ChatKind string `json:"chat_kind,omitempty"` // private, group or channel, for per-chat rate limits
	Filter   Filter `json:"filter"`
	Quiet    bool   `json:"quiet,omitempty"` // push ordinary updates without a notification
	// Digest collects the chat's updates into one message a day at DigestHour
	// (0–23, in the store's time zone) instead of one message each.
	Digest     bool      `json:"digest,omitempty"`
	DigestHour int       `json:"digest_hour,omitempty"`
	CreatedBy  Author    `json:"created_by"`
	Created    time.Time `json:"created"`
	Delivered  uint64    `json:"delivered"` // updates delivered through it
}

// Role is what a moderator may do.
type Role string

// The roles of people who keep the store.
const (
	ModeratorRole Role = "moderator"
	AdminRole     Role = "admin"
)

// Moderator is a platform identity that may post and correct updates.
type Moderator struct {
	ID      string    `json:"id"` // "telegram:123"
	Role    Role      `json:"role"`
	AddedBy string    `json:"added_by"`
	Added   time.Time `json:"added"`
}

// AuditEntry records who did what to which record, when, and what it looked like before
// and after.
type AuditEntry struct {
	ID     uint64    `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`  // identity, "telegram:123"
	Action string    `json:"action"` // "post", "verify", "denied", …
	Record string    `json:"record"` // "update/12", "town/hsenwi", …
	Before string    `json:"before,omitempty"`
	After  string    `json:"after,omitempty"`
	Note   string    `json:"note,omitempty"`
}
