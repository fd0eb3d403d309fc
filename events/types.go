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
	// TypeSagaTimeline: the history entries one batch appended to one saga, of any saga
	// type (orders.events, data SagaTimeline). The audit stream from which the API builds
	// each saga's timeline.
	TypeSagaTimeline = "podium.saga.timeline.v1"
)

// Generic saga types: the control requests, their outcomes and the lifecycle events of
// every saga type that is not the order saga (which keeps its podium.order.* types). They
// share the order saga's topics: requests on [TopicOrdersControl], outcomes and lifecycle
// events on [TopicOrdersEvents]. Their subject and saga_id are the saga ID.
const (
	// TypeSagaCancel asks to cancel (compensate) a saga of any type, an order saga too
	// (orders.control, data ControlRequest with SagaID).
	TypeSagaCancel = "podium.saga.cancel.v1"
	// TypeSagaRetry asks to retry a failed saga of any type, an order saga too
	// (orders.control, data ControlRequest with SagaID).
	TypeSagaRetry = "podium.saga.retry.v1"
	// TypeSagaControlRejected: a podium.saga.* request was refused (orders.events, data
	// ControlOutcome with SagaID). Not a status change: IsLifecycleType is false for it.
	TypeSagaControlRejected = "podium.saga.control-rejected.v1"
	// TypeSagaControlDeferred: a podium.saga.* cancel arrived before its saga started and is
	// held for a window (orders.events, data ControlOutcome with SagaID). Not a status
	// change: IsLifecycleType is false for it.
	TypeSagaControlDeferred = "podium.saga.control-deferred.v1"
	// TypeSagaLifecycle: a status change of a saga of any type but the order saga
	// (orders.events, data SagaLifecycle).
	TypeSagaLifecycle = "podium.saga.lifecycle.v1"
)

// TypeReturnRequested starts a returns saga (returns.requested, data ReturnRequested;
// subject the return ID).
const TypeReturnRequested = "podium.return.requested.v1"

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

// Command types of the returns saga (subject and return_id: the return ID).
const (
	TypeShippingSchedulePickup   = "podium.shipping.schedule-pickup.v1"        // data SchedulePickup
	TypeShippingCancelPickup     = "podium.shipping.cancel-pickup.v1"          // data CancelPickup
	TypeInventoryRestock         = "podium.inventory.restock.v1"               // data Restock
	TypeInventoryUndoRestock     = "podium.inventory.undo-restock.v1"          // data UndoRestock
	TypePaymentRefund            = "podium.payment.refund.v1"                  // data RefundPayment
	TypePaymentCancelRefund      = "podium.payment.cancel-refund.v1"           // data CancelRefund
	TypeNotificationRefundNotice = "podium.notification.send-refund-notice.v1" // data SendRefundNotice
)

// IsLifecycleType reports whether t is one of the public lifecycle types: the order types
// (data OrderLifecycle) and [TypeSagaLifecycle] (data SagaLifecycle), each a change of a
// saga's status. orders.events also carries podium.saga.timeline.v1 records and the
// outcomes of operator requests ([IsControlOutcomeType]), for which it is false.
func IsLifecycleType(t string) bool {
	switch t {
	case TypeOrderApproved, TypeOrderCompleted, TypeOrderCancelled, TypeOrderFailed, TypeSagaLifecycle:
		return true
	}
	return false
}

// IsControlOutcomeType reports whether t is the outcome of an operator request on
// orders.events ([TypeOrderControlRejected], [TypeOrderControlDeferred],
// [TypeSagaControlRejected], [TypeSagaControlDeferred]; data ControlOutcome).
func IsControlOutcomeType(t string) bool {
	switch t {
	case TypeOrderControlRejected, TypeOrderControlDeferred, TypeSagaControlRejected, TypeSagaControlDeferred:
		return true
	}
	return false
}

func payload[T any]() func() any { return func() any { return new(T) } }

// builtinEvents lists podium's non-command types. Adding a version is one line here (and
// a schema).
var builtinEvents = map[string]typeSpec{
	TypeOrderPlaced:    {schema: "order.placed.v1", subject: "order_id", payload: payload[OrderPlaced]()},
	TypeOrderCancel:    {schema: "order.control.v1", subject: "order_id", payload: payload[ControlRequest]()},
	TypeOrderRetry:     {schema: "order.control.v1", subject: "order_id", payload: payload[ControlRequest]()},
	TypeOrderApproved:  {schema: "order.lifecycle.v1", subject: "order_id", payload: payload[OrderLifecycle]()},
	TypeOrderCompleted: {schema: "order.lifecycle.v1", subject: "order_id", payload: payload[OrderLifecycle]()},
	TypeOrderCancelled: {schema: "order.lifecycle.v1", subject: "order_id", payload: payload[OrderLifecycle]()},
	TypeOrderFailed:    {schema: "order.lifecycle.v1", subject: "order_id", payload: payload[OrderLifecycle]()},
	TypeSagaTimeline:   {schema: "saga.timeline.v1", subject: "saga_id", payload: payload[SagaTimeline]()},

	TypeOrderControlRejected: {schema: "order.control-outcome.v1", subject: "order_id", payload: payload[ControlOutcome]()},
	TypeOrderControlDeferred: {schema: "order.control-outcome.v1", subject: "order_id", payload: payload[ControlOutcome]()},

	TypeSagaCancel:          {schema: "saga.control.v1", subject: "saga_id", payload: payload[ControlRequest]()},
	TypeSagaRetry:           {schema: "saga.control.v1", subject: "saga_id", payload: payload[ControlRequest]()},
	TypeSagaControlRejected: {schema: "saga.control-outcome.v1", subject: "saga_id", payload: payload[ControlOutcome]()},
	TypeSagaControlDeferred: {schema: "saga.control-outcome.v1", subject: "saga_id", payload: payload[ControlOutcome]()},
	TypeSagaLifecycle:       {schema: "saga.lifecycle.v1", subject: "saga_id", payload: payload[SagaLifecycle]()},

	TypeReturnRequested: {schema: "return.requested.v1", subject: "return_id", payload: payload[ReturnRequested]()},
}

// builtinCommands lists podium's command types. Each gets its reply type registered
// automatically. Adding a version is one line here (and a schema).
var builtinCommands = map[string]typeSpec{
	TypeInventoryReserve:         {schema: "inventory.reserve.v1", worker: "inventory", subject: "order_id", payload: payload[ReserveInventory]()},
	TypeInventoryRelease:         {schema: "inventory.release.v1", worker: "inventory", subject: "order_id", payload: payload[ReleaseInventory]()},
	TypePaymentAuthorize:         {schema: "payment.authorize.v1", worker: "payment", subject: "order_id", payload: payload[AuthorizePayment]()},
	TypePaymentVoid:              {schema: "payment.void.v1", worker: "payment", subject: "order_id", payload: payload[VoidPayment]()},
	TypeSellerPrepareShipment:    {schema: "seller.prepare-shipment.v1", worker: "seller", subject: "order_id", payload: payload[PrepareShipment]()},
	TypeSellerCancelPreparation:  {schema: "seller.cancel-preparation.v1", worker: "seller", subject: "order_id", payload: payload[CancelShipmentPreparation]()},
	TypeShippingAssignDelivery:   {schema: "shipping.assign-delivery.v1", worker: "shipping", subject: "order_id", payload: payload[AssignDelivery]()},
	TypeShippingCancelDelivery:   {schema: "shipping.cancel-delivery.v1", worker: "shipping", subject: "order_id", payload: payload[CancelDelivery]()},
	TypeNotificationConfirmation: {schema: "notification.send-confirmation.v1", worker: "notification", subject: "order_id", payload: payload[SendConfirmation]()},
	TypeNotificationCancellation: {schema: "notification.send-cancellation-notice.v1", worker: "notification", subject: "order_id", payload: payload[SendCancellationNotice]()},

	TypeShippingSchedulePickup:   {schema: "shipping.schedule-pickup.v1", worker: "shipping", subject: "return_id", payload: payload[SchedulePickup]()},
	TypeShippingCancelPickup:     {schema: "shipping.cancel-pickup.v1", worker: "shipping", subject: "return_id", payload: payload[CancelPickup]()},
	TypeInventoryRestock:         {schema: "inventory.restock.v1", worker: "inventory", subject: "return_id", payload: payload[Restock]()},
	TypeInventoryUndoRestock:     {schema: "inventory.undo-restock.v1", worker: "inventory", subject: "return_id", payload: payload[UndoRestock]()},
	TypePaymentRefund:            {schema: "payment.refund.v1", worker: "payment", subject: "return_id", payload: payload[RefundPayment]()},
	TypePaymentCancelRefund:      {schema: "payment.cancel-refund.v1", worker: "payment", subject: "return_id", payload: payload[CancelRefund]()},
	TypeNotificationRefundNotice: {schema: "notification.send-refund-notice.v1", worker: "notification", subject: "return_id", payload: payload[SendRefundNotice]()},
}

// replySchema is the schema of every reply's data.
const replySchema = "reply.v1"

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

// CommandTypes returns the command types worker accepts, built-in and registered, sorted;
// nil for an unknown worker.
func CommandTypes(worker string) []string {
	var out []string
	for t, s := range registered().types {
		if s.kind == KindCommand && s.worker == worker {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// KnownType reports whether typ is a type the codec accepts: a built-in or registered
// event, command or reply type.
func KnownType(typ string) bool {
	_, ok := lookup(typ)
	return ok
}
