package feed

import (
	"encoding/xml"
	"time"
)

// atomFeed is an atom:feed document in the Atom 1.0 namespace (RFC 4287). encoding/xml escapes every string in it.
type atomFeed struct {
	XMLName   xml.Name      `xml:"http://www.w3.org/2005/Atom feed"`
	Lang      string        `xml:"http://www.w3.org/XML/1998/namespace lang,attr,omitempty"`
	ID        string        `xml:"id"`
	Title     atomText      `xml:"title"`
	Subtitle  *atomText     `xml:"subtitle,omitempty"`
	Updated   string        `xml:"updated"`
	Authors   []atomPerson  `xml:"author"`
	Links     []atomLink    `xml:"link"`
	Generator atomGenerator `xml:"generator"`
	Entries   []atomEntry   `xml:"entry"`
}

// atomEntry is an atom:entry.
type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published"`
	Authors    []atomPerson   `xml:"author"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
	Content    atomText       `xml:"content"`
}

// atomText is a text construct: type "text" or "html", the body escaped as character
// data.
type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

// atomPerson is a person construct (author).
type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

// atomLink is an atom:link.
type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

// atomCategory is an atom:category.
type atomCategory struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
	Label  string `xml:"label,attr,omitempty"`
}

// atomGenerator names the software that made the feed.
type atomGenerator struct {
	URI  string `xml:"uri,attr,omitempty"`
	Name string `xml:",chardata"`
}

// atomTime formats a moment as an RFC 3339 date-time in UTC, to the second.
func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
