// Package order is podium's built-in order saga (DESIGN §4.3): reserve inventory and
// authorize payment in parallel; once both succeeded the order is approved; then prepare
// the shipment and assign a delivery in parallel; then send the confirmation (optional).
// Every step but the confirmation has a compensation; after a compensation completed a
// cancellation notice is sent.
//
// The package only describes the saga (steps, payload builders, policies) and maps saga
// states and events to order statuses and lifecycle event types; the engine is package
// saga, the Kafka plumbing is package orchestrator. Everything here is pure and safe for
// concurrent use.
package order

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// DefinitionName is the saga's name, stored in every state (saga.State.Definition).
const DefinitionName = "order"

// Step names.
const (
	StepReserveInventory       = "reserve-inventory"
	StepAuthorizePayment       = "authorize-payment"
	StepPrepareShipment        = "prepare-shipment"
	StepAssignDelivery         = "assign-delivery"
	StepSendConfirmation       = "send-confirmation"
	StepSendCancellationNotice = "send-cancellation-notice"
)

// MilestoneApproved is reached once inventory is reserved and payment authorized.
const MilestoneApproved = "approved"

// DefaultCancelReason is the cancellation notice's reason when none was given.
const DefaultCancelReason = "cancelled"

// Options tunes the order saga's timeouts and retry policies; zero fields take their
// defaults (saga.Policies).
type Options = saga.Policies

// Option defaults (those of saga.Policies).
const (
	DefaultTimeout                = saga.DefaultTimeout
	DefaultMaxAttempts            = saga.DefaultStepMaxAttempts
	DefaultCompensationTimeout    = saga.DefaultCompensationTimeout
	DefaultCompensationMaxAttempt = saga.DefaultCompensationMaxAttempts
)

// Definition returns the order saga with default options.
func Definition() *saga.Definition { return NewDefinition(Options{}) }

// NewDefinition returns the order saga with the given options. Call Validate on the
// result to check the options.
func NewDefinition(o Options) *saga.Definition {
	o = o.WithDefaults()
	do, undo := o.Do, o.Undo
	stage1 := []string{StepReserveInventory, StepAuthorizePayment}
	stage2 := []string{StepPrepareShipment, StepAssignDelivery}
	return &saga.Definition{
		Name:    DefinitionName,
		Workers: slices.Clone(events.Workers),
		Steps: []saga.Step{
			{
				Name: StepReserveInventory,
				Do:   do("inventory", events.TypeInventoryReserve, buildReserve),
				Undo: undo("inventory", events.TypeInventoryRelease, buildRelease),
			},
			{
				Name: StepAuthorizePayment,
				Do:   do("payment", events.TypePaymentAuthorize, buildAuthorize),
				Undo: undo("payment", events.TypePaymentVoid, buildVoid),
			},
			{
				Name:  StepPrepareShipment,
				Do:    do("seller", events.TypeSellerPrepareShipment, buildPrepare),
				Undo:  undo("seller", events.TypeSellerCancelPreparation, buildCancelPreparation),
				After: stage1,
			},
			{
				Name:  StepAssignDelivery,
				Do:    do("shipping", events.TypeShippingAssignDelivery, buildAssign),
				Undo:  undo("shipping", events.TypeShippingCancelDelivery, buildCancelDelivery),
				After: stage1,
			},
			{
				Name:     StepSendConfirmation,
				Do:       do("notification", events.TypeNotificationConfirmation, buildConfirmation),
				After:    stage2,
				Optional: true,
			},
		},
		Milestones: []saga.Milestone{{Name: MilestoneApproved, After: stage1}},
		OnCompensated: []saga.Step{{
			Name:     StepSendCancellationNotice,
			Do:       do("notification", events.TypeNotificationCancellation, buildCancellationNotice),
			Optional: true,
		}},
		HistoryLimit: o.HistoryLimit,
		DecodeInput:  decodeOrder,
		Labels:       saga.StatusLabels{Running: string(StatusPending), Compensating: string(StatusCancelling), Compensated: string(StatusCancelled)},
	}
}

// Status is an order's status as the API and lifecycle events show it.
type Status string

// Order statuses: pending → approved → completed; a failure or a cancel → cancelling →
// cancelled; a compensation that exhausted its retries → failed.
const (
	StatusPending    Status = "pending"
	StatusApproved   Status = "approved"
	StatusCompleted  Status = "completed"
	StatusCancelling Status = "cancelling"
	StatusCancelled  Status = "cancelled"
	StatusFailed     Status = "failed"
)

// StatusOf maps a saga state to the order status; "" for a nil state or an unknown saga
// status. It equals the definition's Label (saga.Definition.Labels).
func StatusOf(s *saga.State) Status {
	if s == nil {
		return ""
	}
	switch s.Status {
	case saga.StatusRunning:
		if slices.Contains(s.Milestones, MilestoneApproved) {
			return StatusApproved
		}
		return StatusPending
	case saga.StatusCompensating:
		return StatusCancelling
	case saga.StatusCompleted:
		return StatusCompleted
	case saga.StatusCompensated:
		return StatusCancelled
	case saga.StatusFailed:
		return StatusFailed
	}
	return ""
}

// LifecycleType maps a saga event to the type of the public lifecycle event on
// orders.events: the approved milestone, completed, compensated (cancelled) and failed.
// Other events (rejections) are not published: ok is false.
func LifecycleType(e saga.Event) (eventType string, ok bool) {
	switch e.Kind {
	case saga.EventMilestone:
		if e.Name == MilestoneApproved {
			return events.TypeOrderApproved, true
		}
	case saga.EventCompleted:
		return events.TypeOrderCompleted, true
	case saga.EventCompensated:
		return events.TypeOrderCancelled, true
	case saga.EventFailed:
		return events.TypeOrderFailed, true
	}
	return "", false
}

// Lifecycle publishes the order saga's lifecycle events (the orchestrator.SagaType hook):
// the types of LifecycleType, with data events.OrderLifecycle.
func Lifecycle(s *saga.State, e saga.Event) (eventType string, data any, ok bool) {
	typ, ok := LifecycleType(e)
	if !ok {
		return "", nil, false
	}
	return typ, events.OrderLifecycle{OrderID: s.SagaID, Status: string(StatusOf(s)), Reason: e.Reason, Step: e.Step}, true
}

// decodeOrder is the definition's DecodeInput: the saga's input as an
// *events.OrderPlaced, whose order ID falls back to the saga ID.
func decodeOrder(sagaID string, input json.RawMessage) (any, error) {
	o := new(events.OrderPlaced)
	if err := json.Unmarshal(input, o); err != nil {
		return nil, fmt.Errorf("decoding order %q: %w", sagaID, err)
	}
	if o.OrderID == "" {
		o.OrderID = sagaID
	}
	return o, nil
}

// The payload builders: each gets the input decodeOrder made (saga.Build).
var (
	buildReserve = saga.Build(decodeOrder, func(o *events.OrderPlaced, _ saga.BuildContext) events.ReserveInventory {
		return events.ReserveInventory{OrderID: o.OrderID, Items: o.Items}
	})
	buildRelease = saga.Build(decodeOrder, func(o *events.OrderPlaced, bc saga.BuildContext) events.ReleaseInventory {
		return events.ReleaseInventory{OrderID: o.OrderID, ReservationID: saga.ResultField(bc, StepReserveInventory, "reservation_id")}
	})
	buildAuthorize = saga.Build(decodeOrder, func(o *events.OrderPlaced, _ saga.BuildContext) events.AuthorizePayment {
		return events.AuthorizePayment{OrderID: o.OrderID, Amount: o.Total, Currency: o.Currency, Token: o.Payment.Token}
	})
	buildVoid = saga.Build(decodeOrder, func(o *events.OrderPlaced, bc saga.BuildContext) events.VoidPayment {
		return events.VoidPayment{OrderID: o.OrderID, AuthorizationID: saga.ResultField(bc, StepAuthorizePayment, "authorization_id")}
	})
	buildPrepare = saga.Build(decodeOrder, func(o *events.OrderPlaced, _ saga.BuildContext) events.PrepareShipment {
		return events.PrepareShipment{OrderID: o.OrderID, SellerID: o.SellerID, Items: o.Items}
	})
	buildCancelPreparation = saga.Build(decodeOrder, func(o *events.OrderPlaced, bc saga.BuildContext) events.CancelShipmentPreparation {
		return events.CancelShipmentPreparation{OrderID: o.OrderID, SellerID: o.SellerID,
			PreparationID: saga.ResultField(bc, StepPrepareShipment, "preparation_id")}
	})
	buildAssign = saga.Build(decodeOrder, func(o *events.OrderPlaced, _ saga.BuildContext) events.AssignDelivery {
		return events.AssignDelivery{OrderID: o.OrderID, Address: o.ShippingAddress}
	})
	buildCancelDelivery = saga.Build(decodeOrder, func(o *events.OrderPlaced, bc saga.BuildContext) events.CancelDelivery {
		return events.CancelDelivery{OrderID: o.OrderID, DeliveryID: saga.ResultField(bc, StepAssignDelivery, "delivery_id")}
	})
	buildConfirmation = saga.Build(decodeOrder, func(o *events.OrderPlaced, _ saga.BuildContext) events.SendConfirmation {
		return events.SendConfirmation{OrderID: o.OrderID, Email: o.Customer.Email, Total: o.Total, Currency: o.Currency}
	})
	buildCancellationNotice = saga.Build(decodeOrder, func(o *events.OrderPlaced, bc saga.BuildContext) events.SendCancellationNotice {
		reason := bc.Reason
		if reason == "" {
			reason = DefaultCancelReason
		}
		return events.SendCancellationNotice{OrderID: o.OrderID, Email: o.Customer.Email, Reason: reason}
	})
)
