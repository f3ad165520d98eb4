package bot

import "testing"

// listReply is a list answer: a paragraph, two items (one without a body and a source)
// and a closing note.
func listReply() Reply {
	var b Builder
	first := Item{
		Heading: b.Bold("#2").Plain(" · [UNVERIFIED]").Block(),
		Body:    b.Plain("Claimed by ").Bold("MNDAA").Plain(": text").Line().Italic("Disputed: no").Block(),
		Source:  b.Plain("Source: ").Link("Irrawaddy", "https://www.irrawaddy.com").Block(),
	}
	return Reply{
		Title:  "Latest",
		Blocks: []Block{{{Text: "Newest first:"}}},
		Items:  []Item{first, {Heading: Block{{Text: "telegram", Style: Bold}, {Text: ": 1 sent"}}}},
		Footer: Block{{Text: "A note.", Style: Italic}},
	}
}

func TestItemsAndFooterReadAsParagraphs(t *testing.T) {
	r := listReply()
	want := "Latest\nNewest first:\n\n#2 · [UNVERIFIED]\nClaimed by MNDAA: text\nDisputed: no\nSource: Irrawaddy (https://www.irrawaddy.com)\n\ntelegram: 1 sent\n\nA note.\n"
	if got := PlainText(r); got != want {
		t.Fatalf("PlainText = %q, want %q", got, want)
	}
	// The same text as the paragraphs written out by hand.
	flat := Reply{Title: r.Title, Blocks: r.Paragraphs()}
	if got := PlainText(flat); got != want {
		t.Fatalf("paragraphs = %q, want %q", got, want)
	}
	if n := len(r.Paragraphs()); n != 4 {
		t.Errorf("%d paragraphs, want 4", n)
	}
	if n := len(Reply{Items: r.Items}.Paragraphs()); n != 2 {
		t.Errorf("no footer: %d paragraphs, want 2", n)
	}
}
