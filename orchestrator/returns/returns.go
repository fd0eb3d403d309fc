// Package returns is podium's built-in returns saga: schedule the pickup of the returned
// items; once it is scheduled the return is picked up; then restock the items and refund the
// payment in parallel; then send the refund notice (optional).
//
//	schedule-pickup (shipping) ─┬─ restock (inventory)      ─┬─ send-refund-notice (notification, optional) ─ completed
//	                            └─ refund-payment (payment) ─┘
//	compensations: cancel-pickup, undo-restock, cancel-refund
//
// A return is started by events.ReturnRequested (events.TypeReturnRequested on
// events.TopicReturnsRequested, subject = return ID). Its statuses, as Definition().Label
// names them: requested → picked-up → refunded; a required step fails or an operator cancels
// → rejecting → rejected; a compensation that exhausts its retries → failed.
//
// The package only describes the saga (steps, payload builders, policies, status labels);
// the engine is package saga, the Kafka plumbing is package orchestrator. Everything here is
// pure and safe for concurrent use.
package returns

import (
	"encoding/json"
	"fmt"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// DefinitionName is the saga's name, stored in every state (saga.State.Definition).
const DefinitionName = "returns"

// Step names.
const (
	StepSchedulePickup   = "schedule-pickup"
	StepRestock          = "restock"
	StepRefundPayment    = "refund-payment"
	StepSendRefundNotice = "send-refund-notice"
)

// MilestonePickedUp is reached once the pickup is scheduled.
const MilestonePickedUp = "picked-up"

// Return statuses, as the definition's Label names them: requested → picked-up → refunded;
// a failure or a cancel → rejecting → rejected; a compensation that exhausted its retries →
// failed.
const (
	StatusRequested = "requested"
	StatusPickedUp  = MilestonePickedUp
	StatusRefunded  = "refunded"
	StatusRejecting = "rejecting"
	StatusRejected  = "rejected"
	StatusFailed    = "failed"
)

// labels are the definition's status labels (Definition.Labels).
var labels = saga.StatusLabels{
	Running:      StatusRequested,
	Compensating: StatusRejecting,
	Completed:    StatusRefunded,
	Compensated:  StatusRejected,
}

// The workers the saga sends commands to.
const (
	WorkerShipping     = "shipping"
	WorkerInventory    = "inventory"
	WorkerPayment      = "payment"
	WorkerNotification = "notification"
)

// Options tunes the returns saga's timeouts and retry policies; zero fields take their
// defaults (saga.Policies).
type Options = saga.Policies

// Option defaults (those of saga.Policies).
const (
	DefaultTimeout                 = saga.DefaultTimeout
	DefaultMaxAttempts             = saga.DefaultStepMaxAttempts
	DefaultCompensationTimeout     = saga.DefaultCompensationTimeout
	DefaultCompensationMaxAttempts = saga.DefaultCompensationMaxAttempts
)

// Definition returns the returns saga with default options.
func Definition() *saga.Definition { return NewDefinition(Options{}) }

// NewDefinition returns the returns saga with the given options. Call Validate on the
// result to check the options.
func NewDefinition(o Options) *saga.Definition {
	o = o.WithDefaults()
	do, undo := o.Do, o.Undo
	pickup := []string{StepSchedulePickup}
	return &saga.Definition{
		Name:    DefinitionName,
		Workers: []string{WorkerShipping, WorkerInventory, WorkerPayment, WorkerNotification},
		Steps: []saga.Step{
			{
				Name: StepSchedulePickup,
				Do:   do(WorkerShipping, events.TypeShippingSchedulePickup, buildSchedulePickup),
				Undo: undo(WorkerShipping, events.TypeShippingCancelPickup, buildCancelPickup),
			},
			{
				Name:  StepRestock,
				Do:    do(WorkerInventory, events.TypeInventoryRestock, buildRestock),
				Undo:  undo(WorkerInventory, events.TypeInventoryUndoRestock, buildUndoRestock),
				After: pickup,
			},
			{
				Name:  StepRefundPayment,
				Do:    do(WorkerPayment, events.TypePaymentRefund, buildRefund),
				Undo:  undo(WorkerPayment, events.TypePaymentCancelRefund, buildCancelRefund),
				After: pickup,
			},
			{
				Name:     StepSendRefundNotice,
				Do:       do(WorkerNotification, events.TypeNotificationRefundNotice, buildRefundNotice),
				After:    []string{StepRestock, StepRefundPayment},
				Optional: true,
			},
		},
		Milestones:   []saga.Milestone{{Name: MilestonePickedUp, After: pickup}},
		HistoryLimit: o.HistoryLimit,
		DecodeInput:  decodeReturn,
		Labels:       labels,
	}
}

// decodeReturn is the definition's DecodeInput: the saga's input as an
// *events.ReturnRequested, whose return ID falls back to the saga ID.
func decodeReturn(sagaID string, input json.RawMessage) (any, error) {
	r := new(events.ReturnRequested)
	if err := json.Unmarshal(input, r); err != nil {
		return nil, fmt.Errorf("decoding return %q: %w", sagaID, err)
	}
	if r.ReturnID == "" {
		r.ReturnID = sagaID
	}
	return r, nil
}

// The payload builders: each gets the input decodeReturn made (saga.Build).
var (
	buildSchedulePickup = saga.Build(decodeReturn, func(r *events.ReturnRequested, _ saga.BuildContext) events.SchedulePickup {
		return events.SchedulePickup{ReturnID: r.ReturnID, Address: r.PickupAddress}
	})
	buildCancelPickup = saga.Build(decodeReturn, func(r *events.ReturnRequested, bc saga.BuildContext) events.CancelPickup {
		return events.CancelPickup{ReturnID: r.ReturnID, PickupID: saga.ResultField(bc, StepSchedulePickup, "pickup_id")}
	})
	buildRestock = saga.Build(decodeReturn, func(r *events.ReturnRequested, _ saga.BuildContext) events.Restock {
		return events.Restock{ReturnID: r.ReturnID, Items: r.Items}
	})
	buildUndoRestock = saga.Build(decodeReturn, func(r *events.ReturnRequested, bc saga.BuildContext) events.UndoRestock {
		return events.UndoRestock{ReturnID: r.ReturnID, RestockID: saga.ResultField(bc, StepRestock, "restock_id")}
	})
	buildRefund = saga.Build(decodeReturn, func(r *events.ReturnRequested, _ saga.BuildContext) events.RefundPayment {
		return events.RefundPayment{ReturnID: r.ReturnID, Amount: r.Refund, Currency: r.Currency, Token: r.Payment.Token}
	})
	buildCancelRefund = saga.Build(decodeReturn, func(r *events.ReturnRequested, bc saga.BuildContext) events.CancelRefund {
		return events.CancelRefund{ReturnID: r.ReturnID, RefundID: saga.ResultField(bc, StepRefundPayment, "refund_id")}
	})
	buildRefundNotice = saga.Build(decodeReturn, func(r *events.ReturnRequested, _ saga.BuildContext) events.SendRefundNotice {
		return events.SendRefundNotice{ReturnID: r.ReturnID, Email: r.Customer.Email, Amount: r.Refund, Currency: r.Currency}
	})
)
