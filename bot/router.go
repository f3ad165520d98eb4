package bot

import (
	"context"
	"slices"
)

// Role is who may run a command.
type Role uint8

// The roles, from least to most trusted. Each includes the ones before it.
const (
	Everyone    Role = iota
	ChatManager      // may manage this chat's subscriptions
	Moderator        // may post and correct updates
	Admin            // may manage moderators
)

// String names the role for help texts.
func (r Role) String() string {
	switch r {
	case ChatManager:
		return "chat managers"
	case Moderator:
		return "moderators"
	case Admin:
		return "admins"
	}
	return "everyone"
}

// ParamKind is the type of a command parameter, for platforms with typed options.
type ParamKind uint8

// The kinds of parameter.
const (
	String    ParamKind = iota // free text
	Integer                    // a whole number
	Town                       // a town name (autocompleted)
	GroupName                  // a group name (autocompleted)
	Person                     // a user: "platform:id" in text, a user picker where the platform has one
)

// Param declares one parameter of a command.
type Param struct {
	Name     string // lower-case, as a Discord option name and a key:value key
	Help     string // one line
	Kind     ParamKind
	Required bool
	Choices  []string // the only values allowed, if any
	// Keyed parameters are typed "name:value" before the positional ones in text
	// (/post claim:MNDAA …); Repeat ones may be given more than once.
	Keyed  bool
	Repeat bool
	Min    int // bounds for Integer parameters, when Max > 0
	Max    int
}

// Command declares a command once, for the router, the help text and every platform's
// command menu.
type Command struct {
	Name    string // lower-case, 1–32 characters
	Summary string // one line, at most 100 characters
	Usage   string // the argument syntax, e.g. "<town> <group> [update id]"
	Help    string // longer help, shown by /help <command>
	Role    Role
	Params  []Param
	Handler Handler
}

// Handler answers a request. Handlers return the reply instead of sending it, so
// that they are plain functions to test.
type Handler interface {
	Serve(ctx context.Context, req *Request) Reply
}

// HandlerFunc adapts an ordinary function to a Handler.
type HandlerFunc func(ctx context.Context, req *Request) Reply

// Serve calls f.
func (f HandlerFunc) Serve(ctx context.Context, req *Request) Reply { return f(ctx, req) }

// Router dispatches requests to commands by name. A zero-value Router is a valid
// router with no commands.
type Router struct {
	commands []Command
	// Unknown answers requests for commands the router does not have; nil answers
	// with a short error.
	Unknown    Handler
	middleware []func(Handler) Handler
}

// Handle adds a command, replacing one with the same name.
func (r *Router) Handle(c Command) {
	if i := slices.IndexFunc(r.commands, func(o Command) bool { return o.Name == c.Name }); i >= 0 {
		r.commands[i] = c
		return
	}
	r.commands = append(r.commands, c)
}

// Use wraps every command's handler in mw; the first added runs outermost.
func (r *Router) Use(mw func(Handler) Handler) { r.middleware = append(r.middleware, mw) }

// Commands returns the declared commands in the order they were added.
func (r *Router) Commands() []Command { return slices.Clone(r.commands) }

// Lookup returns the command with the given name.
func (r *Router) Lookup(name string) (Command, bool) {
	i := slices.IndexFunc(r.commands, func(c Command) bool { return c.Name == name })
	if i < 0 {
		return Command{}, false
	}
	return r.commands[i], true
}

// Serve runs the request's command, through the middleware.
func (r *Router) Serve(ctx context.Context, req *Request) Reply {
	var h Handler
	if c, ok := r.Lookup(req.Command); ok {
		h = c.Handler
	} else if r.Unknown != nil {
		h = r.Unknown
	} else {
		return Errorf("Unknown command /%s.", req.Command)
	}
	for i := len(r.middleware) - 1; i >= 0; i-- {
		h = r.middleware[i](h)
	}
	return h.Serve(ctx, req)
}

// Completer suggests names for a parameter as a user types them (Discord autocomplete,
// Telegram inline queries).
type Completer interface {
	Complete(ctx context.Context, kind ParamKind, prefix string, limit int) []string
}
