package console

import (
	"context"
	"strings"
	"testing"

	"github.com/sitrep-bot/sitrep/bot"
)

func TestSessionAnswersEachLine(t *testing.T) {
	var got []*bot.Request
	h := bot.HandlerFunc(func(_ context.Context, req *bot.Request) bot.Reply {
		got = append(got, req)
		if req.Command == "fail" {
			return bot.Errorf("no such thing")
		}
		return bot.Text("ok %s", req.Text)
	})
	in := "/town Chin Shwe Haw\n\n# a comment\nhello\n" + "/town " + strings.Repeat("x", maxLine+10) + "\n/fail\n/latest 3"
	var out strings.Builder
	s := &Session{Handler: h, In: strings.NewReader(in), Out: &out, User: bot.Identity{UserID: "me"}}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "ok Chin Shwe Haw\n\n" +
		"Commands start with a slash, e.g. /latest. /help lists them.\n\n" +
		"That line is too long (over 65536 bytes); nothing was done.\n\n" +
		"! no such thing\n\n" +
		"ok 3\n\n"
	if out.String() != want {
		t.Fatalf("output:\n%q\nwant:\n%q", out.String(), want)
	}
	if len(got) != 3 || got[0].User.String() != "console:me" || !got[0].ChatManager || got[0].Chat.Kind != bot.Private {
		t.Fatalf("requests = %+v", got)
	}
}

func TestSessionStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &Session{Handler: bot.HandlerFunc(func(context.Context, *bot.Request) bot.Reply { return bot.Reply{} }), In: strings.NewReader("/x\n"), Out: &strings.Builder{}}
	if err := s.Run(ctx); err == nil {
		t.Fatal("Run on a cancelled context returned nil")
	}
}
