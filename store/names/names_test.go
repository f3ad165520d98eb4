package names

import (
	"slices"
	"testing"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Chin Shwe Haw", "chinshwehaw"},
		{"chin-shwe-haw", "chinshwehaw"},
		{"Chìn Shwé Haw", "chinshwehaw"},
		{"Ta'ang", "taang"},
		{"Ta’ang", "taang"},
		{"PSLF/TNLA", "pslftnla"},
		{"  LASHIO ", "lashio"},
		{"Mrauk-U", "mrauku"},
		{"လားရှိုး", "လားရှိုး"},
		{"", ""},
	} {
		if got := Key(tc.in); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"theinni", "theinni", 0},
		{"thienni", "theinni", 1},
		{"theini", "theinni", 1},
		{"lashio", "lasho", 1},
		{"", "abc", 3},
		{"kutkai", "muse", 5},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"theinni", "hsenwi", "hseni", "lashio", "laukkai", "laukkaing"}
	got := Closest("Thienni", known, 3, 2)
	if len(got) == 0 || got[0].Key != "theinni" || got[0].Distance != 1 {
		t.Fatalf("Closest(Thienni) = %v, want theinni first at distance 1", got)
	}
	got = Closest("lauk", known, 3, 1)
	if len(got) != 2 || got[0].Key != "laukkai" {
		t.Fatalf("Closest(lauk) = %v, want laukkai and laukkaing", got)
	}
	if got := Closest("thien", known, 1, 1<<30); len(got) != 1 || got[0].Key != "theinni" || got[0].Distance != 2 {
		t.Fatalf("Closest(thien) = %v, want theinni at 2", got)
	}
	if got := Closest("zzzzzz", known, 3, 2); len(got) != 0 {
		t.Fatalf("Closest(zzzzzz) = %v, want none", got)
	}
}

func TestFinder(t *testing.T) {
	f := NewFinder([]string{"chinshwehaw", "aa", "mndaa", "brotherhoodalliance", "pslftnla", "projuntamilitia", "junta", "လားရှိုး", "kanmong"})
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"MNDAA took Chin Shwe Haw on Friday", []string{"mndaa", "chinshwehaw"}},
		{"The Brotherhood Alliance (AA, MNDAA) said", []string{"brotherhoodalliance", "aa", "mndaa"}},
		{"AAA batteries, not AA-something", nil},
		{"the PSLF/TNLA and pro-junta militia troops", []string{"pslftnla", "projuntamilitia"}},
		{"junta troops left Kan Mong; the junta said", []string{"junta", "kanmong"}},
		{"the junta's base near Kan Mong’s gate", []string{"junta", "kanmong"}},
		{"တပ်များ လားရှိုးမြို့ကို", []string{"လားရှိုး"}},
		{"", nil},
	} {
		if got := f.Find(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Find(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
