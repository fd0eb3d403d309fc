package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// sseInterval is how often /events pushes stats and changes.
const sseInterval = time.Second

// maxSSEOrders bounds the sagas of one "orders" event; with more changes the event says
// reset and the client reloads its lists.
const maxSSEOrders = 200

// Stats is the data of the "stats" server-sent event.
type Stats struct {
	Time  time.Time `json:"time"`
	Ready bool      `json:"ready"`
	// Total is the number of sagas held, of every type.
	Total int `json:"total"`
	// Counts is the number of sagas in each status, every type together.
	Counts map[string]int `json:"counts"`
	// Types is the number of sagas of each type in each of its statuses
	// (ReadModel.Counts).
	Types      map[string]map[string]int `json:"types"`
	Throughput Throughput                `json:"throughput"`
}

// OrdersEvent is the data of the "orders" server-sent event: the sagas of every type that
// changed since the previous one (newest first). Reset means more changed than listed:
// reload.
type OrdersEvent struct {
	Orders []Summary `json:"orders"`
	Reset  bool      `json:"reset"`
}

func (s *Service) stats() Stats {
	types, total := s.model.Counts()
	counts := map[string]int{}
	for _, byStatus := range types {
		for st, n := range byStatus {
			counts[st] += n
		}
	}
	return Stats{Time: time.Now().UTC(), Ready: s.model.Ready(), Total: total, Counts: counts, Types: types, Throughput: s.model.Throughput()}
}

// sseWriteTimeout bounds each write of a stream; the server's WriteTimeout does not apply
// to streams (it would end them).
const sseWriteTimeout = 10 * time.Second

// sseRetryAfter is the Retry-After of a stream refused at the limit, in seconds.
const sseRetryAfter = "5"

// events streams server-sent events: "stats" (Stats) at once and every second, and
// "orders" (OrdersEvent) every second in which orders changed. It ends when the client
// goes away or the server shuts down. Beyond Config.MaxSSEClients open streams it answers
// 503 with Retry-After.
func (s *Service) events(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead { // no stream to hold open
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	if n := s.sseClients.Add(1); n > int64(s.cfg.MaxSSEClients) {
		s.sseClients.Add(-1)
		s.metrics.rejected.WithLabelValues("too_many_streams").Inc()
		w.Header().Set("Retry-After", sseRetryAfter)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many open event streams (the limit is %d, "+
			"--max-sse-clients): try again later", s.cfg.MaxSSEClients), nil)
		return
	}
	defer s.sseClients.Add(-1)
	rc := http.NewResponseController(w)
	// Each write gets its own deadline instead of the server's WriteTimeout, which counts
	// from the start of the request and would cut every stream.
	deadline := func() bool {
		err := rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		return err == nil || errors.Is(err, http.ErrNotSupported)
	}
	if !deadline() {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s.metrics.sseClients.Inc()
	defer s.metrics.sseClients.Dec()

	send := func(event string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil || !deadline() {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	seq := s.model.ChangeSeq()
	if !send("stats", s.stats()) {
		return
	}
	tick := time.NewTicker(sseInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopSSE:
			return
		case <-tick.C:
		}
		if !send("stats", s.stats()) {
			return
		}
		changed, next, reset := s.model.Changes(seq)
		seq = next
		if len(changed) > maxSSEOrders {
			changed, reset = nil, true
		}
		if len(changed) > 0 || reset {
			if !send("orders", OrdersEvent{Orders: changed, Reset: reset}) {
				return
			}
		}
	}
}
