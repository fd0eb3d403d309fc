package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/podiumhq/podium/events"
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

// Defaults of Limits.
const (
	// DefaultRetention matches the orchestrator's default --retention: a finished order
	// leaves the read model when the orchestrator tombstones its snapshot.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultMaxOrders bounds the read model to about 70 MiB of heap (~720 bytes per
	// finished order, see the package doc): small enough for a 256 MiB container, and a
	// window of hours at tens of orders per second (100,000 / rate seconds).
	DefaultMaxOrders = 100_000
)

// Limits bound what a ReadModel holds.
type Limits struct {
	// Retention is how long a finished order (completed or cancelled; failed waits for an
	// operator and is not finished) stays after it finished. Default: 7 days
	// (DefaultRetention).
	Retention time.Duration
	// MaxOrders caps the orders held: beyond it, the finished orders that finished first
	// are dropped. Orders in flight are never dropped, so the count may exceed MaxOrders
	// while more orders than that are in flight. Default: 100,000 (DefaultMaxOrders).
	MaxOrders int
}

func (l Limits) withDefaults() Limits {
	if l.Retention == 0 {
		l.Retention = DefaultRetention
	}
	if l.MaxOrders == 0 {
		l.MaxOrders = DefaultMaxOrders
	}
	return l
}

// Validate reports every problem of l at once.
func (l Limits) Validate() error {
	var errs []error
	if l.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention %s: must not be negative", l.Retention))
	}
	if l.MaxOrders < 0 {
		errs = append(errs, fmt.Errorf("max orders %d: must not be negative", l.MaxOrders))
	}
	return errors.Join(errs...)
}

// Summary is what the lists, the dashboard and the server-sent events show of an order.
type Summary struct {
	OrderID    string       `json:"order_id"`
	Status     order.Status `json:"status"`
	SagaStatus saga.Status  `json:"saga_status"`
	Definition string       `json:"definition"`
	// Version is the newest saga version seen, in a snapshot or a timeline record.
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Reason is why the order is cancelling, cancelled or failed.
	Reason string `json:"reason,omitempty"`
	// FailedStep is the step whose failure cancelled the order ("" for a cancel request).
	FailedStep string `json:"failed_step,omitempty"`
	// Total and Currency come from the OrderPlaced input.
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
	// StepsDone counts the steps that succeeded; StepsTotal the steps of the saga's
	// forward path (OnCompensated steps excluded when known). Both are 0 until a snapshot
	// of the order was read.
	StepsDone  int `json:"steps_done"`
	StepsTotal int `json:"steps_total"`
	// Deleted is set (in change notifications only) when the order left the read model:
	// its retention window passed or the MaxOrders cap evicted it.
	Deleted bool `json:"deleted,omitempty"`
}

// entry is one order in the read model. Its summary comes from the newest snapshot, except
// that a timeline record of a newer version (orders.events is often read before the
// snapshot the same batch wrote) moves the status and update time on; an order whose
// snapshot was not read yet, or was tombstoned, is known by its timeline and its last
// known summary.
type entry struct {
	id string
	// status and updated are the order status and update time (Unix nanoseconds) shown
	// and indexed; refresh recomputes them.
	status  order.Status
	updated int64
	snap    snapState
	tl      timeline
	// finished is when the order finished (or was tombstoned), in Unix nanoseconds; 0 while
	// it is in flight. Finished orders are in the heap at heapIdx (-1: not in it).
	finished int64
	heapIdx  int32
	// hasSnap is set while a snapshot is held; tombstoned once the orchestrator removed it
	// (steps and input are then dropped, the summary stays).
	hasSnap    bool
	tombstoned bool
}

var approvedMilestone = []string{order.MilestoneApproved}

// sagaStatus is the saga status of the newest version seen.
func (e *entry) sagaStatus() saga.Status {
	if e.tl.status != (sym{}) && e.tl.version > e.snap.version {
		return saga.Status(e.tl.status.String())
	}
	return saga.Status(e.snap.sagaStatus.String())
}

// refresh recomputes status, updated and finished after a change.
func (e *entry) refresh() {
	ss := e.sagaStatus()
	st := &saga.State{Status: ss}
	if e.tl.approved || e.snap.approved {
		st.Milestones = approvedMilestone
	}
	e.status = order.StatusOf(st)
	e.updated = e.snap.updated
	if e.tl.version > e.snap.version {
		e.updated = max(e.updated, e.tl.last)
	}
	switch {
	case ss.Terminal() || e.tombstoned:
		if e.finished == 0 {
			e.finished = max(e.updated, 1)
		}
	default:
		e.finished = 0
	}
}

func (e *entry) summary() Summary {
	return Summary{
		OrderID:    e.id,
		Status:     e.status,
		SagaStatus: e.sagaStatus(),
		Definition: e.snap.definition.String(),
		Version:    max(e.snap.version, e.tl.version),
		CreatedAt:  fromNanos(e.snap.created),
		UpdatedAt:  fromNanos(e.updated),
		Reason:     e.snap.reason.String(),
		FailedStep: e.snap.failedStep.String(),
		Total:      e.snap.total,
		Currency:   e.snap.currency.String(),
		StepsDone:  int(e.snap.stepsDone),
		StepsTotal: int(e.snap.stepsTotal),
	}
}

// Change is the effect of one record on the read model.
type Change struct {
	OrderID string
	// Applied is false for a stale snapshot or timeline record (a version at most the one
	// held), a repeated tombstone, a record of another type, or an unreadable record.
	Applied bool
	// Deleted is set when the order left the read model at once (it finished longer ago
	// than the retention window, or the cap evicted it).
	Deleted bool
	// Other is set for a record of orders.events that is not a timeline record.
	Other bool
	// From and To are the order's status before and after ("" when absent).
	From, To order.Status
}

// ErrBadCursor is returned by List for a cursor it did not issue.
var ErrBadCursor = errors.New("malformed cursor")

// ReadModel is the in-memory view of every order in its window: the summary and steps of
// its latest snapshot from podium.saga-state (the highest Version wins), and its timeline
// from the timeline records of orders.events (a redelivered version is skipped). It is
// indexed by ID, by status and by recency (updated time, newest first, then ID). It also
// remembers the last changes (for server-sent events) and how many orders finished per
// second (throughput).
//
// It is bounded (Limits): a finished order is dropped Retention after it finished, and
// beyond MaxOrders the finished orders that finished first are dropped. Both happen as
// records are applied and on Expire.
//
// A ReadModel is safe for concurrent use: Apply, ApplyEvent and Expire take a write lock
// (records are decoded before), readers a read lock.
type ReadModel struct {
	defs   map[string]*saga.Definition // by name, for StepsTotal
	limits Limits
	syms   *symbols
	now    func() time.Time

	mu       sync.RWMutex
	orders   map[string]*entry
	all      *recency
	byStatus map[order.Status]*recency
	finished finishedHeap
	ready    bool
	seq      uint64
	changes  [changeRing]changeRec
	rates    throughput
	expired  uint64 // orders dropped at the end of their retention window
	evicted  uint64 // finished orders dropped by the cap
}

// changeRing is how many recent changes are remembered for Changes.
const changeRing = 4096

type changeRec struct {
	seq uint64
	id  string
}

// NewReadModel returns an empty read model bounded by lim (zero fields take their
// defaults). defs are the saga definitions whose step counts the summaries report; states
// of other definitions are held all the same.
func NewReadModel(lim Limits, defs ...*saga.Definition) *ReadModel {
	m := &ReadModel{
		defs:     make(map[string]*saga.Definition, len(defs)),
		limits:   lim.withDefaults(),
		syms:     newSymbols(),
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

// Limits returns the bounds of the model, defaults applied.
func (m *ReadModel) Limits() Limits { return m.limits }

// isInternal reports whether a podium.saga-state key is one of the orchestrator's internal
// records (its dedupe index), which are not orders.
func isInternal(key []byte) bool { return len(key) > 0 && key[0] == '~' }

// Apply applies one podium.saga-state record: key is the order ID, value the JSON of a
// snapshot (format 1 or 2) or nil for a tombstone. A snapshot whose Version is not above
// the one held is ignored (a zombie writer's or a replayed record). A format-1 snapshot's
// history becomes the order's timeline unless timeline records of at least its version
// were applied. A tombstone drops the snapshot (steps, input) and starts the order's
// retention window if it had not finished. Keys beginning with "~" are ignored. value is
// not retained. An error means the record could not be read; the model is then unchanged.
func (m *ReadModel) Apply(key, value []byte) (Change, error) {
	if isInternal(key) {
		return Change{}, nil
	}
	if value == nil {
		return m.tombstone(string(key)), nil
	}
	ds, err := m.decodeSnapshot(key, value)
	if err != nil {
		return Change{OrderID: string(key)}, err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.orders[ds.id]
	if e != nil && e.hasSnap && ds.state.version <= e.snap.version {
		return Change{OrderID: ds.id, From: e.status, To: e.status}, nil
	}
	return m.change(ds.id, e, func(e *entry) {
		old := e.snap
		e.snap = ds.state
		if e.snap.total == 0 && e.snap.currency == (sym{}) { // no input in this snapshot
			e.snap.total, e.snap.currency = old.total, old.currency
		}
		if e.snap.created == 0 {
			e.snap.created = old.created
		}
		e.hasSnap, e.tombstoned = true, false
		if ds.history != nil && ds.state.version > e.tl.version {
			e.tl.replace(ds.history, ds.historyDropped, TimelineLimit)
			e.tl.version = ds.state.version
		}
	}), nil
}

func (m *ReadModel) tombstone(id string) Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.orders[id]
	if e == nil || e.tombstoned {
		return Change{OrderID: id}
	}
	return m.change(id, e, func(e *entry) {
		e.hasSnap, e.tombstoned = false, true
		e.snap.steps, e.snap.input = nil, nil
	})
}

// ApplyEvent applies one record of orders.events, in offset order. A timeline record
// (podium.saga.timeline.v1) appends its entries to the order's timeline; a redelivery (the
// base version and version of a record applied, or, for a record without a base version,
// a version at most the last one applied) is skipped, and a record whose base version is
// below the last version applied replaces the entries applied after its base (the redo of
// a new owner after a failover; see timeline.plan). The timeline keeps the newest
// TimelineLimit entries. A rejected operator request (podium.order.control-rejected.v1)
// that the saga's own timeline does not record — the order had finished — adds a
// "rejected" entry to the timeline of an order the model holds. Other records change
// nothing (Change.Other). An error means the record could not be read (it is not a
// CloudEvent, or its timeline data is malformed or out of bounds); the model is then
// unchanged.
func (m *ReadModel) ApplyEvent(key, value []byte, headers []events.Header) (Change, error) {
	rec, err := decodeTimeline(key, value, headers)
	switch {
	case errors.Is(err, errNotTimeline):
		if rej, ok := decodeRejection(key, value, headers); ok {
			return m.applyRejection(rej), nil
		}
		return Change{OrderID: string(key), Other: true}, nil
	case err != nil:
		return Change{OrderID: string(key)}, fmt.Errorf("decoding timeline record of %s: %w", key, err)
	}
	id := rec.SagaID
	pre := m.syms.prepare(id, rec.Entries)
	approved := reachesApproved(rec.Entries)

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.orders[id]
	cut := int64(-1)
	if e != nil {
		var apply bool
		if apply, cut = e.tl.plan(rec.BaseVersion, rec.Version, rec.Generation); !apply {
			return Change{OrderID: id, From: e.status, To: e.status}, nil
		}
	}
	return m.change(id, e, func(e *entry) {
		if cut >= 0 {
			e.tl.truncate(cut, id, m.syms)
		}
		e.tl.mark(rec.BaseVersion, rec.Version, e.tl.total())
		e.tl.add(pre, TimelineLimit)
		e.tl.version = rec.Version
		e.tl.gen = max(e.tl.gen, rec.Generation)
		e.tl.status = intern(string(rec.Status))
		e.tl.approved = e.tl.approved || approved
		if e.snap.definition == (sym{}) {
			e.snap.definition = intern(rec.Definition)
		}
		if e.snap.created == 0 {
			e.snap.created = pre[0].at
		}
	}), nil
}

// change applies mutate to the order id (e, or a new entry when e is nil), keeps the
// indexes, the change log and the throughput up to date, and enforces the limits. The
// caller holds the write lock.
func (m *ReadModel) change(id string, e *entry, mutate func(*entry)) Change {
	ch := Change{OrderID: id, Applied: true}
	isNew := e == nil
	if isNew {
		e = &entry{id: id, heapIdx: -1}
		m.orders[id] = e
	} else {
		ch.From = e.status
		m.unindex(e)
	}
	mutate(e)
	e.refresh()
	m.index(e)
	switch {
	case e.finished != 0 && e.heapIdx < 0:
		m.finished.push(e)
	case e.finished != 0:
		m.finished.fix(e)
	case e.heapIdx >= 0:
		m.finished.remove(e)
	}
	ch.To = e.status
	m.noteChange(id)
	now := m.now()
	if m.ready {
		if isNew {
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
	m.enforce(now)
	ch.Deleted = m.orders[id] != e
	return ch
}

// enforce drops the finished orders whose retention window ended, then, while more than
// MaxOrders orders are held, the finished orders that finished first. The caller holds
// the write lock. It returns how many orders it dropped.
func (m *ReadModel) enforce(now time.Time) int {
	n := 0
	cutoff := now.Add(-m.limits.Retention).UnixNano()
	for e := m.finished.peek(); e != nil && e.finished <= cutoff; e = m.finished.peek() {
		m.drop(e)
		m.expired++
		n++
	}
	for e := m.finished.peek(); e != nil && len(m.orders) > m.limits.MaxOrders; e = m.finished.peek() {
		m.drop(e)
		m.evicted++
		n++
	}
	return n
}

func (m *ReadModel) drop(e *entry) {
	m.unindex(e)
	if e.heapIdx >= 0 {
		m.finished.remove(e)
	}
	delete(m.orders, e.id)
	m.noteChange(e.id)
}

// Expire drops the finished orders whose retention window ended (and, should the model
// hold more than MaxOrders orders, the oldest finished ones), and returns how many it
// dropped. Applying a record does the same; Expire is for when no records arrive.
func (m *ReadModel) Expire() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enforce(m.now())
}

// Dropped returns how many orders left the read model so far: at the end of their
// retention window, and evicted by the MaxOrders cap.
func (m *ReadModel) Dropped() (expired, evicted uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.expired, m.evicted
}

func (m *ReadModel) index(e *entry) {
	k := orderKey{updated: e.updated, id: e.id}
	m.all.insert(k, e)
	if l := m.byStatus[e.status]; l != nil {
		l.insert(k, e)
	}
}

func (m *ReadModel) unindex(e *entry) {
	k := orderKey{updated: e.updated, id: e.id}
	m.all.remove(k)
	if l := m.byStatus[e.status]; l != nil {
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

// Get returns an order's summary.
func (m *ReadModel) Get(id string) (Summary, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.orders[id]
	if e == nil {
		return Summary{}, false
	}
	return e.summary(), true
}

// orderView is a consistent copy of one order, taken under the read lock; its slices are
// never modified, so it is read after the lock is released.
type orderView struct {
	Summary
	snap       snapState
	hasSnap    bool
	tombstoned bool
	tl         timeline
	// expires is when the order leaves the read model (zero while in flight).
	expires time.Time
}

func (m *ReadModel) view(id string) (orderView, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.orders[id]
	if e == nil {
		return orderView{}, false
	}
	v := orderView{Summary: e.summary(), snap: e.snap, hasSnap: e.hasSnap, tombstoned: e.tombstoned, tl: e.tl}
	if e.finished != 0 {
		v.expires = fromNanos(e.finished).Add(m.limits.Retention)
	}
	return v, true
}

// timeline returns the order's timeline entries, oldest first.
func (v *orderView) timeline(syms *symbols) []events.TimelineEntry {
	return v.tl.entries(v.OrderID, syms)
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
	var last orderKey
	for ; n != nil && len(p.Orders) < q.Limit; n = n.next[0] {
		p.Orders = append(p.Orders, n.e.summary())
		last = n.key
	}
	if n != nil && len(p.Orders) > 0 {
		p.NextCursor = encodeCursor(last)
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
			orders = append(orders, e.summary())
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
