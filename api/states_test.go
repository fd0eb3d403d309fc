package api

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// sagaRun drives the real order saga engine to produce the snapshots the orchestrator
// would write: every state version, in order.
type sagaRun struct {
	t     *testing.T
	d     *saga.Definition
	s     *saga.State
	now   time.Time
	snaps []*saga.State
}

var testDefinition = order.Definition()

// placedJSON is a valid OrderPlaced document.
func placedJSON(t *testing.T, id string) json.RawMessage {
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

func newSagaRun(t *testing.T, id string, start time.Time) *sagaRun {
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

func runPending(t *testing.T, id string, at time.Time) *sagaRun { return newSagaRun(t, id, at) }

func runApproved(t *testing.T, id string, at time.Time) *sagaRun {
	return newSagaRun(t, id, at).ok(order.StepReserveInventory, order.StepAuthorizePayment)
}

func runCompleted(t *testing.T, id string, at time.Time) *sagaRun {
	return runApproved(t, id, at).ok(order.StepPrepareShipment, order.StepAssignDelivery, order.StepSendConfirmation)
}

// runDeclined: the payment is declined, the reservation released: cancelled.
func runDeclined(t *testing.T, id string, at time.Time) *sagaRun {
	r := newSagaRun(t, id, at).ok(order.StepReserveInventory)
	r.reply(order.StepAuthorizePayment, false, saga.ReplyFailure, "card_declined")
	return r.undone(order.StepReserveInventory).ok(order.StepSendCancellationNotice)
}

// runCancelled: approved, then cancelled by an operator while assigning the delivery,
// which is awaited; four compensations.
func runCancelled(t *testing.T, id string, at time.Time) *sagaRun {
	r := runApproved(t, id, at).ok(order.StepPrepareShipment)
	r.apply(saga.CancelInput("customer changed their mind"))
	return r.ok(order.StepAssignDelivery).undone(order.StepAssignDelivery, order.StepPrepareShipment, order.StepReserveInventory, order.StepAuthorizePayment).
		ok(order.StepSendCancellationNotice)
}

// runCancelling: the payment is declined, the release not answered yet.
func runCancelling(t *testing.T, id string, at time.Time) *sagaRun {
	r := newSagaRun(t, id, at).ok(order.StepReserveInventory)
	r.reply(order.StepAuthorizePayment, false, saga.ReplyFailure, "card_declined")
	return r
}

// runFailed: the release itself fails: the saga waits for an operator.
func runFailed(t *testing.T, id string, at time.Time) *sagaRun {
	r := runCancelling(t, id, at)
	r.reply(order.StepReserveInventory, true, saga.ReplyFailure, "warehouse_unreachable")
	return r
}

// scenario names a run and the order status it ends in.
type scenario struct {
	name string
	run  func(*testing.T, string, time.Time) *sagaRun
	want order.Status
}

var scenarios = []scenario{
	{"pending", runPending, order.StatusPending},
	{"approved", runApproved, order.StatusApproved},
	{"completed", runCompleted, order.StatusCompleted},
	{"declined", runDeclined, order.StatusCancelled},
	{"cancelled", runCancelled, order.StatusCancelled},
	{"cancelling", runCancelling, order.StatusCancelling},
	{"failed", runFailed, order.StatusFailed},
}

func mustJSON(t *testing.T, v any) []byte {
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
		if got := order.StatusOf(r.s); got != sc.want {
			t.Errorf("%s: got status %s, want %s", sc.name, got, sc.want)
		}
	}
}
