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

// EngineStatuses are the engine's names of a saga's statuses: the statuses of the sagas
// of a definition the read model does not serve, in lifecycle order.
var EngineStatuses = []string{
	string(saga.StatusRunning), string(saga.StatusCompleted), string(saga.StatusCompensating),
	string(saga.StatusCompensated), string(saga.StatusFailed),
}

// labelState is one status of a definition: how it names it, and a state in it.
type labelState struct {
	label string
	state saga.State
}

// labelStates lists the statuses of d in lifecycle order (see LabelsOf); for a nil d, the
// engine's statuses by their names.
func labelStates(d *saga.Definition) []labelState {
	states := []saga.State{{Status: saga.StatusRunning}}
	if d != nil {
		for _, ms := range d.Milestones {
			states = append(states, saga.State{Status: saga.StatusRunning, Milestones: []string{ms.Name}})
		}
	}
	for _, st := range []saga.Status{saga.StatusCompleted, saga.StatusCompensating, saga.StatusCompensated, saga.StatusFailed} {
		states = append(states, saga.State{Status: st})
	}
	var out []labelState
	for i := range states {
		l := string(states[i].Status)
		if d != nil {
			l = d.Label(&states[i])
		}
		if !slices.ContainsFunc(out, func(x labelState) bool { return x.label == l }) {
			out = append(out, labelState{label: l, state: states[i]})
		}
	}
	return out
}

// LabelsOf lists the statuses of a definition as it names them (saga.Definition.Label), in
// lifecycle order: running (its Labels.Running), each milestone, completed, compensating,
// compensated, failed. The order saga's are pending, approved, completed, cancelling,
// cancelled, failed.
func LabelsOf(d *saga.Definition) []string {
	var out []string
	for _, ls := range labelStates(d) {
		out = append(out, ls.label)
	}
	return out
}

// Accepting lists the statuses of d (LabelsOf; the engine's for a nil d) in which the
// engine applies an operator's action (saga.ControlCancel, saga.ControlRetry) rather than
// rejecting it (saga.Refusal): for the order saga, cancel in pending and approved, retry in
// failed.
func Accepting(d *saga.Definition, action string) []string {
	var out []string
	for _, ls := range labelStates(d) {
		if saga.Refusal(&ls.state, action) == "" {
			out = append(out, ls.label)
		}
	}
	return out
}

// TypeOf is the saga type of a definition ID as a state records it (saga.Definition.ID):
// the definition's name, without its version ("returns" for "returns@v2").
func TypeOf(definitionID string) string {
	name, _, _ := strings.Cut(definitionID, "@v")
	return name
}

// OrderType is the saga type of the order saga, which the /orders endpoints serve.
const OrderType = order.DefinitionName

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

// Limits bound what a ReadModel holds. They count sagas of every type: orders, returns and
// the rest.
type Limits struct {
	// Retention is how long a finished saga (completed or compensated, e.g. an order
	// completed or cancelled; failed waits for an operator and is not finished) stays after
	// it finished. Default: 7 days (DefaultRetention).
	Retention time.Duration
	// MaxOrders caps the sagas held: beyond it, the finished sagas that finished first are
	// dropped. Sagas in flight are never dropped, so the count may exceed MaxOrders while
	// more sagas than that are in flight. Default: 100,000 (DefaultMaxOrders).
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

// Summary is what the lists, the dashboard and the server-sent events show of a saga.
type Summary struct {
	// SagaID is the saga's ID: an order ID, a return ID, ...
	SagaID string `json:"saga_id"`
	// OrderID is the saga ID again for an order saga (Type OrderType), and empty for the
	// sagas of other types.
	OrderID string `json:"order_id,omitempty"`
	// Type is the saga type: the name of its definition (Definition without its version).
	Type string `json:"type"`
	// Status is the saga's status as its definition names it (saga.Definition.Label):
	// pending, approved, completed, cancelling, cancelled or failed for an order;
	// requested, picked-up, refunded, rejecting, rejected or failed for a return; the
	// engine's status (SagaStatus) for a definition the read model does not serve.
	Status     string      `json:"status"`
	SagaStatus saga.Status `json:"saga_status"`
	// Definition is the definition's ID (saga.Definition.ID): its name, with "@vN" from
	// version 2 on.
	Definition string `json:"definition"`
	// Version is the newest saga version seen, in a snapshot or a timeline record.
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Reason is why the saga is compensating, compensated or failed.
	Reason string `json:"reason,omitempty"`
	// FailedStep is the step whose failure compensated the saga ("" for a cancel request).
	FailedStep string `json:"failed_step,omitempty"`
	// Total and Currency come from the saga's input: an order's total, a return's refund.
	Total    int64  `json:"total"`
	Currency string `json:"currency,omitempty"`
	// StepsDone counts the steps that succeeded; StepsTotal the steps of the saga's
	// forward path (OnCompensated steps excluded when known). Both are 0 until a snapshot
	// of the saga was read.
	StepsDone  int `json:"steps_done"`
	StepsTotal int `json:"steps_total"`
	// Deleted is set (in change notifications only) when the saga left the read model:
	// its retention window passed or the MaxOrders cap evicted it.
	Deleted bool `json:"deleted,omitempty"`
}

// IsOrder reports whether the saga is an order (the /orders endpoints serve it).
func (s Summary) IsOrder() bool { return s.Type == OrderType }

// deletedSummary is the change notification of a saga that left the read model.
func deletedSummary(id string, typ sym) Summary {
	s := Summary{SagaID: id, Type: typ.String(), Deleted: true}
	if s.IsOrder() {
		s.OrderID = id
	}
	return s
}

// entry is one saga in the read model. Its summary comes from the newest snapshot, except
// that a timeline record of a newer version (orders.events is often read before the
// snapshot the same batch wrote) moves the status and update time on; a saga whose
// snapshot was not read yet, or was tombstoned, is known by its timeline and its last
// known summary.
type entry struct {
	id string
	// typ, status and updated are the saga type, the status as its definition names it
	// and the update time (Unix nanoseconds) shown and indexed; refresh recomputes them.
	typ     sym
	status  sym
	updated int64
	snap    snapState
	tl      timeline
	// finished is when the saga finished (or was tombstoned), in Unix nanoseconds; 0 while
	// it is in flight. Finished orders are in the heap at heapIdx (-1: not in it).
	finished int64
	heapIdx  int32
	// hasSnap is set while a snapshot is held; tombstoned once the orchestrator removed it
	// (steps and input are then dropped, the summary stays).
	hasSnap    bool
	tombstoned bool
}

// sagaStatus is the saga status of the newest version seen.
func (e *entry) sagaStatus() saga.Status {
	if e.tl.status != (sym{}) && e.tl.version > e.snap.version {
		return saga.Status(e.tl.status.String())
	}
	return saga.Status(e.snap.sagaStatus.String())
}

// milestone is the latest milestone reached, by the newest version seen.
func (e *entry) milestone() string {
	tl, snap := e.tl.milestone.String(), e.snap.lastMilestone()
	if e.tl.version > e.snap.version && tl != "" || snap == "" {
		return tl
	}
	return snap
}

// refresh recomputes the type, status, updated and finished after a change; label names
// the status (ReadModel.label).
func (e *entry) refresh(label func(definition string, st saga.Status, milestone string) string) {
	ss := e.sagaStatus()
	def := e.snap.definition.String()
	e.typ = intern(TypeOf(def))
	e.status = intern(label(def, ss, e.milestone()))
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
	s := Summary{
		SagaID:     e.id,
		Type:       e.typ.String(),
		Status:     e.status.String(),
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
	if s.IsOrder() {
		s.OrderID = e.id
	}
	return s
}

// Change is the effect of one record on the read model.
type Change struct {
	SagaID string
	// Type is the saga's type ("" when the record changed nothing).
	Type string
	// Applied is false for a stale snapshot or timeline record (a version at most the one
	// held), a repeated tombstone, a record of another type, or an unreadable record.
	Applied bool
	// Deleted is set when the saga left the read model at once (it finished longer ago
	// than the retention window, or the cap evicted it).
	Deleted bool
	// Other is set for a record of orders.events that is not a timeline record.
	Other bool
	// From and To are the saga's status before and after, as its definition names them
	// ("" when absent).
	From, To string
}

// ErrBadCursor is returned by List for a cursor it did not issue.
var ErrBadCursor = errors.New("malformed cursor")

// ReadModel is the in-memory view of every saga in its window, of every type: the summary
// and steps of its latest snapshot from podium.saga-state (the highest Version wins), and
// its timeline from the timeline records of orders.events (a redelivered version is
// skipped). It is indexed by ID, by type and status, and by recency (updated time, newest
// first, then ID). It also remembers the last changes (for server-sent events) and how many
// sagas started and finished per second (throughput).
//
// A saga's status is named by its definition (saga.Definition.Label) when the model serves
// that definition (NewReadModel's defs, matched by ID, else by name: another version of
// the same saga type names its statuses alike); otherwise it is the engine's status.
//
// It is bounded (Limits): a finished saga is dropped Retention after it finished, and
// beyond MaxOrders the finished sagas that finished first are dropped. Both happen as
// records are applied and on Expire.
//
// A ReadModel is safe for concurrent use: Apply, ApplyEvent and Expire take a write lock
// (records are decoded before), readers a read lock.
type ReadModel struct {
	defs   map[string]*saga.Definition // by ID, for StepsTotal and the labels
	byName map[string]*saga.Definition // the newest of each name, for the labels
	served []*saga.Definition          // as given
	types  []string                    // the served types, in the order of defs
	limits Limits
	syms   *symbols
	now    func() time.Time

	mu       sync.RWMutex
	orders   map[string]*entry
	all      *recency
	byStatus map[statusKey]*recency // nonempty lists only
	lists    uint64                 // lists made, for their seeds
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
	typ sym
}

// statusKey names the list of the sagas of one type in one status.
type statusKey struct{ typ, status sym }

// NewReadModel returns an empty read model bounded by lim (zero fields take their
// defaults). defs are the saga definitions it serves: they name the statuses of their
// sagas and count their steps; states of other definitions are held all the same.
func NewReadModel(lim Limits, defs ...*saga.Definition) *ReadModel {
	m := &ReadModel{
		defs:     make(map[string]*saga.Definition, len(defs)),
		byName:   make(map[string]*saga.Definition, len(defs)),
		limits:   lim.withDefaults(),
		syms:     newSymbols(),
		now:      time.Now,
		orders:   make(map[string]*entry),
		all:      newRecency(0x9e3779b97f4a7c15),
		byStatus: make(map[statusKey]*recency),
	}
	m.served = defs
	for _, d := range defs {
		m.defs[d.ID()] = d
		if cur := m.byName[d.Name]; cur == nil || d.Version > cur.Version {
			m.byName[d.Name] = d
		}
		if !slices.Contains(m.types, d.Name) {
			m.types = append(m.types, d.Name)
		}
	}
	return m
}

// definition is the served definition of a definition ID, nil if none: the same ID, else
// the same name (another version).
func (m *ReadModel) definition(id string) *saga.Definition {
	if d := m.defs[id]; d != nil {
		return d
	}
	return m.byName[TypeOf(id)]
}

// label names a status as the definition does (the engine's name without one).
func (m *ReadModel) label(definition string, st saga.Status, milestone string) string {
	d := m.definition(definition)
	if d == nil {
		return string(st)
	}
	s := saga.State{Status: st}
	if milestone != "" {
		s.Milestones = []string{milestone}
	}
	return d.Label(&s)
}

// Types lists the saga types the model serves, in the order of its definitions.
func (m *ReadModel) Types() []string { return slices.Clone(m.types) }

// Statuses lists the statuses a saga of type typ can have, in lifecycle order: the labels
// of its served definitions (LabelsOf), or EngineStatuses for a type the model does not
// serve. For typ "", every served type's labels, then the engine's statuses they lack (the
// statuses of the sagas of other types).
func (m *ReadModel) Statuses(typ string) []string {
	var out []string
	add := func(labels []string) {
		for _, l := range labels {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	for _, d := range m.served {
		if typ == "" || d.Name == typ {
			add(LabelsOf(d))
		}
	}
	if typ == "" || m.byName[typ] == nil {
		add(EngineStatuses)
	}
	return out
}

// ValidStatus reports whether status is one of Statuses(typ).
func (m *ReadModel) ValidStatus(typ, status string) bool {
	return slices.Contains(m.Statuses(typ), status)
}

// KnownType reports whether the model serves the saga type typ or holds a saga of it.
func (m *ReadModel) KnownType(typ string) bool {
	if m.byName[typ] != nil {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k := range m.byStatus {
		if k.typ.String() == typ {
			return true
		}
	}
	return false
}

// Limits returns the bounds of the model, defaults applied.
func (m *ReadModel) Limits() Limits { return m.limits }

// isInternal reports whether a podium.saga-state key is one of the orchestrator's internal
// records (its dedupe index), which are not orders.
func isInternal(key []byte) bool { return len(key) > 0 && key[0] == '~' }

// Apply applies one podium.saga-state record: key is the saga ID, value the JSON of a
// snapshot (format 1 or 2) or nil for a tombstone. A snapshot whose Version is not above
// the one held is ignored (a zombie writer's or a replayed record). A format-1 snapshot's
// history becomes the saga's timeline unless timeline records of at least its version
// were applied. A tombstone drops the snapshot (steps, input) and starts the saga's
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
		return Change{SagaID: string(key)}, err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.orders[ds.id]
	if e != nil && e.hasSnap && ds.state.version <= e.snap.version {
		return e.unchanged(), nil
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
		return Change{SagaID: id}
	}
	return m.change(id, e, func(e *entry) {
		e.hasSnap, e.tombstoned = false, true
		e.snap.steps, e.snap.input = nil, nil
	})
}

// ApplyEvent applies one record of orders.events, in offset order. A timeline record
// (podium.saga.timeline.v1) appends its entries to the saga's timeline; a redelivery (the
// base version and version of a record applied, or, for a record without a base version,
// a version at most the last one applied) is skipped, and a record whose base version is
// below the last version applied replaces the entries applied after its base (the redo of
// a new owner after a failover; see timeline.plan). The timeline keeps the newest
// TimelineLimit entries. A rejected operator request (podium.order.control-rejected.v1,
// podium.saga.control-rejected.v1) that the saga's own timeline does not record — the saga
// had finished — adds a "rejected" entry to the timeline of a saga the model holds.
// Lifecycle events (podium.order.*, podium.saga.lifecycle.v1) and other records change
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
		return Change{SagaID: string(key), Other: true}, nil
	case err != nil:
		return Change{SagaID: string(key)}, fmt.Errorf("decoding timeline record of %s: %w", key, err)
	}
	id := rec.SagaID
	pre := m.syms.prepare(id, rec.Entries)
	milestone := lastMilestone(rec.Entries)

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.orders[id]
	cut := int64(-1)
	if e != nil {
		var apply bool
		if apply, cut = e.tl.plan(rec.BaseVersion, rec.Version, rec.Generation); !apply {
			return e.unchanged(), nil
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
		if milestone != "" {
			e.tl.milestone = intern(milestone)
		}
		if e.snap.definition == (sym{}) {
			e.snap.definition = intern(rec.Definition)
		}
		if e.snap.created == 0 {
			e.snap.created = pre[0].at
		}
	}), nil
}

// change applies mutate to the saga id (e, or a new entry when e is nil), keeps the
// indexes, the change log and the throughput up to date, and enforces the limits. The
// caller holds the write lock.
func (m *ReadModel) change(id string, e *entry, mutate func(*entry)) Change {
	ch := Change{SagaID: id, Applied: true}
	isNew := e == nil
	var from saga.Status
	if isNew {
		e = &entry{id: id, heapIdx: -1}
		m.orders[id] = e
	} else {
		ch.From, from = e.status.String(), e.sagaStatus()
		m.unindex(e)
	}
	mutate(e)
	e.refresh(m.label)
	m.index(e)
	switch {
	case e.finished != 0 && e.heapIdx < 0:
		m.finished.push(e)
	case e.finished != 0:
		m.finished.fix(e)
	case e.heapIdx >= 0:
		m.finished.remove(e)
	}
	ch.To, ch.Type = e.status.String(), e.typ.String()
	m.noteChange(id, e.typ)
	now := m.now()
	if m.ready {
		if isNew {
			m.rates.add(now, rateKeyPlaced)
		}
		if to := e.sagaStatus(); to != from {
			switch to {
			case saga.StatusCompleted:
				m.rates.add(now, rateKeyCompleted)
			case saga.StatusCompensated:
				m.rates.add(now, rateKeyCancelled)
			case saga.StatusFailed:
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
	m.noteChange(e.id, e.typ)
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
	sk := statusKey{typ: e.typ, status: e.status}
	l := m.byStatus[sk]
	if l == nil {
		m.lists++
		l = newRecency(m.lists * 0x2545f4914f6cdd1d)
		m.byStatus[sk] = l
	}
	l.insert(k, e)
}

func (m *ReadModel) unindex(e *entry) {
	k := orderKey{updated: e.updated, id: e.id}
	m.all.remove(k)
	sk := statusKey{typ: e.typ, status: e.status}
	if l := m.byStatus[sk]; l != nil {
		l.remove(k)
		if l.len() == 0 {
			delete(m.byStatus, sk) // the statuses of other types do not pile up
		}
	}
}

// unchanged is the Change of a record that changed nothing of e.
func (e *entry) unchanged() Change {
	return Change{SagaID: e.id, Type: e.typ.String(), From: e.status.String(), To: e.status.String()}
}

func (m *ReadModel) noteChange(id string, typ sym) {
	m.seq++
	m.changes[m.seq%changeRing] = changeRec{seq: m.seq, id: id, typ: typ}
}

// SetReady marks the initial restore as done. From then on, new sagas and sagas that
// complete, are compensated or fail count towards the throughput (during the restore they
// would all land in the same second).
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

// Get returns a saga's summary.
func (m *ReadModel) Get(id string) (Summary, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e := m.orders[id]
	if e == nil {
		return Summary{}, false
	}
	return e.summary(), true
}

// orderView is a consistent copy of one saga, taken under the read lock; its slices are
// never modified, so it is read after the lock is released.
type orderView struct {
	Summary
	snap       snapState
	hasSnap    bool
	tombstoned bool
	tl         timeline
	// expires is when the saga leaves the read model (zero while in flight).
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

// timeline returns the saga's timeline entries, oldest first.
func (v *orderView) timeline(syms *symbols) []events.TimelineEntry {
	return v.tl.entries(v.SagaID, syms)
}

// Len is the number of sagas held, of every type.
func (m *ReadModel) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.orders)
}

// Counts returns the number of sagas of each type in each status — for a served type,
// every one of Statuses(type), zero included; for another type held, the statuses its
// sagas are in — and the total of sagas held.
func (m *ReadModel) Counts() (map[string]map[string]int, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	counts := make(map[string]map[string]int, len(m.types))
	for _, t := range m.types {
		c := make(map[string]int)
		for _, st := range m.Statuses(t) {
			c[st] = 0
		}
		counts[t] = c
	}
	for k, l := range m.byStatus {
		t := k.typ.String()
		if counts[t] == nil {
			counts[t] = make(map[string]int)
		}
		counts[t][k.status.String()] += l.len()
	}
	return counts, len(m.orders)
}

// ListQuery selects a page of sagas.
type ListQuery struct {
	// Type filters by saga type (a definition's name, e.g. "order", "returns"); "" lists
	// every type.
	Type string
	// Status filters by status, as the type's definition names it; "" lists every status.
	// Must be one of ReadModel.Statuses(Type).
	Status string
	// Limit is the page size. Default: 50 (DefaultLimit); at most 500 (MaxLimit).
	Limit int
	// Cursor continues after the last saga of a previous page (Page.NextCursor).
	Cursor string
}

// Page is one page of orders, most recently updated first: the answer of GET /orders.
type Page struct {
	Orders []Summary `json:"orders"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Total is the number of orders matching the filter now.
	Total int `json:"total"`
}

// SagaPage is one page of sagas of any type, most recently updated first: the answer of
// GET /sagas.
type SagaPage struct {
	Sagas []Summary `json:"sagas"`
	// NextCursor fetches the next page; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Total is the number of sagas matching the filter now.
	Total int `json:"total"`
}

// List returns a page of sagas, newest update first (ties by saga ID). Paging is by
// keyset: a cursor names the last saga of the previous page by (updated time, ID), so
// pages never repeat or skip a saga that did not change meanwhile; a saga updated between
// two requests moves to the front and may be seen twice or not at all.
func (m *ReadModel) List(q ListQuery) (SagaPage, error) {
	if q.Status != "" && !m.ValidStatus(q.Type, q.Status) {
		return SagaPage{}, fmt.Errorf("unknown status %q", q.Status)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return SagaPage{}, fmt.Errorf("limit %d out of range 1..%d", q.Limit, MaxLimit)
	}
	var after *orderKey
	if q.Cursor != "" {
		k, err := decodeCursor(q.Cursor)
		if err != nil {
			return SagaPage{}, err
		}
		after = &k
	}

	m.mu.RLock()
	defer m.mu.RUnlock()
	// The lists to merge: every saga, or those of the (type, status) pairs that match.
	var lists []*recency
	if q.Type == "" && q.Status == "" {
		lists = []*recency{m.all}
	} else {
		for k, l := range m.byStatus {
			if (q.Type == "" || k.typ.String() == q.Type) && (q.Status == "" || k.status.String() == q.Status) {
				lists = append(lists, l)
			}
		}
	}
	heads := make([]*slNode, len(lists))
	p := SagaPage{}
	for i, l := range lists {
		heads[i] = l.after(after)
		p.Total += l.len()
	}
	p.Sagas = make([]Summary, 0, min(q.Limit, p.Total))
	var last orderKey
	more := false
	for {
		best := -1
		for i, n := range heads {
			if n != nil && (best < 0 || n.key.before(heads[best].key)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		if len(p.Sagas) == q.Limit {
			more = true
			break
		}
		n := heads[best]
		p.Sagas = append(p.Sagas, n.e.summary())
		last = n.key
		heads[best] = n.next[0]
	}
	if more && len(p.Sagas) > 0 {
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

// Changes returns the current summaries of the sagas changed after sequence number since
// (each once, most recent change first, removed sagas with Deleted set), and the
// sequence number to pass next time. reset is true when more changes happened than the
// model remembers (4096): the caller should reload whatever it shows.
func (m *ReadModel) Changes(since uint64) (sagas []Summary, next uint64, reset bool) {
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
			sagas = append(sagas, e.summary())
		} else {
			sagas = append(sagas, deletedSummary(c.id, c.typ))
		}
	}
	return sagas, m.seq, false
}

// Throughput is sagas per second over the last ten seconds, and per-second counts over the
// last minute (oldest first), of every type together: sagas started ("placed"), completed
// ("completed"), compensated ("cancelled": an order cancelled, a return rejected) and failed
// ("failed") — as seen by this read model since it became ready.
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
