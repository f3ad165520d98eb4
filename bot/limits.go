package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// TelegramLimits are the Bot API's documented limits, kept a little under: about 30
// messages a second overall (25 here), 20 a minute into one group, one a second into
// one private chat; messages of up to 4,096 characters.
func TelegramLimits() Limits {
	return Limits{
		Global:        Rate{Limit: 25, Burst: 1},
		Group:         Every(20, time.Minute),
		Channel:       Every(20, time.Minute),
		Private:       Every(1, time.Second),
		MaxMessageLen: 4096,
	}
}

// DiscordLimits follow Discord's buckets: 5 messages per 5 seconds into one channel and
// 50 requests a second overall (45 here); embeds of up to 4,096 characters.
func DiscordLimits() Limits {
	perChannel := Rate{Limit: 1, Burst: 5} // 5 per 5 s, allowing the burst Discord allows
	return Limits{
		Global:        Rate{Limit: 45, Burst: 1},
		Group:         perChannel,
		Channel:       perChannel,
		Private:       perChannel,
		MaxMessageLen: 4096,
	}
}

// ParseLimits changes base by a spec such as "global=25/s,group=20/min,private=1/s"
// (units /s, /min, /h; a leading count per period, e.g. "5/5s", is also accepted).
// An empty spec returns base unchanged.
func ParseLimits(spec string, base Limits) (Limits, error) {
	if strings.TrimSpace(spec) == "" {
		return base, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return base, fmt.Errorf("limit %q: want name=rate, e.g. group=20/min", part)
		}
		r, err := parseRate(value)
		if err != nil {
			return base, fmt.Errorf("limit %s: %w", name, err)
		}
		switch strings.ToLower(name) {
		case "global":
			base.Global = r
		case "group":
			base.Group = r
		case "channel":
			base.Channel = r
		case "private":
			base.Private = r
		case "chat":
			base.Group, base.Channel, base.Private = r, r, r
		default:
			return base, fmt.Errorf("limit %q: unknown; use global, group, channel, private or chat", name)
		}
	}
	return base, nil
}

// parseRate reads "20/min", "1/s", "5/5s" or "3600/h" as a token bucket whose burst is
// the count.
func parseRate(v string) (Rate, error) {
	count, per, ok := strings.Cut(strings.TrimSpace(v), "/")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want count/period, e.g. 20/min", v)
	}
	var period time.Duration
	switch per {
	case "s", "sec":
		period = time.Second
	case "min", "m":
		period = time.Minute
	case "h":
		period = time.Hour
	default:
		if period, err = time.ParseDuration(per); err != nil || period <= 0 {
			return Rate{}, fmt.Errorf("rate %q: unknown period %q", v, per)
		}
	}
	return Rate{Limit: rate.Limit(float64(n) / period.Seconds()), Burst: n}, nil
}
