package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// metrics holds serve's Prometheus registry and the instruments commands update.
type metrics struct {
	reg      *prometheus.Registry
	commands *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// newMetrics registers the command instruments, the store's figures (read at each
// scrape; the outbox counted for each of platforms, zero included) and the Go
// runtime's.
func newMetrics(st *store.Store, platforms []string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sitrep_commands_total",
			Help: "Commands handled, by platform, command and outcome (ok, done, error).",
		}, []string{"platform", "command", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sitrep_command_duration_seconds",
			Help:    "Time to answer a command, by platform and command.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"platform", "command"}),
	}
	m.reg.MustRegister(m.commands, m.latency, storeCollector{st: st, platforms: platforms},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// outcome names how a reply went, for metrics and logs.
func outcome(r bot.Reply) string {
	switch r.Tone {
	case bot.Error:
		return "error"
	case bot.Done:
		return "done"
	}
	return "ok"
}

// middleware counts and times every command the router runs and logs one line for
// each: platform, command, outcome and latency, never the user's text.
func (m *metrics) middleware(log *slog.Logger, known func(string) bool) func(bot.Handler) bot.Handler {
	return func(next bot.Handler) bot.Handler {
		return bot.HandlerFunc(func(ctx context.Context, req *bot.Request) bot.Reply {
			start := time.Now()
			r := next.Serve(ctx, req)
			took := time.Since(start)
			name := req.Command
			if !known(name) {
				name = "unknown" // not a label per typo
			}
			o := outcome(r)
			m.commands.WithLabelValues(req.Chat.Platform, name, o).Inc()
			m.latency.WithLabelValues(req.Chat.Platform, name).Observe(took.Seconds())
			log.InfoContext(ctx, "command", "platform", req.Chat.Platform, "command", name, "outcome", o,
				"latency_ms", float64(took.Microseconds())/1000)
			return r
		})
	}
}

// storeCollector reads the store's figures at each scrape.
type storeCollector struct {
	st        *store.Store
	platforms []string // always reported, so that an empty outbox reads 0, not nothing
}

var (
	descUpdates    = prometheus.NewDesc("sitrep_updates", "Updates in the store, by verification status.", []string{"status"}, nil)
	descPending    = prometheus.NewDesc("sitrep_outbox_pending", "Deliveries waiting to be sent, by platform.", []string{"platform"}, nil)
	descDeliveries = prometheus.NewDesc("sitrep_deliveries_total", "Delivery attempts by platform and outcome (sent, edited, retried, failed, gone…).", []string{"platform", "state"}, nil)
	descStoreUp    = prometheus.NewDesc("sitrep_store_up", "1 when the store could be read at this scrape.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUpdates
	ch <- descPending
	ch <- descDeliveries
	ch <- descStoreUp
}

// Collect implements prometheus.Collector.
func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.st.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 1)
	for _, s := range store.Statuses() {
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.GaugeValue, float64(stats.Updates[s]), string(s))
	}
	for _, p := range c.platforms {
		if _, ok := stats.Pending[p]; !ok {
			stats.Pending[p] = 0
		}
	}
	for platform, n := range stats.Pending {
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(n), platform)
	}
	for key, n := range stats.Counters {
		state, platform, ok := strings.Cut(key, ":")
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.CounterValue, float64(n), platform, state)
	}
}
