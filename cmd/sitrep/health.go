package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/sitrep-bot/sitrep/store"
)

// The states of a chat platform in serve.
const (
	stateConnecting = "connecting" // not connected yet, or reconnecting
	stateRunning    = "running"    // connected and receiving
	stateFailing    = "failing"    // its last attempt failed; retried with backoff
)

// componentState is what /healthz says about one chat platform.
type componentState struct {
	mu    sync.Mutex
	state string
	err   string
	since time.Time
}

// set records a state, and the error that caused it if any. The time only moves
// when the state changes.
func (c *componentState) set(state string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state != c.state {
		c.since = time.Now()
	}
	c.state = state
	c.err = ""
	if err != nil {
		c.err = err.Error()
	}
}

// componentReport is one platform in the /healthz answer.
type componentReport struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
	Error string    `json:"error,omitempty"`
}

// healthCheck answers /healthz: 200 when the store accepts writes and every platform
// is running, 503 otherwise, with a JSON body saying which part is not.
type healthCheck struct {
	store *store.Store
	mu    sync.Mutex
	names []string
	parts map[string]*componentState
}

// component registers a platform and returns its state.
func (h *healthCheck) component(name string) *componentState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.parts == nil {
		h.parts = map[string]*componentState{}
	}
	c := &componentState{state: stateConnecting, since: time.Now()}
	h.parts[name] = c
	h.names = append(h.names, name)
	return c
}

// healthReport is the /healthz answer.
type healthReport struct {
	Status     string            `json:"status"` // "ok" or "unhealthy"
	Store      string            `json:"store"`  // "writable" or why not
	Components []componentReport `json:"platforms"`
}

// ServeHTTP implements http.Handler.
func (h *healthCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	rep := healthReport{Status: "ok", Store: "writable"}
	if err := h.store.Writable(ctx); err != nil {
		rep.Status, rep.Store = "unhealthy", err.Error()
	}
	h.mu.Lock()
	for _, name := range h.names {
		c := h.parts[name]
		c.mu.Lock()
		rep.Components = append(rep.Components, componentReport{Name: name, State: c.state, Since: c.since.UTC(), Error: c.err})
		if c.state != stateRunning {
			rep.Status = "unhealthy"
		}
		c.mu.Unlock()
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rep.Status != "ok" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// liveness answers /livez: 200 while the process serves and its store accepts writes,
// whatever the platforms' state, so that a liveness probe does not restart the whole
// service because one platform is down (that is /healthz's business).
func (h *healthCheck) liveness(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	if err := h.store.Writable(ctx); err != nil {
		http.Error(w, "store not writable", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}
