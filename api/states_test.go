package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// sagaRun drives the real saga engine (the order saga's or the returns saga's definition)
// to produce what the orchestrator would write: every state version, in order, and for each
// the timeline record of the history entries that version appended.
type sagaRun struct {
	t       testing.TB
	d       *saga.Definition
	s       *saga.State
	now     time.Time
	snaps   []*saga.State
	records []events.SagaTimeline  // records[i] was written with snaps[i]
	history []events.TimelineEntry // every entry so far
}

var (
	testDefinition    = order.Definition()
	returnsDefinition = returns.Definition()
	// testDefinitions are what a test service serves: the order saga and returns.
	testDefinitions = []*saga.Definition{testDefinition, returnsDefinition}
)

// placedJSON is a valid OrderPlaced document.
func placedJSON(t testing.TB, id string) json.RawMessage {
	t.Helper()
	o := events.OrderPlaced{
		OrderID:  id,
		Customer: events.Customer{ID: "cus-7", Email: "ada@example.com"},
		SellerID: "sel-3",
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-RED-1", Quantity: 2, UnitPrice: 1999}},
		Total:    3998,
		Payment:  events.Payment{Token: "tok_visa"},
		ShippingAddress: events.Address{Name: "Ada L.", Line1: "1 Main St", City: "Berlin",
			PostalCode: "10115", Country: "DE"},
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatalf("marshalling order: %v", err)
	}
	return b
}

func newSagaRun(t testing.TB, id string, start time.Time) *sagaRun {
	t.Helper()
	r := &sagaRun{t: t, d: testDefinition, now: start}
	r.apply(saga.StartInput(id, placedJSON(t, id), 42, ""))
	return r
}

func (r *sagaRun) apply(in saga.Input) {
	r.t.Helper()
	r.now = r.now.Add(10 * time.Millisecond)
	s, out, err := r.d.Apply(r.s, in, r.now)
	if err != nil {
		r.t.Fatalf("applying %s to %v: %v", in.Kind, r.s, err)
	}
	r.s = s
	if out.Changed {
		r.snaps = append(r.snaps, s.Clone())
		tl := events.SagaTimeline{SagaID: s.SagaID, Definition: s.Definition, Version: s.Version, Status: string(s.Status)}
		for _, h := range out.History {
			tl.Entries = append(tl.Entries, events.TimelineEntry(h))
		}
		r.records = append(r.records, tl)
		r.history = append(r.history, tl.Entries...)
	}
}

// reply answers the latest command of a step's forward action (undo false) or
// compensation (undo true).
func (r *sagaRun) reply(step string, undo bool, outcome, reason string) *sagaRun {
	r.t.Helper()
	st := r.s.Steps[step]
	if st == nil {
		r.t.Fatalf("saga %s has no step %q", r.s.SagaID, step)
	}
	p := st.Do
	if undo {
		p = st.Undo
	}
	if p.CommandID == "" {
		r.t.Fatalf("saga %s: step %q (undo %v) was never dispatched; state %s", r.s.SagaID, step, undo, st.Status)
	}
	var result json.RawMessage
	if outcome == saga.ReplySuccess && !undo {
		result = json.RawMessage(fmt.Sprintf(`{"id":"%s-%s"}`, r.s.SagaID, step))
	}
	r.apply(saga.ReplyInput(p.CommandID, step, outcome, reason, result))
	return r
}

func (r *sagaRun) ok(steps ...string) *sagaRun {
	r.t.Helper()
	for _, s := range steps {
		r.reply(s, false, saga.ReplySuccess, "")
	}
	return r
}

func (r *sagaRun) undone(steps ...string) *sagaRun {
	r.t.Helper()
	for _, s := range steps {
		r.reply(s, true, saga.ReplySuccess, "")
	}
	return r
}

// The scenarios: each returns the run at its end state.

func runPending(t testing.TB, id string, at time.Time) *sagaRun { return newSagaRun(t, id, at) }

func runApproved(t testing.TB, id string, at time.Time) *sagaRun {
	return newSagaRun(t, id, at).ok(order.StepReserveInventory, order.StepAuthorizePayment)
}

func runCompleted(t testing.TB, id string, at time.Time) *sagaRun {
	return runApproved(t, id, at).ok(order.StepPrepareShipment, order.StepAssignDelivery, order.StepSendConfirmation)
}

// runDeclined: the payment is declined, the reservation released: cancelled.
func runDeclined(t testing.TB, id string, at time.Time) *sagaRun {
	r := newSagaRun(t, id, at).ok(order.StepReserveInventory)
	r.reply(order.StepAuthorizePayment, false, saga.ReplyFailure, "card_declined")
	return r.undone(order.StepReserveInventory).ok(order.StepSendCancellationNotice)
}

// runCancelled: approved, then cancelled by an operator while assigning the delivery,
// which is awaited; four compensations.
func runCancelled(t testing.TB, id string, at time.Time) *sagaRun {
	r := runApproved(t, id, at).ok(order.StepPrepareShipment)
	r.apply(saga.CancelInput("customer changed their mind"))
	return r.ok(order.StepAssignDelivery).undone(order.StepAssignDelivery, order.StepPrepareShipment, order.StepReserveInventory, order.StepAuthorizePayment).
		ok(order.StepSendCancellationNotice)
}

// runCancelling: the payment is declined, the release not answered yet.
func runCancelling(t testing.TB, id string, at time.Time) *sagaRun {
	r := newSagaRun(t, id, at).ok(order.StepReserveInventory)
	r.reply(order.StepAuthorizePayment, false, saga.ReplyFailure, "card_declined")
	return r
}

// runFailed: the release itself fails: the saga waits for an operator.
func runFailed(t testing.TB, id string, at time.Time) *sagaRun {
	r := runCancelling(t, id, at)
	r.reply(order.StepReserveInventory, true, saga.ReplyFailure, "warehouse_unreachable")
	return r
}

// requestedJSON is a valid ReturnRequested document.
func requestedJSON(t testing.TB, id string) json.RawMessage {
	t.Helper()
	return mustJSON(t, events.ReturnRequested{
		ReturnID: id,
		OrderID:  "ord-returned",
		Customer: events.Customer{ID: "cus-8", Email: "grace@example.com"},
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-BLUE-2", Quantity: 1, UnitPrice: 2500}},
		Refund:   2500,
		Payment:  events.Payment{Token: "tok_mastercard"},
		PickupAddress: events.Address{Name: "Grace H.", Line1: "9 Harbour Rd", City: "Hamburg",
			PostalCode: "20095", Country: "DE"},
	})
}

// newReturnRun starts a returns saga on input (requestedJSON when nil).
func newReturnRun(t testing.TB, id string, start time.Time, input json.RawMessage) *sagaRun {
	t.Helper()
	if input == nil {
		input = requestedJSON(t, id)
	}
	r := &sagaRun{t: t, d: returnsDefinition, now: start}
	r.apply(saga.StartInput(id, input, 43, ""))
	return r
}

// The returns scenarios: each returns the run at its end state.

func runReturnRequested(t testing.TB, id string, at time.Time) *sagaRun {
	return newReturnRun(t, id, at, nil)
}

func runReturnPickedUp(t testing.TB, id string, at time.Time) *sagaRun {
	return newReturnRun(t, id, at, nil).ok(returns.StepSchedulePickup)
}

func runReturnRefunded(t testing.TB, id string, at time.Time) *sagaRun {
	return runReturnPickedUp(t, id, at).ok(returns.StepRestock, returns.StepRefundPayment, returns.StepSendRefundNotice)
}

// runReturnRejecting: the items cannot be restocked; the refund is still in flight.
func runReturnRejecting(t testing.TB, id string, at time.Time) *sagaRun {
	r := runReturnPickedUp(t, id, at)
	r.reply(returns.StepRestock, false, saga.ReplyFailure, "not_restockable")
	return r
}

// runReturnRejected: the refund is made, then cancelled, and the pickup cancelled.
func runReturnRejected(t testing.TB, id string, at time.Time) *sagaRun {
	return runReturnRejecting(t, id, at).ok(returns.StepRefundPayment).undone(returns.StepRefundPayment, returns.StepSchedulePickup)
}

// runReturnFailed: the refund cannot be cancelled: the return waits for an operator.
func runReturnFailed(t testing.TB, id string, at time.Time) *sagaRun {
	r := runReturnRejecting(t, id, at).ok(returns.StepRefundPayment)
	r.reply(returns.StepRefundPayment, true, saga.ReplyFailure, "refund_settled")
	return r
}

// returnScenarios name a returns run and the status it ends in; their sagas are
// "ret-<name>".
var returnScenarios = []scenario{
	{"requested", runReturnRequested, returns.StatusRequested},
	{"picked-up", runReturnPickedUp, returns.StatusPickedUp},
	{"refunded", runReturnRefunded, returns.StatusRefunded},
	{"rejecting", runReturnRejecting, returns.StatusRejecting},
	{"rejected", runReturnRejected, returns.StatusRejected},
	{"failed", runReturnFailed, returns.StatusFailed},
}

// scenario names a run and the status it ends in, as its definition names it.
type scenario struct {
	name string
	run  func(testing.TB, string, time.Time) *sagaRun
	want string
}

var scenarios = []scenario{
	{"pending", runPending, string(order.StatusPending)},
	{"approved", runApproved, string(order.StatusApproved)},
	{"completed", runCompleted, string(order.StatusCompleted)},
	{"declined", runDeclined, string(order.StatusCancelled)},
	{"cancelled", runCancelled, string(order.StatusCancelled)},
	{"cancelling", runCancelling, string(order.StatusCancelling)},
	{"failed", runFailed, string(order.StatusFailed)},
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshalling: %v", err)
	}
	return b
}

func TestScenariosEndInTheirStatus(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, sc := range scenarios {
		r := sc.run(t, "ord-"+sc.name, at)
		if got := string(order.StatusOf(r.s)); got != sc.want {
			t.Errorf("%s: got status %s, want %s", sc.name, got, sc.want)
		}
	}
	for _, sc := range returnScenarios {
		r := sc.run(t, "ret-"+sc.name, at)
		if got := returnsDefinition.Label(r.s); got != sc.want {
			t.Errorf("return %s: got status %s, want %s", sc.name, got, sc.want)
		}
	}
}

// timelineValue is a timeline record as the orchestrator writes it on orders.events: a
// structured-mode CloudEvent; headers is its content-type.
func timelineValue(t *testing.T, tl events.SagaTimeline) (value []byte, headers []events.Header) {
	t.Helper()
	env, err := events.NewEvent(events.TypeSagaTimeline, tl.SagaID, tl)
	if err != nil {
		t.Fatalf("building timeline record: %v", err)
	}
	value, headers, err = events.Encode(env)
	if err != nil {
		t.Fatalf("encoding timeline record: %v", err)
	}
	return value, headers
}

// format1JSON is the snapshot of s as the orchestrator wrote it before the timeline moved
// to orders.events: format 1, with the history.
func format1JSON(t testing.TB, s *saga.State, history []events.TimelineEntry, dropped int) []byte {
	t.Helper()
	b := mustJSON(t, s) // {"format":2,...}: keep the rest of it byte for byte
	if !bytes.HasPrefix(b, []byte(`{"format":2,`)) || b[len(b)-1] != '}' {
		t.Fatalf("state JSON %.40s…: want it to start with format 2", b)
	}
	b = append([]byte(`{"format":1,`), b[len(`{"format":2,`):len(b)-1]...)
	b = append(append(b, `,"history":`...), mustJSON(t, history)...)
	if dropped > 0 {
		b = fmt.Appendf(b, `,"history_dropped":%d`, dropped)
	}
	return append(b, '}')
}

// markerJSON is the snapshot the orchestrator keeps of a finished saga: no input, no step
// results.
func markerJSON(t testing.TB, s *saga.State) []byte {
	t.Helper()
	c := s.Clone()
	c.Input = nil
	for _, st := range c.Steps {
		st.Result = nil
	}
	return mustJSON(t, c)
}

// applyRun applies a run as the API reads it: for each version, the timeline record (the
// orchestrator writes events before snapshots), then the snapshot.
func applyRun(t *testing.T, m *ReadModel, r *sagaRun) {
	t.Helper()
	for i, s := range r.snaps {
		if len(r.records[i].Entries) > 0 {
			v, h := timelineValue(t, r.records[i])
			if _, err := m.ApplyEvent([]byte(s.SagaID), v, h); err != nil {
				t.Fatalf("applying timeline of %s v%d: %v", s.SagaID, s.Version, err)
			}
		}
		if _, err := m.Apply([]byte(s.SagaID), mustJSON(t, s)); err != nil {
			t.Fatalf("applying %s v%d: %v", s.SagaID, s.Version, err)
		}
	}
}

// testClock is a read model's clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestModel returns a read model of the order saga and returns with the given limits
// whose clock stands at t0 + 1h (the scenarios run at t0) until the test moves it.
func newTestModel(t testing.TB, lim Limits) (*ReadModel, *testClock) {
	t.Helper()
	c := &testClock{now: t0.Add(time.Hour)}
	m := NewReadModel(lim, testDefinitions...)
	m.now = c.Now
	return m, c
}
