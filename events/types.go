package events

import (
	"slices"
	"strings"
)

// Order event types.
const (
	// TypeOrderPlaced starts an order saga (orders.placed, data OrderPlaced).
	TypeOrderPlaced = "podium.order.placed.v1"
	// TypeOrderCancel asks to cancel an order (orders.control, data ControlRequest).
	TypeOrderCancel = "podium.order.cancel.v1"
	// TypeOrderRetry asks to retry a failed saga (orders.control, data ControlRequest).
	TypeOrderRetry = "podium.order.retry.v1"
	// TypeOrderApproved: inventory reserved and payment authorized (orders.events, data OrderLifecycle).
	TypeOrderApproved = "podium.order.approved.v1"
	// TypeOrderCompleted: every required step succeeded (orders.events, data OrderLifecycle).
	TypeOrderCompleted = "podium.order.completed.v1"
	// TypeOrderCancelled: the order was compensated (orders.events, data OrderLifecycle).
	TypeOrderCancelled = "podium.order.cancelled.v1"
	// TypeOrderFailed: a compensation exhausted its retries (orders.events, data OrderLifecycle).
	TypeOrderFailed = "podium.order.failed.v1"
	// TypeOrderControlRejected: an operator request (cancel, retry) was refused: the order
	// is unknown, finished, or in a status that refuses it (orders.events, data
	// ControlOutcome). Not a status change: IsLifecycleType is false for it.
	TypeOrderControlRejected = "podium.order.control-rejected.v1"
	// TypeOrderControlDeferred: a cancel arrived before its order's OrderPlaced; the
	// orchestrator holds it for a window and applies it if the order arrives, or rejects it
	// (TypeOrderControlRejected) when the window ends (orders.events, data ControlOutcome).
	// Not a status change: IsLifecycleType is false for it.
	TypeOrderControlDeferred = "podium.order.control-deferred.v1"
	// TypeSagaTimeline: the history entries one batch appended to one saga (orders.events,
	// data SagaTimeline). The audit stream from which the API builds each order's timeline.
	TypeSagaTimeline = "podium.saga.timeline.v1"
)

// Command types, sent on <worker>.commands. The reply to a command has the type
// [ReplyType](command type) and data [Reply].
const (
	TypeInventoryReserve         = "podium.inventory.reserve.v1"                     // data ReserveInventory
	TypeInventoryRelease         = "podium.inventory.release.v1"                     // data ReleaseInventory
	TypePaymentAuthorize         = "podium.payment.authorize.v1"                     // data AuthorizePayment
	TypePaymentVoid              = "podium.payment.void.v1"                          // data VoidPayment
	TypeSellerPrepareShipment    = "podium.seller.prepare-shipment.v1"               // data PrepareShipment
	TypeSellerCancelPreparation  = "podium.seller.cancel-preparation.v1"             // data CancelShipmentPreparation
	TypeShippingAssignDelivery   = "podium.shipping.assign-delivery.v1"              // data AssignDelivery
	TypeShippingCancelDelivery   = "podium.shipping.cancel-delivery.v1"              // data CancelDelivery
	TypeNotificationConfirmation = "podium.notification.send-confirmation.v1"        // data SendConfirmation
	TypeNotificationCancellation = "podium.notification.send-cancellation-notice.v1" // data SendCancellationNotice
)

// IsLifecycleType reports whether t is one of the public order lifecycle types (data
// OrderLifecycle): a change of the order's status. orders.events also carries
// podium.saga.timeline.v1 records and the outcomes of operator requests
// ([IsControlOutcomeType]), for which it is false.
func IsLifecycleType(t string) bool {
	switch t {
	case TypeOrderApproved, TypeOrderCompleted, TypeOrderCancelled, TypeOrderFailed:
		return true
	}
	return false
}

// IsControlOutcomeType reports whether t is the outcome of an operator request on
// orders.events ([TypeOrderControlRejected], [TypeOrderControlDeferred]; data
// ControlOutcome).
func IsControlOutcomeType(t string) bool {
	return t == TypeOrderControlRejected || t == TypeOrderControlDeferred
}

// typeSpec is what the codec knows about one event type.
type typeSpec struct {
	schema  string     // schema name in package schemas (data)
	worker  string     // for commands: the worker that accepts it
	payload func() any // a new zero payload for typed decoding
	command bool
	reply   bool
}

func payload[T any]() func() any { return func() any { return new(T) } }

// eventTypes lists the non-command types. Adding a version is one line here (and a schema).
var eventTypes = map[string]typeSpec{
	TypeOrderPlaced:    {schema: "order.placed.v1", payload: payload[OrderPlaced]()},
	TypeOrderCancel:    {schema: "order.control.v1", payload: payload[ControlRequest]()},
	TypeOrderRetry:     {schema: "order.control.v1", payload: payload[ControlRequest]()},
	TypeOrderApproved:  {schema: "order.lifecycle.v1", payload: payload[OrderLifecycle]()},
	TypeOrderCompleted: {schema: "order.lifecycle.v1", payload: payload[OrderLifecycle]()},
	TypeOrderCancelled: {schema: "order.lifecycle.v1", payload: payload[OrderLifecycle]()},
	TypeOrderFailed:    {schema: "order.lifecycle.v1", payload: payload[OrderLifecycle]()},
	TypeSagaTimeline:   {schema: "saga.timeline.v1", payload: payload[SagaTimeline]()},

	TypeOrderControlRejected: {schema: "order.control-outcome.v1", payload: payload[ControlOutcome]()},
	TypeOrderControlDeferred: {schema: "order.control-outcome.v1", payload: payload[ControlOutcome]()},
}

// commandTypes lists the command types. Each gets its reply type registered automatically.
// Adding a version is one line here (and a schema).
var commandTypes = map[string]typeSpec{
	TypeInventoryReserve:         {schema: "inventory.reserve.v1", worker: "inventory", payload: payload[ReserveInventory]()},
	TypeInventoryRelease:         {schema: "inventory.release.v1", worker: "inventory", payload: payload[ReleaseInventory]()},
	TypePaymentAuthorize:         {schema: "payment.authorize.v1", worker: "payment", payload: payload[AuthorizePayment]()},
	TypePaymentVoid:              {schema: "payment.void.v1", worker: "payment", payload: payload[VoidPayment]()},
	TypeSellerPrepareShipment:    {schema: "seller.prepare-shipment.v1", worker: "seller", payload: payload[PrepareShipment]()},
	TypeSellerCancelPreparation:  {schema: "seller.cancel-preparation.v1", worker: "seller", payload: payload[CancelShipmentPreparation]()},
	TypeShippingAssignDelivery:   {schema: "shipping.assign-delivery.v1", worker: "shipping", payload: payload[AssignDelivery]()},
	TypeShippingCancelDelivery:   {schema: "shipping.cancel-delivery.v1", worker: "shipping", payload: payload[CancelDelivery]()},
	TypeNotificationConfirmation: {schema: "notification.send-confirmation.v1", worker: "notification", payload: payload[SendConfirmation]()},
	TypeNotificationCancellation: {schema: "notification.send-cancellation-notice.v1", worker: "notification", payload: payload[SendCancellationNotice]()},
}

// replySchema is the schema of every reply's data.
const replySchema = "reply.v1"

// types is every known type: events, commands and their replies. Read-only after init.
var types = buildTypes()

func buildTypes() map[string]typeSpec {
	m := make(map[string]typeSpec, len(eventTypes)+2*len(commandTypes))
	for t, s := range eventTypes {
		m[t] = s
	}
	for t, s := range commandTypes {
		s.command = true
		m[t] = s
		m[ReplyType(t)] = typeSpec{schema: replySchema, worker: s.worker, payload: payload[Reply](), reply: true}
	}
	return m
}

// ReplyType returns the type of the reply to a command type: ".reply" goes before the
// version, "podium.inventory.reserve.v1" -> "podium.inventory.reserve.reply.v1". A type
// without a version suffix gets ".reply" appended.
func ReplyType(commandType string) string {
	i := strings.LastIndex(commandType, ".v")
	if i < 0 || !isVersion(commandType[i+2:]) {
		return commandType + ".reply"
	}
	return commandType[:i] + ".reply" + commandType[i:]
}

func isVersion(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CommandTypes returns the command types worker accepts, sorted; nil for an unknown worker.
func CommandTypes(worker string) []string {
	var out []string
	for t, s := range commandTypes {
		if s.worker == worker {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// KnownType reports whether typ is a type the codec accepts (events, commands, replies).
func KnownType(typ string) bool {
	_, ok := types[typ]
	return ok
}
