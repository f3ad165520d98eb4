package bot

import (
	"context"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		text, bot, name, args string
		ok                    bool
	}{
		{"/town Theinni", "sitrep_bot", "town", "Theinni", true},
		{"/town@sitrep_bot Theinni", "sitrep_bot", "town", "Theinni", true},
		{"/town@Sitrep_Bot  Chin Shwe Haw ", "sitrep_bot", "town", "Chin Shwe Haw", true},
		{"/town@other_bot Theinni", "sitrep_bot", "", "", false},
		{"/LATEST", "", "latest", "", true},
		{"  /latest 3", "", "latest", "3", true},
		{"hello", "", "", "", false},
		{"/", "", "", "", false},
		{"/@sitrep_bot", "sitrep_bot", "", "", false},
	} {
		name, args, ok := ParseCommand(tc.text, tc.bot)
		if name != tc.name || args != tc.args || ok != tc.ok {
			t.Errorf("ParseCommand(%q) = %q, %q, %v; want %q, %q, %v", tc.text, name, args, ok, tc.name, tc.args, tc.ok)
		}
	}
}

func TestRouter(t *testing.T) {
	var r Router
	if got := r.Serve(t.Context(), &Request{Command: "x"}); got.Tone != Error {
		t.Fatalf("zero router answered %+v", got)
	}
	var order []string
	r.Handle(Command{Name: "ping", Handler: HandlerFunc(func(_ context.Context, _ *Request) Reply { return Text("pong") })})
	r.Use(func(h Handler) Handler {
		return HandlerFunc(func(ctx context.Context, req *Request) Reply {
			order = append(order, "mw")
			return h.Serve(ctx, req)
		})
	})
	if got := PlainText(r.Serve(t.Context(), &Request{Command: "ping"})); got != "pong\n" || len(order) != 1 {
		t.Fatalf("ping = %q, middleware ran %d times", got, len(order))
	}
	if len(r.Commands()) != 1 {
		t.Fatalf("commands = %v", r.Commands())
	}
}

func TestPlainText(t *testing.T) {
	var b Builder
	b.Bold("#1").Plain(" text").Line().Link("Irrawaddy", "https://www.irrawaddy.com").Line()
	r := Reply{Title: "T", Blocks: []Block{b.Block(), {{Text: "second"}}}}
	want := "T\n#1 text\nIrrawaddy (https://www.irrawaddy.com)\n\nsecond\n"
	if got := PlainText(r); got != want {
		t.Fatalf("PlainText = %q, want %q", got, want)
	}
}
