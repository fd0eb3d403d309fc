package order

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/orchestrator/saga/sagatest"
)

const sampleOrder = `{
  "order_id": "ord-1001",
  "customer": {"id": "cus-7", "email": "ada@example.com"},
  "seller_id": "sel-3",
  "currency": "EUR",
  "items": [{"sku": "SKU-RED-1", "quantity": 2, "unit_price": 1999}],
  "total": 3998,
  "payment": {"token": "tok_visa"},
  "shipping_address": {"name": "Ada L.", "line1": "1 Main St", "city": "Berlin",
                       "postal_code": "10115", "country": "DE"}
}`

// results are the success results the reference workers return.
var results = map[string]json.RawMessage{
	StepReserveInventory:       json.RawMessage(`{"reservation_id":"res-1"}`),
	StepAuthorizePayment:       json.RawMessage(`{"authorization_id":"auth-1"}`),
	StepPrepareShipment:        json.RawMessage(`{"preparation_id":"prep-1"}`),
	StepAssignDelivery:         json.RawMessage(`{"delivery_id":"del-1","partner":"dhl"}`),
	StepSendConfirmation:       json.RawMessage(`{"message_id":"msg-1"}`),
	StepSendCancellationNotice: json.RawMessage(`{"message_id":"msg-2"}`),
}

// orderSaga is the sample order on d, answered with results.
func orderSaga(d *saga.Definition) sagatest.Saga {
	return sagatest.Saga{Definition: d, SagaID: "ord-1001", Input: json.RawMessage(sampleOrder), Results: results}
}

// orderRun drives one order saga and checks the invariants after every input.
type orderRun struct{ *sagatest.Run }

func newOrderRun(t *testing.T) *orderRun {
	t.Helper()
	d := NewDefinition(Options{Timeout: time.Second, CompensationTimeout: time.Second,
		Retry: saga.RetryPolicy{MaxAttempts: 2}, CompensationRetry: saga.RetryPolicy{MaxAttempts: 2}})
	return &orderRun{sagatest.Start(t, orderSaga(d))}
}

// reply answers the latest attempt of step's action (or its compensation), with "declined"
// as the reason.
func (r *orderRun) reply(step, outcome string, compensation bool) saga.Outputs {
	r.T.Helper()
	return r.Reply(step, outcome, "declined", compensation)
}

func (r *orderRun) wantStatus(want Status) {
	r.T.Helper()
	if got := StatusOf(r.State); got != want {
		r.T.Fatalf("order status: got %s, want %s", got, want)
	}
}

func commandNames(cmds []saga.Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Type)
	}
	slices.Sort(out)
	return out
}

func TestDefinitionIsValid(t *testing.T) {
	d := Definition()
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	var names []string
	for _, s := range d.Steps {
		names = append(names, s.Name)
	}
	want := []string{StepReserveInventory, StepAuthorizePayment, StepPrepareShipment, StepAssignDelivery, StepSendConfirmation}
	if !slices.Equal(names, want) {
		t.Errorf("steps: got %v, want %v", names, want)
	}
	if got := d.Steps[0].Do; got.Timeout != DefaultTimeout || got.Retry.MaxAttempts != 4 ||
		got.Retry.Initial != 200*time.Millisecond || got.Retry.Max != 5*time.Second {
		t.Errorf("default forward action: got timeout %v retry %+v", got.Timeout, got.Retry)
	}
	if got := d.Steps[0].Undo; got.Timeout != DefaultCompensationTimeout || got.Retry.MaxAttempts != 8 {
		t.Errorf("default compensation: got timeout %v retry %+v", got.Timeout, got.Retry)
	}
	if got := d.HistoryLimit; got != saga.DefaultHistoryLimit {
		t.Errorf("history limit: got %d, want %d", got, saga.DefaultHistoryLimit)
	}
	if !d.Steps[4].Optional || d.Steps[4].Undo != nil {
		t.Errorf("send-confirmation: got optional %v undo %v, want optional without undo", d.Steps[4].Optional, d.Steps[4].Undo)
	}
	if len(d.OnCompensated) != 1 || d.OnCompensated[0].Name != StepSendCancellationNotice {
		t.Errorf("on-compensated: got %+v", d.OnCompensated)
	}
	custom := NewDefinition(Options{Timeout: time.Millisecond, Retry: saga.RetryPolicy{MaxAttempts: 9}, HistoryLimit: 7})
	if got := custom.Steps[2].Do; got.Timeout != time.Millisecond || got.Retry.MaxAttempts != 9 || custom.HistoryLimit != 7 {
		t.Errorf("custom options: got timeout %v attempts %d limit %d", got.Timeout, got.Retry.MaxAttempts, custom.HistoryLimit)
	}
	if err := NewDefinition(Options{Timeout: -time.Second}).Validate(); err == nil {
		t.Errorf("negative timeout: got no validation error")
	}
}

func TestHappyPathPayloadsAndLifecycle(t *testing.T) {
	r := newOrderRun(t)
	r.wantStatus(StatusPending)
	r.OK(StepAuthorizePayment)
	r.wantStatus(StatusPending)
	out := r.OK(StepReserveInventory)
	r.wantStatus(StatusApproved)
	if got, want := commandNames(out.Commands), []string{events.TypeSellerPrepareShipment, events.TypeShippingAssignDelivery}; !slices.Equal(got, want) {
		t.Errorf("stage 2: got %v, want %v", got, want)
	}
	r.OK(StepAssignDelivery)
	r.OK(StepPrepareShipment)
	r.wantStatus(StatusApproved)
	r.OK(StepSendConfirmation)
	r.wantStatus(StatusCompleted)

	wantPayloads := map[string]string{
		events.TypeInventoryReserve:         `{"order_id":"ord-1001","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}]}`,
		events.TypePaymentAuthorize:         `{"order_id":"ord-1001","amount":3998,"currency":"EUR","token":"tok_visa"}`,
		events.TypeSellerPrepareShipment:    `{"order_id":"ord-1001","seller_id":"sel-3","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}]}`,
		events.TypeShippingAssignDelivery:   `{"order_id":"ord-1001","address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`,
		events.TypeNotificationConfirmation: `{"order_id":"ord-1001","email":"ada@example.com","total":3998,"currency":"EUR"}`,
	}
	if got, want := len(r.Commands), len(wantPayloads); got != want {
		t.Fatalf("commands: got %d, want %d", got, want)
	}
	for _, c := range r.Commands {
		if got, want := string(c.Payload), wantPayloads[c.Type]; got != want {
			t.Errorf("%s payload:\n got %s\nwant %s", c.Type, got, want)
		}
		if !slices.Contains(events.CommandTypes(c.Worker), c.Type) {
			t.Errorf("%s is not a command of worker %s", c.Type, c.Worker)
		}
	}

	var lifecycle []string
	for _, e := range r.Events {
		if typ, ok := LifecycleType(e); ok {
			lifecycle = append(lifecycle, typ)
		}
	}
	if want := []string{events.TypeOrderApproved, events.TypeOrderCompleted}; !slices.Equal(lifecycle, want) {
		t.Errorf("lifecycle: got %v, want %v", lifecycle, want)
	}

	// A cancel after completion is recorded and rejected.
	out = r.Apply(saga.CancelInput("too late"))
	r.wantStatus(StatusCompleted)
	if len(out.Events) != 1 || out.Events[0].Kind != saga.EventRejected {
		t.Errorf("cancel after completion: got events %+v, want one rejection", out.Events)
	}
	if _, ok := LifecycleType(out.Events[0]); ok {
		t.Errorf("a rejection has a lifecycle type")
	}
}

// A business failure in each required step triggers exactly the right compensations, in
// reverse dependency order, with the IDs the steps returned.
func TestBusinessFailureInEachRequiredStep(t *testing.T) {
	release := `{"order_id":"ord-1001","reservation_id":"res-1"}`
	void := `{"order_id":"ord-1001","authorization_id":"auth-1"}`
	cancelPrep := `{"order_id":"ord-1001","seller_id":"sel-3","preparation_id":"prep-1"}`
	cancelDelivery := `{"order_id":"ord-1001","delivery_id":"del-1"}`
	tests := []struct {
		failing string
		script  func(r *orderRun) // runs before the failure
		after   func(r *orderRun) // runs after the failure, before compensations are checked
		waves   [][]string        // compensation payloads, wave by wave
	}{
		{
			failing: StepReserveInventory,
			after:   func(r *orderRun) { r.OK(StepAuthorizePayment) },
			waves:   [][]string{{void}},
		},
		{
			failing: StepAuthorizePayment,
			script:  func(r *orderRun) { r.OK(StepReserveInventory) },
			waves:   [][]string{{release}},
		},
		{
			failing: StepPrepareShipment,
			script:  func(r *orderRun) { r.OK(StepReserveInventory); r.OK(StepAuthorizePayment) },
			after:   func(r *orderRun) { r.OK(StepAssignDelivery) },
			waves:   [][]string{{cancelDelivery}, {release, void}},
		},
		{
			failing: StepAssignDelivery,
			script:  func(r *orderRun) { r.OK(StepReserveInventory); r.OK(StepAuthorizePayment); r.OK(StepPrepareShipment) },
			waves:   [][]string{{cancelPrep}, {release, void}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.failing, func(t *testing.T) {
			r := newOrderRun(t)
			if tt.script != nil {
				tt.script(r)
			}
			r.reply(tt.failing, saga.ReplyFailure, false)
			if tt.after != nil {
				tt.after(r)
			}
			r.UndoWaves(0, tt.waves)
			r.wantStatus(StatusCancelled)
			if got, want := r.State.FailedStep, tt.failing; got != want {
				t.Errorf("failed step: got %s, want %s", got, want)
			}
			last := r.Commands[len(r.Commands)-1]
			if got, want := string(last.Payload), `{"order_id":"ord-1001","email":"ada@example.com","reason":"declined"}`; last.Step != StepSendCancellationNotice || got != want {
				t.Errorf("last command: got %s %s, want the cancellation notice %s", last.Step, got, want)
			}
			typ, ok := LifecycleType(r.Events[len(r.Events)-1])
			if !ok || typ != events.TypeOrderCancelled {
				t.Errorf("lifecycle: got %s %v, want %s", typ, ok, events.TypeOrderCancelled)
			}
		})
	}
}

// A step whose outcome is unknown (its attempts timed out) is compensated without the ID
// it would have returned.
func TestUnknownOutcomeIsCompensatedWithoutIDs(t *testing.T) {
	r := newOrderRun(t)
	r.OK(StepAuthorizePayment)
	for r.State.Status == saga.StatusRunning {
		r.Fire()
	}
	got := r.Compensations(0)
	want := []string{`{"order_id":"ord-1001","authorization_id":"auth-1"}`, `{"order_id":"ord-1001"}`}
	if !slices.Equal(got, want) {
		t.Errorf("compensations: got %v, want %v", got, want)
	}
	if got, want := r.State.Reason, "timeout"; got != want {
		t.Errorf("reason: got %s, want %s", got, want)
	}
}

func TestCompensationFailureThenRetry(t *testing.T) {
	r := newOrderRun(t)
	r.OK(StepReserveInventory)
	r.reply(StepAuthorizePayment, saga.ReplyFailure, false)
	r.reply(StepReserveInventory, saga.ReplyFailure, true)
	r.wantStatus(StatusFailed)
	typ, ok := LifecycleType(r.Events[len(r.Events)-1])
	if !ok || typ != events.TypeOrderFailed {
		t.Errorf("lifecycle: got %s %v, want %s", typ, ok, events.TypeOrderFailed)
	}
	r.Apply(saga.RetryInput("operator"))
	r.wantStatus(StatusCancelling)
	r.reply(StepReserveInventory, saga.ReplySuccess, true)
	r.wantStatus(StatusCancelled)
}

func TestCancelUsesReason(t *testing.T) {
	r := newOrderRun(t)
	r.Apply(saga.CancelInput("customer request"))
	r.wantStatus(StatusCancelling)
	r.OK(StepReserveInventory)
	r.reply(StepAuthorizePayment, saga.ReplyFailure, false)
	r.reply(StepReserveInventory, saga.ReplySuccess, true)
	r.wantStatus(StatusCancelled)
	last := r.Commands[len(r.Commands)-1]
	if !strings.Contains(string(last.Payload), `"reason":"customer request"`) {
		t.Errorf("notice: got %s, want the cancel reason", last.Payload)
	}
}

func TestBuilders(t *testing.T) {
	tests := []struct {
		name    string
		build   saga.Builder
		bc      saga.BuildContext
		want    string
		wantErr bool
	}{
		{"order ID falls back to the saga ID", buildReserve, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(`{}`)}, `{"order_id":"s-1","items":null}`, false},
		{"bad input", buildReserve, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(`[]`)}, "", true},
		{"unreadable result", buildRelease, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(`{}`),
			Results: map[string]json.RawMessage{StepReserveInventory: json.RawMessage(`"x"`)}}, `{"order_id":"s-1"}`, false},
		{"result of the wrong type", buildVoid, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(`{}`),
			Results: map[string]json.RawMessage{StepAuthorizePayment: json.RawMessage(`{"authorization_id":7}`)}}, `{"order_id":"s-1"}`, false},
		{"default cancel reason", buildCancellationNotice, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(`{}`)}, `{"order_id":"s-1","email":"","reason":"cancelled"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build(tt.bc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		s    *saga.State
		want Status
	}{
		{nil, ""},
		{&saga.State{Status: saga.StatusRunning}, StatusPending},
		{&saga.State{Status: saga.StatusRunning, Milestones: []string{MilestoneApproved}}, StatusApproved},
		{&saga.State{Status: saga.StatusCompensating}, StatusCancelling},
		{&saga.State{Status: saga.StatusCompleted}, StatusCompleted},
		{&saga.State{Status: saga.StatusCompensated}, StatusCancelled},
		{&saga.State{Status: saga.StatusFailed}, StatusFailed},
		{&saga.State{Status: "weird"}, ""},
	}
	for _, tt := range tests {
		name := "nil"
		if tt.s != nil {
			name = fmt.Sprintf("%s%v", tt.s.Status, tt.s.Milestones)
		}
		t.Run(name, func(t *testing.T) {
			if got := StatusOf(tt.s); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLifecycleType(t *testing.T) {
	tests := []struct {
		e      saga.Event
		want   string
		wantOK bool
	}{
		{saga.Event{Kind: saga.EventMilestone, Name: MilestoneApproved}, events.TypeOrderApproved, true},
		{saga.Event{Kind: saga.EventMilestone, Name: "other"}, "", false},
		{saga.Event{Kind: saga.EventCompleted}, events.TypeOrderCompleted, true},
		{saga.Event{Kind: saga.EventCompensated}, events.TypeOrderCancelled, true},
		{saga.Event{Kind: saga.EventFailed}, events.TypeOrderFailed, true},
		{saga.Event{Kind: saga.EventRejected}, "", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.e.Kind)+tt.e.Name, func(t *testing.T) {
			got, ok := LifecycleType(tt.e)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMermaid(t *testing.T) {
	got := Definition().Mermaid()
	for _, want := range []string{
		"flowchart LR", "reserve-inventory<br/><small>inventory", "authorize-payment<br/><small>payment",
		"s_reserve_inventory --> s_prepare_shipment", "s_assign_delivery --> s_send_confirmation",
		"s_send_confirmation --> completed", `m_approved{{"approved"}}`, "undo prepare-shipment",
		events.TypeShippingCancelDelivery, "compensated --> s_send_cancellation_notice",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagram lacks %q:\n%s", want, got)
		}
	}
}

func TestStateRoundTripsThroughJSON(t *testing.T) {
	r := newOrderRun(t)
	r.OK(StepReserveInventory)
	r.reply(StepAuthorizePayment, saga.ReplyError, false)
	b, err := json.Marshal(r.State)
	if err != nil {
		t.Fatal(err)
	}
	var got saga.State
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, r.State) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", &got, r.State)
	}
}

func TestStatusOfIsTheDefinitionsLabel(t *testing.T) {
	def := Definition()
	for _, s := range []*saga.State{
		{Status: saga.StatusRunning},
		{Status: saga.StatusRunning, Milestones: []string{MilestoneApproved}},
		{Status: saga.StatusCompensating},
		{Status: saga.StatusCompleted},
		{Status: saga.StatusCompensated},
		{Status: saga.StatusFailed},
	} {
		if got, want := def.Label(s), string(StatusOf(s)); got != want {
			t.Errorf("Label(%s %v) = %q, want StatusOf's %q", s.Status, s.Milestones, got, want)
		}
	}
}
