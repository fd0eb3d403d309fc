package sample

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Tracker records placed orders and returns (sagas, by saga ID) and the lifecycle events
// seen for them, and compares what became of each with what must. Safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	orders  map[string]*tracked
	pending int
}

type tracked struct {
	want     Outcome
	placedAt time.Time
	status   string
	reason   string
	doneAt   time.Time
	events   int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{orders: make(map[string]*tracked)} }

// Placed records that an order was written at the given time.
func (t *Tracker) Placed(o Order, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.orders[o.Placed.OrderID]; !ok {
		t.pending++
	}
	t.orders[o.Placed.OrderID] = &tracked{want: o.Want, placedAt: at}
}

// PlacedReturn records that a return was requested at the given time.
func (t *Tracker) PlacedReturn(r Return, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.orders[r.Requested.ReturnID]; !ok {
		t.pending++
	}
	t.orders[r.Requested.ReturnID] = &tracked{want: r.Want, placedAt: at}
}

// Observe records a lifecycle status seen for an order or a return (its saga ID) at the
// given time: "approved", "completed", "cancelled", "failed" for an order, "picked-up",
// "refunded", "rejected", "failed" for a return. Statuses of sagas it did not place are
// ignored. It reports whether the saga just became terminal. A failed saga waits for an
// operator; it counts as terminal, and may later become cancelled or rejected (an
// operator's retry).
func (t *Tracker) Observe(orderID, status, reason string, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.orders[orderID]
	if !ok {
		return false
	}
	o.events++
	if !terminal(status) {
		return false
	}
	if o.status == "failed" && (compensated(status) || status == "failed") {
		// An operator's retry finished the compensation of a failed order.
		o.status, o.reason, o.doneAt = status, reason, at
		return false
	}
	if terminal(o.status) {
		if status != o.status {
			o.status = "conflict:" + o.status + "+" + status
		}
		return false
	}
	o.status, o.reason, o.doneAt = status, reason, at
	t.pending--
	return true
}

func terminal(status string) bool {
	return status == "completed" || status == StatusRefunded || compensated(status) || status == "failed" ||
		strings.HasPrefix(status, "conflict:")
}

// compensated reports whether status is the end of a compensated saga: a cancelled order or
// a rejected return.
func compensated(status string) bool { return status == "cancelled" || status == StatusRejected }

// Pending is the number of placed orders not yet terminal.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}

// Summary is what became of the tracked orders.
type Summary struct {
	Placed     int
	ByStatus   map[string]int
	ByReason   map[string]int // cancelled orders and rejected returns by failure reason
	Pending    []string       // order IDs not terminal, sorted
	Mismatches []string       // "id: want X, got Y", sorted
	P50, P99   time.Duration  // placed → terminal
}

// Summary computes the summary now.
func (t *Tracker) Summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Summary{Placed: len(t.orders), ByStatus: map[string]int{}, ByReason: map[string]int{}}
	var lat []time.Duration
	for id, o := range t.orders {
		if !terminal(o.status) {
			s.Pending = append(s.Pending, id)
			continue
		}
		s.ByStatus[o.status]++
		if compensated(o.status) {
			s.ByReason[o.reason]++
		}
		lat = append(lat, o.doneAt.Sub(o.placedAt))
		if o.want.Status != "" && (o.status != o.want.Status || (o.want.Reason != "" && o.reason != o.want.Reason)) {
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("%s: want %s %s, got %s %s", id, o.want.Status, o.want.Reason, o.status, o.reason))
		}
	}
	sort.Strings(s.Pending)
	sort.Strings(s.Mismatches)
	if len(lat) > 0 {
		slices.Sort(lat)
		s.P50 = lat[len(lat)*50/100]
		s.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return s
}

// String renders the summary as a small report.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "orders placed: %d, terminal: %d, pending: %d\n", s.Placed, s.Placed-len(s.Pending), len(s.Pending))
	for _, st := range sortedKeys(s.ByStatus) {
		fmt.Fprintf(&b, "  %-10s %6d\n", st, s.ByStatus[st])
	}
	if len(s.ByReason) > 0 {
		b.WriteString("cancelled by reason:\n")
		for _, r := range sortedKeys(s.ByReason) {
			fmt.Fprintf(&b, "  %-22s %6d\n", r, s.ByReason[r])
		}
	}
	fmt.Fprintf(&b, "latency placed→terminal: p50 %s, p99 %s\n", s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond))
	if len(s.Mismatches) > 0 {
		fmt.Fprintf(&b, "MISMATCHED OUTCOMES (%d):\n", len(s.Mismatches))
		for _, m := range s.Mismatches[:min(len(s.Mismatches), 20)] {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	}
	return b.String()
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
