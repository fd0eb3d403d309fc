package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// Statuses are the order statuses the read model indexes and the list filter accepts, in
// lifecycle order.
var Statuses = []order.Status{
	order.StatusPending, order.StatusApproved, order.StatusCompleted,
	order.StatusCancelling, order.StatusCancelled, order.StatusFailed,
}

// validStatus reports whether s is one of Statuses.
func validStatus(s order.Status) bool { return slices.Contains(Statuses, s) }

// Paging limits of ReadModel.List.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Summary is what the read model knows about an order without parsing its snapshot: the
// lists, the dashboard and the server-sent events show it.
type Summary struct {
	OrderID    string       `json:"order_id"`
	Status     order.Status `json:"status"`
	SagaStatus saga.Status  `json:"saga_status"`
	Definition string       `json:"definition"`
	Version    uint64       `json:"version"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	// Reason is why the order is cancelling, cancelled or failed.
	Reason string `json:"reason,omitempty"`
	// FailedStep is the step whose failure cancelled the order ("" for a cancel request).
	FailedStep string `json:"failed_step,omitempty"`
	// Total and Currency come from the OrderPlaced input.
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
	// StepsDone counts the steps that succeeded; StepsTotal the steps of the saga's
	// forward path (OnCompensated steps excluded when known).
	StepsDone  int `json:"steps_done"`
	StepsTotal int `json:"steps_total"`
	// Deleted is set (in change notifications only) when a tombstone removed the order.
	Deleted bool `json:"deleted,omitempty"`
}

// entry is one order in the read model: its summary and its latest snapshot exactly as
// read from the changelog (the only copy of the bytes; detail views parse it on demand).
type entry struct {
	Summary
	snapshot []byte
}

// Change is the effect of one changelog record on the read model.
type Change struct {
	OrderID string
	// Applied is false for a stale snapshot (a version at most the one held), a repeated
	// tombstone, or an unreadable record.
	Applied bool
	Deleted bool
	// From and To are the order's status before and after ("" when absent).
	From, To order.Status
}

// ErrBadCursor is returned by List for a cursor it did not issue.
var ErrBadCursor = errors.New("malformed cursor")

// ReadModel is the in-memory view of podium.saga-state: the latest snapshot of every
// order (the highest Version wins, a tombstone removes it), indexed by ID, by status and
// by recency (updated time, newest first, then ID). It also remembers the last changes
// (for server-sent events) and how many orders finished per second (throughput).
//
// A ReadModel is safe for concurrent use: Apply takes a write lock, readers a read lock.
type ReadModel struct {
	defs map[string]*saga.Definition // by name, for StepsTotal
	now  func() time.Time

	mu       sync.RWMutex
	orders   map[string]*entry
	all      *recency
	byStatus map[order.Status]*recency
	ready    bool
	seq      uint64
	changes  [changeRing]changeRec
	rates    throughput
}

// changeRing is how many recent changes are remembered for Changes.
const changeRing = 4096

type changeRec struct {
	seq uint64
	id  string
}

// NewReadModel returns an empty read model. defs are the saga definitions whose step
// counts the summaries report; states of other definitions are held all the same.
func NewReadModel(defs ...*saga.Definition) *ReadModel {
	m := &ReadModel{
		defs:     make(map[string]*saga.Definition, len(defs)),
		now:      time.Now,
		orders:   make(map[string]*entry),
		all:      newRecency(0x9e3779b97f4a7c15),
		byStatus: make(map[order.Status]*recency, len(Statuses)),
	}
	for i, s := range Statuses {
		m.byStatus[s] = newRecency(uint64(i+1) * 0x2545f4914f6cdd1d)
	}
	for _, d := range defs {
		m.defs[d.Name] = d
	}
	return m
}

// Apply applies one changelog record: key is the order ID, value the JSON of a
// saga.State or nil for a tombstone. A snapshot whose Version is not above the one held is
// ignored (a zombie writer's or a replayed record). value is kept, not copied: the caller
// must not modify it afterwards. An error means the record could not be read; the model
// is then unchanged.
func (m *ReadModel) Apply(key, value []byte) (Change, error) {
	id := string(key)
	if value == nil {
		return m.remove(id), nil
	}
	var s saga.State
	if err := json.Unmarshal(value, &s); err != nil {
		return Change{OrderID: id}, fmt.Errorf("decoding snapshot of %s: %w", id, err)
	}
	if id == "" {
		id = s.SagaID
	}
	if id == "" {
		return Change{}, errors.New("decoding snapshot: no order ID in key or state")
	}
	sum := m.summarise(id, &s)

	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.orders[id]
	ch := Change{OrderID: id, To: sum.Status}
	if old != nil {
		ch.From = old.Status
		if sum.Version <= old.Version {
			ch.To = old.Status
			return ch, nil
		}
		if sum.Total == 0 && sum.Currency == "" { // the input did not parse this time
			sum.Total, sum.Currency = old.Total, old.Currency
		}
		m.unindex(old)
	}
	e := &entry{Summary: sum, snapshot: value}
	m.orders[id] = e
	m.index(e)
	ch.Applied = true
	m.noteChange(id)
	if m.ready {
		now := m.now()
		if old == nil {
			m.rates.add(now, rateKeyPlaced)
		}
		if ch.To != ch.From {
			switch ch.To {
			case order.StatusCompleted:
				m.rates.add(now, rateKeyCompleted)
			case order.StatusCancelled:
				m.rates.add(now, rateKeyCancelled)
			case order.StatusFailed:
				m.rates.add(now, rateKeyFailed)
			}
		}
	}
	return ch, nil
}

func (m *ReadModel) remove(id string) Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.orders[id]
	if old == nil {
		return Change{OrderID: id}
	}
	m.unindex(old)
	delete(m.orders, id)
	m.noteChange(id)
	return Change{OrderID: id, Applied: true, Deleted: true, From: old.Status}
}

// summarise computes the summary of a state (outside the lock).
func (m *ReadModel) summarise(id string, s *saga.State) Summary {
	sum := Summary{
		OrderID:    id,
		Status:     order.StatusOf(s),
		SagaStatus: s.Status,
		Definition: s.Definition,
		Version:    s.Version,
		CreatedAt:  s.CreatedAt,
		UpdatedAt:  s.UpdatedAt,
		Reason:     s.Reason,
		FailedStep: s.FailedStep,
	}
	var in struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	}
	if json.Unmarshal(s.Input, &in) == nil {
		sum.Total, sum.Currency = in.Total, in.Currency
	}
	d := m.defs[s.Definition]
	for name, st := range s.Steps {
		if d != nil && slices.ContainsFunc(d.OnCompensated, func(x saga.Step) bool { return x.Name == name }) {
			continue
		}
		sum.StepsTotal++
		if st != nil && (st.Status == saga.StepSucceeded || st.Outcome == saga.OutcomeSuccess) {
			sum.StepsDone++
		}
	}
	return sum
}

func (m *ReadModel) index(e *entry) {
	k := keyOf(e.UpdatedAt, e.OrderID)
	m.all.insert(k, e)
	if l := m.byStatus[e.Status]; l != nil {
		l.insert(k, e)
	}
}

func (m *ReadModel) unindex(e *entry) {
	k := keyOf(e.UpdatedAt, e.OrderID)
	m.all.remove(k)
	if l := m.byStatus[e.Status]; l != nil {
		l.remove(k)
	}
}

func (m *ReadModel) noteChange(id string) {
	m.seq++
	m.changes[m.seq%changeRing] = changeRec{seq: m.seq, id: id}
}

// SetReady marks the initial restore as done. From then on, new orders and orders that
// reach completed, cancelled or failed count towards the throughput (during the restore
// they would all land in the same second).
func (m *ReadModel) SetReady() {
	m.mu.Lock()
	m.ready = true
	m.mu.Unlock()
}

// Ready reports whether SetReady was called.
func (m *ReadModel) Ready() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.ready
}

// Get returns an order's summary and its latest snapshot (the saga.State JSON; do not
// modify it).
func (m *ReadModel) Get(id string) (Summary, []byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.orders[id]
	if e == nil {
		return Summary{}, nil, false
	}
	return e.Summary, e.snapshot, true
}

// Len is the number of orders held.
func (m *ReadModel) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.orders)
}

// Counts returns the number of orders in each of Statuses (every status present, zero
// included) and the total, which also counts orders of unknown status.
func (m *ReadModel) Counts() (map[order.Status]int, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	counts := make(map[order.Status]int, len(Statuses))
	for _, s := range Statuses {
		counts[s] = m.byStatus[s].len()
	}
	return counts, len(m.orders)
}

// ListQuery selects a page of orders.
type ListQuery struct {
	// Status filters by order status; "" lists every order. Must be one of Statuses.
	Status order.Status
	// Limit is the page size. Default: 50 (DefaultLimit); at most 500 (MaxLimit).
	Limit int
	// Cursor continues after the last order of a previous page (Page.NextCursor).
	Cursor string
}

// Page is one page of a list, most recently updated first.
type Page struct {
	Orders []Summary `json:"orders"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Total is the number of orders matching the filter now.
	Total int `json:"total"`
}

// List returns a page of orders, newest update first (ties by order ID). Paging is by
// keyset: a cursor names the last order of the previous page by (updated time, ID), so
// pages never repeat or skip an order that did not change meanwhile; an order updated
// between two requests moves to the front and may be seen twice or not at all.
func (m *ReadModel) List(q ListQuery) (Page, error) {
	if q.Status != "" && !validStatus(q.Status) {
		return Page{}, fmt.Errorf("unknown status %q", q.Status)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return Page{}, fmt.Errorf("limit %d out of range 1..%d", q.Limit, MaxLimit)
	}
	var after *orderKey
	if q.Cursor != "" {
		k, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = &k
	}

	m.mu.RLock()
	defer m.mu.RUnlock()
	l := m.all
	if q.Status != "" {
		l = m.byStatus[q.Status]
	}
	p := Page{Orders: make([]Summary, 0, min(q.Limit, l.len())), Total: l.len()}
	n := l.after(after)
	for ; n != nil && len(p.Orders) < q.Limit; n = n.next[0] {
		p.Orders = append(p.Orders, n.e.Summary)
	}
	if n != nil && len(p.Orders) > 0 {
		last := p.Orders[len(p.Orders)-1]
		p.NextCursor = encodeCursor(keyOf(last.UpdatedAt, last.OrderID))
	}
	return p, nil
}

// A cursor is base64url("<unix nanos>.<order ID>"); order IDs may contain dots, the time
// may not.
func encodeCursor(k orderKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.updated, 10) + "." + k.id))
}

func decodeCursor(c string) (orderKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return orderKey{}, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), ".")
	if !ok || id == "" {
		return orderKey{}, ErrBadCursor
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return orderKey{}, ErrBadCursor
	}
	return orderKey{updated: n, id: id}, nil
}

// ChangeSeq is the sequence number of the latest change (0 before the first): pass it to
// Changes to see what changes after now.
func (m *ReadModel) ChangeSeq() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.seq
}

// Changes returns the current summaries of the orders changed after sequence number since
// (each once, most recent change first, removed orders with Deleted set), and the
// sequence number to pass next time. reset is true when more changes happened than the
// model remembers (4096): the caller should reload whatever it shows.
func (m *ReadModel) Changes(since uint64) (orders []Summary, next uint64, reset bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if since >= m.seq {
		return nil, m.seq, false
	}
	if m.seq-since > changeRing {
		return nil, m.seq, true
	}
	seen := make(map[string]bool)
	for q := m.seq; q > since; q-- {
		c := m.changes[q%changeRing]
		if seen[c.id] {
			continue
		}
		seen[c.id] = true
		if e := m.orders[c.id]; e != nil {
			orders = append(orders, e.Summary)
		} else {
			orders = append(orders, Summary{OrderID: c.id, Deleted: true})
		}
	}
	return orders, m.seq, false
}

// Throughput is orders per second over the last ten seconds, and per-second counts over
// the last minute (oldest first), of orders placed and orders that reached completed,
// cancelled or failed — as seen by this read model since it became ready.
type Throughput struct {
	Window    int                  `json:"window_seconds"`
	PerSecond map[string]float64   `json:"per_second"`
	Series    map[string][]float64 `json:"series"`
}

// Throughput keys.
const (
	rateKeyPlaced = iota
	rateKeyCompleted
	rateKeyCancelled
	rateKeyFailed
	rateKeys
)

var rateNames = [rateKeys]string{"placed", "completed", "cancelled", "failed"}

const (
	rateWindow  = 10 // seconds averaged for PerSecond
	rateHistory = 60 // seconds of Series
)

// throughput counts events per wall-clock second in a ring of rateHistory buckets.
type throughput struct {
	buckets [rateHistory]struct {
		sec    int64
		counts [rateKeys]int
	}
}

func (t *throughput) add(now time.Time, k int) {
	sec := now.Unix()
	b := &t.buckets[sec%rateHistory]
	if b.sec != sec {
		b.sec, b.counts = sec, [rateKeys]int{}
	}
	b.counts[k]++
}

// Throughput returns the current throughput.
func (m *ReadModel) Throughput() Throughput {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.now().Unix()
	out := Throughput{Window: rateWindow, PerSecond: make(map[string]float64, rateKeys), Series: make(map[string][]float64, rateKeys)}
	for k := range rateKeys {
		series := make([]float64, rateHistory)
		sum := 0
		for i := range rateHistory {
			sec := now - int64(rateHistory-1-i)
			b := m.rates.buckets[sec%rateHistory]
			if b.sec != sec {
				continue
			}
			series[i] = float64(b.counts[k])
			if sec > now-rateWindow {
				sum += b.counts[k]
			}
		}
		out.PerSecond[rateNames[k]] = float64(sum) / rateWindow
		out.Series[rateNames[k]] = series
	}
	return out
}
