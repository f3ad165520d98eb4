package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// MessageRef identifies a sent message on its platform, so that it can be edited or
// replied to later.
type MessageRef string

// Rate is a token bucket: Limit events a second with bursts of Burst.
type Rate struct {
	Limit rate.Limit
	Burst int
}

// Every returns a Rate of n events per period, without bursts beyond one.
func Every(n int, period time.Duration) Rate {
	return Rate{Limit: rate.Limit(float64(n) / period.Seconds()), Burst: 1}
}

// Limits are what a platform allows a bot to send.
type Limits struct {
	Global        Rate // across all chats
	Private       Rate // into one private chat
	Group         Rate // into one group or server channel
	Channel       Rate // into one broadcast channel
	MaxMessageLen int  // characters in one message
}

// PerChat returns the rate for one chat of the given kind.
func (l Limits) PerChat(kind ChatKind) Rate {
	switch kind {
	case Private:
		return l.Private
	case Channel:
		return l.Channel
	}
	return l.Group
}

// Sender is what a platform adapter offers for delivery: sending a reply to a chat,
// editing or replying to a message it sent, and its limits. Errors should be made with
// RetryAfter, ChatGone, ChatMoved or Permanent where the platform says so; any other
// error counts as transient.
type Sender interface {
	Platform() string
	Limits() Limits
	Send(ctx context.Context, chatID string, r Reply) (MessageRef, error)
	// Edit replaces a sent message; ErrCannotEdit (or a Permanent error) makes the
	// dispatcher reply to the message instead.
	Edit(ctx context.Context, chatID string, ref MessageRef, r Reply) error
	ReplyTo(ctx context.Context, chatID string, ref MessageRef, r Reply) (MessageRef, error)
}

// ErrCannotEdit says that a platform cannot edit a message (too old, not the bot's).
var ErrCannotEdit = errors.New("the message cannot be edited")

// Redacted returns err with its text replaced by text (the same text with a secret
// hidden); errors.Is and errors.As still see err beneath. Adapters use it for errors
// that quote a URL carrying a token.
func Redacted(err error, text string) error { return redactedError{err: err, text: text} }

// redactedError is an error whose text hides a secret.
type redactedError struct {
	err  error
	text string
}

func (e redactedError) Error() string { return e.text }
func (e redactedError) Unwrap() error { return e.err }

// ErrUnauthorized marks a connection the platform refused because of its token: a
// configuration problem that retrying alone will not fix.
var ErrUnauthorized = errors.New("the platform refused the bot's token")

// FailureKind classifies a failed send.
type FailureKind uint8

// The kinds of failure.
const (
	Transient  FailureKind = iota // try again later, with backoff
	RetryLater                    // the platform said exactly when to try again
	Gone                          // the chat is gone: bot removed, chat deleted, user blocked the bot
	Moved                         // the chat lives under a new id now
	Permanent                     // this message will never go through
)

// SendError is a classified send failure.
type SendError struct {
	Kind      FailureKind
	After     time.Duration // for RetryLater
	NewChatID string        // for Moved
	Err       error
}

func (e *SendError) Error() string {
	switch e.Kind {
	case RetryLater:
		return fmt.Sprintf("retry after %v: %v", e.After, e.Err)
	case Gone:
		return fmt.Sprintf("chat gone: %v", e.Err)
	case Moved:
		return fmt.Sprintf("chat moved to %s: %v", e.NewChatID, e.Err)
	case Permanent:
		return fmt.Sprintf("permanent: %v", e.Err)
	}
	return fmt.Sprintf("transient: %v", e.Err)
}

// Unwrap returns the platform's error.
func (e *SendError) Unwrap() error { return e.Err }

// RetryAfterError reports that the platform asks to wait d before trying again.
func RetryAfterError(d time.Duration, err error) error {
	return &SendError{Kind: RetryLater, After: d, Err: err}
}

// ChatGoneError reports that the bot can no longer post to the chat.
func ChatGoneError(err error) error { return &SendError{Kind: Gone, Err: err} }

// ChatMovedError reports that the chat now has another id.
func ChatMovedError(newChatID string, err error) error {
	return &SendError{Kind: Moved, NewChatID: newChatID, Err: err}
}

// PermanentError reports a failure that no retry will fix.
func PermanentError(err error) error { return &SendError{Kind: Permanent, Err: err} }

// Classify returns the SendError in err's chain, or a transient one around err.
func Classify(err error) *SendError {
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Kind: Transient, Err: err}
}

// JobKind says what a delivery job carries.
type JobKind string

// The kinds of job.
const (
	NewMessage JobKind = "post"       // send the update as a new message
	Correction JobKind = "correction" // edit the message Ref to the update's new state
)

// Job is one delivery as a dispatcher sees it: one update to one chat.
type Job struct {
	ID       uint64
	Kind     JobKind
	UpdateID uint64
	ChatID   string
	ChatKind ChatKind
	Silent   bool
	Digest   bool       // part of the chat's daily digest: sent with the chat's other digest jobs, corrected by reply
	Ref      MessageRef // for a correction, the message to correct
	Attempts int        // transient failures so far
}

// Outbox is the dispatcher's view of the store's delivery queue. Marks must be durable
// when they return.
type Outbox interface {
	// Due returns up to limit jobs for the platform that are due at now, in post
	// order, leaving out those skip names.
	Due(ctx context.Context, platform string, now time.Time, limit int, skip func(id uint64) bool) ([]Job, error)
	// Sent records the message a job became; revision is what Render returned.
	Sent(ctx context.Context, job Job, ref MessageRef, revision int) error
	// Retry schedules the job again at at; counted says the failure counts against
	// the retry limit.
	Retry(ctx context.Context, job Job, at time.Time, cause error, counted bool) error
	// Failed parks the job with its last error.
	Failed(ctx context.Context, job Job, cause error) error
	// Gone parks the job and every other for its chat and unsubscribes the chat.
	Gone(ctx context.Context, job Job, cause error) error
	// Moved moves the chat's subscriptions and pending jobs to a new chat id.
	Moved(ctx context.Context, job Job, newChatID string) error
}

// RenderFunc renders the updates of one message as they are now: one job, or a chat's
// daily digest. It returns each update's revision, in the order of jobs, so that a
// change racing the send can be corrected.
type RenderFunc func(ctx context.Context, jobs []Job) (Reply, []int, error)
