// Package bot is the platform-neutral core of sitrep's chat side: the Request a user
// makes, the rich-text Reply they get, the declarations of commands that adapters
// describe to their platforms, and the Router that dispatches one to the other. It knows
// no platform and no command.
package bot

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Identity is a user on a platform.
type Identity struct {
	Platform string // "telegram", "discord", "console"
	UserID   string
	Name     string // display name, for audit and attribution
}

// String is the identity as configured for admins and moderators: "telegram:123".
func (id Identity) String() string { return id.Platform + ":" + id.UserID }

// ChatKind says what sort of conversation a request came from.
type ChatKind string

// The kinds of chat.
const (
	Private ChatKind = "private" // a one-to-one chat with the bot
	Group   ChatKind = "group"   // a group, supergroup or server channel
	Channel ChatKind = "channel" // a broadcast channel
)

// Chat is the conversation a request came from and a reply goes to.
type Chat struct {
	Platform string
	ID       string
	Kind     ChatKind
	Title    string
}

// Request is one command as a user sent it, on any platform.
type Request struct {
	Command string            // lower-case name without the slash or @botname
	Text    string            // the argument text as typed (text platforms)
	Options map[string]string // typed options by parameter name (Discord); nil on text platforms
	User    Identity
	Chat    Chat
	// ChatManager is set by the adapter when the user may manage this chat's
	// subscriptions: a Telegram chat admin, a Discord member with Manage Channels,
	// anyone in a private chat.
	ChatManager bool
	Time        time.Time // when the platform received it
	// Origin identifies the message the request came in, where the platform may
	// deliver it twice ("telegram:<chat>:<message>"); a post is made once per origin.
	Origin string
	// Language is the user's language tag as the platform reports it ("my", "en").
	Language string
}

// ParseCommand splits a chat message into a command name and its argument text. It
// accepts "/town Theinni" and, in groups, "/town@sitrep_bot Theinni"; a command
// addressed to another bot, or text that is not a command, reports ok=false.
func ParseCommand(text, botName string) (name, args string, ok bool) {
	text = strings.TrimLeftFunc(text, unicode.IsSpace)
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	end := strings.IndexFunc(text, unicode.IsSpace)
	if end < 0 {
		end = len(text)
	}
	name, args = text[1:end], strings.TrimSpace(text[end:])
	if at := strings.IndexByte(name, '@'); at >= 0 {
		if botName != "" && !strings.EqualFold(name[at+1:], botName) {
			return "", "", false
		}
		name = name[:at]
	}
	if name == "" || !utf8.ValidString(name) {
		return "", "", false
	}
	return strings.ToLower(name), args, true
}
