// Package console is sitrep's adapter on standard input and output: one command per
// line in, plain text out. It needs no token and no network, which makes it the way to
// try sitrep, to script it, and to administer a store locally.
package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
)

// Platform is the name console identities and chats carry.
const Platform = "console"

// maxLine is the longest line read; longer ones are refused, not truncated.
const maxLine = 64 << 10

// Session is a console conversation. The zero value is not usable; set Handler, In
// and Out.
type Session struct {
	Handler bot.Handler
	In      io.Reader
	Out     io.Writer
	User    bot.Identity // who is typing; Platform is set to "console" if empty
	Prompt  string       // printed before each line when non-empty (interactive use)
	Now     func() time.Time
}

// Run reads commands until the end of input or until ctx is done, answering each.
func (s *Session) Run(ctx context.Context) error {
	if s.User.Platform == "" {
		s.User.Platform = Platform
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	chat := bot.Chat{Platform: Platform, ID: s.User.UserID, Kind: bot.Private, Title: "console"}
	r := bufio.NewReaderSize(s.In, 4096)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.Prompt != "" {
			fmt.Fprint(s.Out, s.Prompt)
		}
		line, err := readLine(r)
		if errors.Is(err, io.EOF) && line == "" {
			if s.Prompt != "" {
				fmt.Fprintln(s.Out)
			}
			return nil
		}
		if errors.Is(err, errLongLine) {
			fmt.Fprintf(s.Out, "That line is too long (over %d bytes); nothing was done.\n\n", maxLine)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read console input: %w", err)
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, args, ok := bot.ParseCommand(line, "")
		if !ok {
			fmt.Fprint(s.Out, "Commands start with a slash, e.g. /latest. /help lists them.\n\n")
			continue
		}
		req := &bot.Request{Command: name, Text: args, User: s.User, Chat: chat, ChatManager: true, Time: now()}
		fmt.Fprintln(s.Out, Render(s.Handler.Serve(ctx, req)))
	}
}

// errLongLine marks a line over maxLine.
var errLongLine = errors.New("line too long")

// readLine reads one line of any length, refusing (and skipping) one over maxLine.
func readLine(r *bufio.Reader) (string, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			tooLong, line = true, nil
		}
		if !tooLong {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return "", errLongLine
		}
		return string(line), err
	}
}

// Render shows a reply as plain text, marking errors.
func Render(r bot.Reply) string {
	text := bot.PlainText(r)
	if r.Tone == bot.Error {
		text = "! " + text
	}
	if r.More != "" {
		text += "Older: /" + r.More + "\n"
	}
	return text
}
