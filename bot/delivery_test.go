package bot

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestParseLimits(t *testing.T) {
	l, err := ParseLimits("global=30/s, group=20/min,private=1/s,channel=5/5s", DiscordLimits())
	if err != nil {
		t.Fatal(err)
	}
	if l.Global != (Rate{Limit: 30, Burst: 30}) || l.Group.Burst != 20 || l.Group.Limit != rate.Limit(20.0/60) ||
		l.Private != (Rate{Limit: 1, Burst: 1}) || l.Channel != (Rate{Limit: 1, Burst: 5}) || l.MaxMessageLen != 4096 {
		t.Fatalf("limits = %+v", l)
	}
	for _, bad := range []string{"global", "group=fast", "group=0/s", "group=1/fortnight", "everyone=1/s"} {
		if _, err := ParseLimits(bad, TelegramLimits()); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
	if l, err := ParseLimits("", TelegramLimits()); err != nil || l != TelegramLimits() {
		t.Fatalf("empty spec changed the limits: %+v, %v", l, err)
	}
}

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		err  error
		kind FailureKind
	}{
		{base, Transient},
		{RetryAfterError(3*time.Second, base), RetryLater},
		{ChatGoneError(base), Gone},
		{ChatMovedError("-100", base), Moved},
		{PermanentError(base), Permanent},
	} {
		se := Classify(tc.err)
		if se.Kind != tc.kind || !errors.Is(se, base) {
			t.Errorf("Classify(%v) = %v, want kind %d wrapping the cause", tc.err, se, tc.kind)
		}
	}
	if se := Classify(RetryAfterError(3*time.Second, base)); se.After != 3*time.Second {
		t.Errorf("retry after lost: %v", se.After)
	}
}

func TestBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	d := NewDispatcher(nil, nil, nil, DispatcherConfig{Limits: &Limits{}, BaseBackoff: time.Second, MaxBackoff: time.Minute})
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 30: time.Minute} {
		for range 50 {
			got := d.backoff(n)
			if got < want*3/4 || got > want*5/4 {
				t.Fatalf("backoff(%d) = %v, want %v ±25%%", n, got, want)
			}
		}
	}
}
