package returns

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/orchestrator/saga/sagatest"
)

const sampleReturn = `{
  "return_id": "ret-2001",
  "order_id": "ord-1001",
  "customer": {"id": "cus-7", "email": "ada@example.com"},
  "currency": "EUR",
  "items": [{"sku": "SKU-RED-1", "quantity": 2, "unit_price": 1999}],
  "refund": 3998,
  "payment": {"token": "tok_visa"},
  "pickup_address": {"name": "Ada L.", "line1": "1 Main St", "city": "Berlin",
                     "postal_code": "10115", "country": "DE"}
}`

// results are the success results the reference workers return.
var results = map[string]json.RawMessage{
	StepSchedulePickup:   json.RawMessage(`{"pickup_id":"pick-1"}`),
	StepRestock:          json.RawMessage(`{"restock_id":"rst-1"}`),
	StepRefundPayment:    json.RawMessage(`{"refund_id":"ref-1"}`),
	StepSendRefundNotice: json.RawMessage(`{"message_id":"msg-1"}`),
}

// The command payloads of the sample return.
const (
	payloadSchedulePickup = `{"return_id":"ret-2001","address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`
	payloadRestock        = `{"return_id":"ret-2001","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}]}`
	payloadRefund         = `{"return_id":"ret-2001","amount":3998,"currency":"EUR","token":"tok_visa"}`
	payloadNotice         = `{"return_id":"ret-2001","email":"ada@example.com","amount":3998,"currency":"EUR"}`
	payloadCancelPickup   = `{"return_id":"ret-2001","pickup_id":"pick-1"}`
	payloadUndoRestock    = `{"return_id":"ret-2001","restock_id":"rst-1"}`
	payloadCancelRefund   = `{"return_id":"ret-2001","refund_id":"ref-1"}`
)

// returnSaga is the sample return on d, answered with results.
func returnSaga(d *saga.Definition) sagatest.Saga {
	return sagatest.Saga{Definition: d, SagaID: "ret-2001", Input: json.RawMessage(sampleReturn), Results: results}
}

// returnRun drives one returns saga on a fake clock and checks the invariants after every
// input.
type returnRun struct{ *sagatest.Run }

func newReturnRun(t *testing.T) *returnRun {
	t.Helper()
	d := NewDefinition(Options{Timeout: time.Second, CompensationTimeout: time.Second,
		Retry: saga.RetryPolicy{MaxAttempts: 2}, CompensationRetry: saga.RetryPolicy{MaxAttempts: 2}})
	return &returnRun{sagatest.Start(t, returnSaga(d))}
}

func (r *returnRun) wantStatus(want string) {
	r.T.Helper()
	if got := r.Definition.Label(r.State); got != want {
		r.T.Fatalf("return status: got %s, want %s", got, want)
	}
}

func (r *returnRun) lifecycle() []string {
	var out []string
	for _, e := range r.Events {
		switch e.Kind {
		case saga.EventMilestone:
			out = append(out, "milestone:"+e.Name)
		case saga.EventCompleted, saga.EventCompensated, saga.EventFailed:
			out = append(out, string(e.Kind))
		}
	}
	return out
}

func payloads(cmds []saga.Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, string(c.Payload))
	}
	slices.Sort(out)
	return out
}

func TestDefinitionIsValid(t *testing.T) {
	d := Definition()
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := d.ID(); got != DefinitionName {
		t.Errorf("ID: got %s, want %s", got, DefinitionName)
	}
	var names []string
	used := map[string]bool{}
	for _, s := range d.Steps {
		names = append(names, s.Name)
		used[s.Do.Worker] = true
		if s.Undo != nil {
			used[s.Undo.Worker] = true
		}
	}
	want := []string{StepSchedulePickup, StepRestock, StepRefundPayment, StepSendRefundNotice}
	if !slices.Equal(names, want) {
		t.Errorf("steps: got %v, want %v", names, want)
	}
	workers := slices.Sorted(func(yield func(string) bool) {
		for w := range used {
			if !yield(w) {
				return
			}
		}
	})
	if got := slices.Sorted(slices.Values(d.Workers)); !slices.Equal(got, workers) {
		t.Errorf("workers: got %v, want exactly the workers used %v", got, workers)
	}
	if got := d.Steps[0].Do; got.Timeout != DefaultTimeout || got.Retry.MaxAttempts != DefaultMaxAttempts ||
		got.Retry.Initial != 200*time.Millisecond || got.Retry.Max != 5*time.Second {
		t.Errorf("default forward action: got timeout %v retry %+v", got.Timeout, got.Retry)
	}
	if got := d.Steps[0].Undo; got.Timeout != DefaultCompensationTimeout || got.Retry.MaxAttempts != DefaultCompensationMaxAttempts {
		t.Errorf("default compensation: got timeout %v retry %+v", got.Timeout, got.Retry)
	}
	if got := d.HistoryLimit; got != saga.DefaultHistoryLimit {
		t.Errorf("history limit: got %d, want %d", got, saga.DefaultHistoryLimit)
	}
	if n := d.Steps[3]; !n.Optional || n.Undo != nil {
		t.Errorf("send-refund-notice: got optional %v undo %v, want optional without undo", n.Optional, n.Undo)
	}
	if len(d.OnCompensated) != 0 {
		t.Errorf("on-compensated: got %+v, want none", d.OnCompensated)
	}
	wantLabels := saga.StatusLabels{Running: "requested", Completed: "refunded", Compensating: "rejecting", Compensated: "rejected"}
	if d.Labels != wantLabels {
		t.Errorf("labels: got %+v, want %+v", d.Labels, wantLabels)
	}
	custom := NewDefinition(Options{Timeout: time.Millisecond, Retry: saga.RetryPolicy{MaxAttempts: 9},
		CompensationTimeout: 2 * time.Millisecond, CompensationRetry: saga.RetryPolicy{MaxAttempts: 3}, HistoryLimit: 7})
	if got := custom.Steps[2].Do; got.Timeout != time.Millisecond || got.Retry.MaxAttempts != 9 || custom.HistoryLimit != 7 {
		t.Errorf("custom options: got timeout %v attempts %d limit %d", got.Timeout, got.Retry.MaxAttempts, custom.HistoryLimit)
	}
	if got := custom.Steps[2].Undo; got.Timeout != 2*time.Millisecond || got.Retry.MaxAttempts != 3 {
		t.Errorf("custom compensation options: got timeout %v attempts %d", got.Timeout, got.Retry.MaxAttempts)
	}
	if err := NewDefinition(Options{Timeout: -time.Second}).Validate(); err == nil {
		t.Errorf("negative timeout: got no validation error")
	}
}

func TestHappyPathPayloadsAndLifecycle(t *testing.T) {
	r := newReturnRun(t)
	r.wantStatus(StatusRequested)
	if got, want := payloads(r.Commands), []string{payloadSchedulePickup}; !slices.Equal(got, want) {
		t.Fatalf("first commands: got %v, want %v", got, want)
	}
	out := r.OK(StepSchedulePickup)
	r.wantStatus(StatusPickedUp)
	if got, want := payloads(out.Commands), []string{payloadRefund, payloadRestock}; !slices.Equal(got, want) {
		t.Errorf("after the pickup: got %v, want %v", got, want)
	}
	r.OK(StepRefundPayment)
	r.wantStatus(StatusPickedUp)
	out = r.OK(StepRestock)
	if got, want := payloads(out.Commands), []string{payloadNotice}; !slices.Equal(got, want) {
		t.Errorf("after restock and refund: got %v, want %v", got, want)
	}
	r.OK(StepSendRefundNotice)
	r.wantStatus(StatusRefunded)

	wantWorkers := map[string]string{
		events.TypeShippingSchedulePickup:   WorkerShipping,
		events.TypeInventoryRestock:         WorkerInventory,
		events.TypePaymentRefund:            WorkerPayment,
		events.TypeNotificationRefundNotice: WorkerNotification,
	}
	if got, want := len(r.Commands), len(wantWorkers); got != want {
		t.Fatalf("commands: got %d, want %d", got, want)
	}
	for _, c := range r.Commands {
		if got, want := c.Worker, wantWorkers[c.Type]; got != want {
			t.Errorf("%s: got worker %s, want %s", c.Type, got, want)
		}
		if !slices.Contains(events.CommandTypes(c.Worker), c.Type) {
			t.Errorf("%s is not a command of worker %s", c.Type, c.Worker)
		}
	}
	if got, want := r.lifecycle(), []string{"milestone:" + MilestonePickedUp, string(saga.EventCompleted)}; !slices.Equal(got, want) {
		t.Errorf("lifecycle: got %v, want %v", got, want)
	}

	// A cancel after the refund is recorded and rejected.
	out = r.Apply(saga.CancelInput("too late"))
	r.wantStatus(StatusRefunded)
	if len(out.Events) != 1 || out.Events[0].Kind != saga.EventRejected {
		t.Errorf("cancel after completion: got events %+v, want one rejection", out.Events)
	}
}

// A pickup that fails leaves nothing to compensate: no other step ran.
func TestPickupFails(t *testing.T) {
	r := newReturnRun(t)
	out := r.Fail(StepSchedulePickup, "no_pickup_partner")
	r.wantStatus(StatusRejected)
	if len(out.Commands) != 0 {
		t.Errorf("commands after the failure: got %v, want none", payloads(out.Commands))
	}
	if got := len(r.Commands); got != 1 {
		t.Errorf("commands: got %d (%v), want only the pickup", got, payloads(r.Commands))
	}
	if got, want := r.State.FailedStep, StepSchedulePickup; got != want {
		t.Errorf("failed step: got %s, want %s", got, want)
	}
	if got, want := r.State.Reason, "no_pickup_partner"; got != want {
		t.Errorf("reason: got %s, want %s", got, want)
	}
	for _, name := range []string{StepRestock, StepRefundPayment, StepSendRefundNotice} {
		if got := r.State.Steps[name].Status; got != saga.StepSkipped {
			t.Errorf("%s: got %s, want %s", name, got, saga.StepSkipped)
		}
	}
	if got, want := r.lifecycle(), []string{string(saga.EventCompensated)}; !slices.Equal(got, want) {
		t.Errorf("lifecycle: got %v, want %v", got, want)
	}
}

// A business failure of restock or refund compensates the other step first (once it
// answered), then cancels the pickup: reverse dependency order, with the IDs the steps
// returned.
func TestFailureAfterPickup(t *testing.T) {
	tests := []struct {
		name    string
		script  func(r *returnRun) // runs after the pickup succeeded
		failing string
		reason  string
		waves   [][]string // compensation payloads, wave by wave
	}{
		{
			name:    "restock fails, refund answers later",
			script:  func(r *returnRun) { r.Fail(StepRestock, "not_restockable"); r.OK(StepRefundPayment) },
			failing: StepRestock, reason: "not_restockable",
			waves: [][]string{{payloadCancelRefund}, {payloadCancelPickup}},
		},
		{
			name:    "restock fails after the refund",
			script:  func(r *returnRun) { r.OK(StepRefundPayment); r.Fail(StepRestock, "not_restockable") },
			failing: StepRestock, reason: "not_restockable",
			waves: [][]string{{payloadCancelRefund}, {payloadCancelPickup}},
		},
		{
			name:    "refund declined",
			script:  func(r *returnRun) { r.OK(StepRestock); r.Fail(StepRefundPayment, "refund_declined") },
			failing: StepRefundPayment, reason: "refund_declined",
			waves: [][]string{{payloadUndoRestock}, {payloadCancelPickup}},
		},
		{
			name:    "refund above the limit, restock answers later",
			script:  func(r *returnRun) { r.Fail(StepRefundPayment, "amount_exceeds_limit"); r.OK(StepRestock) },
			failing: StepRefundPayment, reason: "amount_exceeds_limit",
			waves: [][]string{{payloadUndoRestock}, {payloadCancelPickup}},
		},
		{
			name: "both fail",
			script: func(r *returnRun) {
				r.Fail(StepRefundPayment, "refund_declined")
				r.Fail(StepRestock, "not_restockable")
			},
			failing: StepRefundPayment, reason: "refund_declined",
			waves: [][]string{{payloadCancelPickup}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReturnRun(t)
			r.OK(StepSchedulePickup)
			n := len(r.Commands)
			tt.script(r)
			n = r.UndoWaves(n, tt.waves)
			r.wantStatus(StatusRejected)
			if got := r.Compensations(n); len(got) != 0 {
				t.Errorf("compensations after the last wave: got %v, want none", got)
			}
			for _, c := range r.Commands {
				if c.Step == StepSendRefundNotice {
					t.Errorf("the refund notice was sent for a rejected return")
				}
			}
			if r.State.FailedStep != tt.failing || r.State.Reason != tt.reason {
				t.Errorf("failed step and reason: got %s %s, want %s %s", r.State.FailedStep, r.State.Reason, tt.failing, tt.reason)
			}
			want := []string{"milestone:" + MilestonePickedUp, string(saga.EventCompensated)}
			if got := r.lifecycle(); !slices.Equal(got, want) {
				t.Errorf("lifecycle: got %v, want %v", got, want)
			}
		})
	}
}

// The refund notice is optional: a bounce still refunds the return.
func TestBouncedNoticeStillRefunded(t *testing.T) {
	r := newReturnRun(t)
	r.OK(StepSchedulePickup)
	r.OK(StepRestock)
	r.OK(StepRefundPayment)
	out := r.Fail(StepSendRefundNotice, "bounced")
	r.wantStatus(StatusRefunded)
	if len(out.Commands) != 0 || len(r.Compensations(0)) != 0 {
		t.Errorf("compensations after a bounce: got %v", r.Compensations(0))
	}
	if got := r.State.Steps[StepSendRefundNotice].Status; got != saga.StepFailed {
		t.Errorf("notice: got %s, want %s", got, saga.StepFailed)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name   string
		before func(r *returnRun) // runs before the cancel
		after  func(r *returnRun) // answers what was in flight
		waves  [][]string
	}{
		{
			name:   "while the pickup is in flight",
			before: func(r *returnRun) {},
			after:  func(r *returnRun) { r.OK(StepSchedulePickup) },
			waves:  [][]string{{payloadCancelPickup}},
		},
		{
			name:   "while restock and refund are in flight",
			before: func(r *returnRun) { r.OK(StepSchedulePickup) },
			after:  func(r *returnRun) { r.OK(StepRestock); r.OK(StepRefundPayment) },
			waves:  [][]string{{payloadUndoRestock, payloadCancelRefund}, {payloadCancelPickup}},
		},
		{
			name:   "after the refund, restock in flight",
			before: func(r *returnRun) { r.OK(StepSchedulePickup); r.OK(StepRefundPayment) },
			after:  func(r *returnRun) { r.Fail(StepRestock, "not_restockable") },
			waves:  [][]string{{payloadCancelRefund}, {payloadCancelPickup}},
		},
		{
			name:   "while the notice is in flight",
			before: func(r *returnRun) { r.OK(StepSchedulePickup); r.OK(StepRestock); r.OK(StepRefundPayment) },
			after:  func(r *returnRun) { r.OK(StepSendRefundNotice) },
			waves:  [][]string{{payloadUndoRestock, payloadCancelRefund}, {payloadCancelPickup}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReturnRun(t)
			tt.before(r)
			out := r.Apply(saga.CancelInput("customer kept the items"))
			r.wantStatus(StatusRejecting)
			if len(out.Commands) != 0 {
				t.Errorf("cancel with steps in flight: got commands %v, want none until they answer", payloads(out.Commands))
			}
			n := len(r.Commands)
			tt.after(r)
			r.UndoWaves(n, tt.waves)
			r.wantStatus(StatusRejected)
			if got, want := r.State.Reason, "customer kept the items"; got != want {
				t.Errorf("reason: got %s, want %s", got, want)
			}
		})
	}
}

// Timeouts and retryable errors retry a step with backoff; a step whose attempts all timed
// out has an unknown outcome and is compensated without the ID it would have returned.
func TestTimeoutsAndRetries(t *testing.T) {
	r := newReturnRun(t)
	first := r.State.Steps[StepSchedulePickup].Do.CommandID

	// The pickup's first attempt times out; the second succeeds.
	r.Fire() // deadline
	r.wantStatus(StatusRequested)
	if got := r.State.Steps[StepSchedulePickup].Status; got != saga.StepRetryWait {
		t.Fatalf("pickup after a timeout: got %s, want %s", got, saga.StepRetryWait)
	}
	out := r.Fire() // backoff
	if len(out.Commands) != 1 || out.Commands[0].Attempt != 2 || out.Commands[0].ID == first ||
		string(out.Commands[0].Payload) != payloadSchedulePickup {
		t.Fatalf("retry: got %+v, want attempt 2 of the pickup", out.Commands)
	}
	r.OK(StepSchedulePickup)
	r.wantStatus(StatusPickedUp)

	// Restock answers a retryable error, then succeeds on its second attempt.
	r.Reply(StepRestock, saga.ReplyError, "db_down", false)
	out = r.Fire()
	if len(out.Commands) != 1 || out.Commands[0].Step != StepRestock || out.Commands[0].Attempt != 2 {
		t.Fatalf("restock retry: got %+v", out.Commands)
	}
	r.OK(StepRestock)

	// Every attempt of the refund times out: its outcome is unknown, so it is compensated
	// without a refund ID.
	for r.State.Status == saga.StatusRunning {
		r.Fire()
	}
	r.wantStatus(StatusRejecting)
	if got, want := r.State.Steps[StepRefundPayment].Outcome, saga.OutcomeUnknown; got != want {
		t.Errorf("refund outcome: got %s, want %s", got, want)
	}
	if got, want := r.State.Reason, "timeout"; got != want {
		t.Errorf("reason: got %s, want %s", got, want)
	}
	if got, want := r.Compensations(0), slices.Sorted(slices.Values([]string{`{"return_id":"ret-2001"}`, payloadUndoRestock})); !slices.Equal(got, want) {
		t.Errorf("first wave: got %v, want %v", got, want)
	}
	r.Undone(StepRestock)
	r.Undone(StepRefundPayment)
	r.wantStatus(StatusRejecting)
	r.Undone(StepSchedulePickup)
	r.wantStatus(StatusRejected)

	attempts := map[string]int{}
	for _, c := range r.Commands {
		if !c.Compensation {
			attempts[c.Step] = max(attempts[c.Step], c.Attempt)
		}
	}
	if want := map[string]int{StepSchedulePickup: 2, StepRestock: 2, StepRefundPayment: 2}; !reflect.DeepEqual(attempts, want) {
		t.Errorf("attempts: got %v, want %v", attempts, want)
	}
}

// A compensation that exhausts its attempts fails the saga; an operator's retry finishes
// the rejection.
func TestCompensationFailureThenRetry(t *testing.T) {
	r := newReturnRun(t)
	r.OK(StepSchedulePickup)
	r.OK(StepRestock)
	r.Fail(StepRefundPayment, "refund_declined")
	r.Reply(StepRestock, saga.ReplyFailure, "locked", true)
	r.wantStatus(StatusFailed)
	if got, want := r.lifecycle(), []string{"milestone:" + MilestonePickedUp, string(saga.EventFailed)}; !slices.Equal(got, want) {
		t.Errorf("lifecycle: got %v, want %v", got, want)
	}
	r.Apply(saga.RetryInput("operator"))
	r.wantStatus(StatusRejecting)
	r.Undone(StepRestock)
	r.Undone(StepSchedulePickup)
	r.wantStatus(StatusRejected)
}

func TestBuilders(t *testing.T) {
	input := json.RawMessage(`{}`)
	tests := []struct {
		name    string
		build   saga.Builder
		bc      saga.BuildContext
		want    string
		wantErr bool
	}{
		{"return ID falls back to the saga ID", buildRestock, saga.BuildContext{SagaID: "s-1", Input: input}, `{"return_id":"s-1","items":null}`, false},
		{"bad input", buildSchedulePickup, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(`[]`)}, "", true},
		{"pickup ID of the result", buildCancelPickup, saga.BuildContext{SagaID: "s-1", Input: input,
			Results: map[string]json.RawMessage{StepSchedulePickup: json.RawMessage(`{"pickup_id":"p-9"}`)}}, `{"return_id":"s-1","pickup_id":"p-9"}`, false},
		{"unreadable result", buildUndoRestock, saga.BuildContext{SagaID: "s-1", Input: input,
			Results: map[string]json.RawMessage{StepRestock: json.RawMessage(`"x"`)}}, `{"return_id":"s-1"}`, false},
		{"result of the wrong type", buildCancelRefund, saga.BuildContext{SagaID: "s-1", Input: input,
			Results: map[string]json.RawMessage{StepRefundPayment: json.RawMessage(`{"refund_id":7}`)}}, `{"return_id":"s-1"}`, false},
		{"refund of the input", buildRefund, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(sampleReturn)}, payloadRefund, false},
		{"notice of the input", buildRefundNotice, saga.BuildContext{SagaID: "s-1", Input: json.RawMessage(sampleReturn)}, payloadNotice, false},
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

func TestLabel(t *testing.T) {
	d := Definition()
	tests := []struct {
		s    *saga.State
		want string
	}{
		{nil, ""},
		{&saga.State{Status: saga.StatusRunning}, StatusRequested},
		{&saga.State{Status: saga.StatusRunning, Milestones: []string{MilestonePickedUp}}, StatusPickedUp},
		{&saga.State{Status: saga.StatusCompensating, Milestones: []string{MilestonePickedUp}}, StatusRejecting},
		{&saga.State{Status: saga.StatusCompleted}, StatusRefunded},
		{&saga.State{Status: saga.StatusCompensated}, StatusRejected},
		{&saga.State{Status: saga.StatusFailed}, StatusFailed},
	}
	for _, tt := range tests {
		name := "nil"
		if tt.s != nil {
			name = string(tt.s.Status) + strings.Join(tt.s.Milestones, ",")
		}
		t.Run(name, func(t *testing.T) {
			if got := d.Label(tt.s); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMermaid(t *testing.T) {
	got := Definition().Mermaid()
	for _, want := range []string{
		"flowchart LR", "schedule-pickup<br/><small>shipping", "refund-payment<br/><small>payment",
		"s_schedule_pickup --> s_restock", "s_schedule_pickup --> s_refund_payment",
		"s_refund_payment --> s_send_refund_notice", `m_picked_up{{"picked-up"}}`,
		events.TypePaymentCancelRefund,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagram lacks %q:\n%s", want, got)
		}
	}
}

func TestStateRoundTripsThroughJSON(t *testing.T) {
	r := newReturnRun(t)
	r.OK(StepSchedulePickup)
	r.Reply(StepRefundPayment, saga.ReplyError, "db_down", false)
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
