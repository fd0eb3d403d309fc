package events

import (
	"encoding/json"
	"time"
)

// The payloads below are the data of the event types; their JSON field names are the
// contract, their constraints are in the schemas (package schemas).

// OrderPlaced is the data of [TypeOrderPlaced] and the bare JSON accepted on
// [TopicOrdersPlaced]. Amounts are integer minor units of Currency; Total is the sum of
// Quantity × UnitPrice over Items (checked by [Decode] and [ValidateOrderPlaced]).
type OrderPlaced struct {
	OrderID         string   `json:"order_id"`
	Customer        Customer `json:"customer"`
	SellerID        string   `json:"seller_id"`
	Currency        string   `json:"currency"`
	Items           []Item   `json:"items"`
	Total           int64    `json:"total"`
	Payment         Payment  `json:"payment"`
	ShippingAddress Address  `json:"shipping_address"`
}

// Customer is the buyer of an order.
type Customer struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Item is one order line.
type Item struct {
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// Payment holds the payment method token of an order (never card data).
type Payment struct {
	Token string `json:"token"`
}

// Address is a postal address. Country is ISO 3166-1 alpha-2.
type Address struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// ReserveInventory is the data of [TypeInventoryReserve].
type ReserveInventory struct {
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// ReleaseInventory is the data of [TypeInventoryRelease], the compensation of a reservation.
type ReleaseInventory struct {
	OrderID       string `json:"order_id"`
	ReservationID string `json:"reservation_id,omitempty"`
}

// AuthorizePayment is the data of [TypePaymentAuthorize].
type AuthorizePayment struct {
	OrderID  string `json:"order_id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Token    string `json:"token"`
}

// VoidPayment is the data of [TypePaymentVoid], the compensation of an authorization.
type VoidPayment struct {
	OrderID         string `json:"order_id"`
	AuthorizationID string `json:"authorization_id,omitempty"`
}

// PrepareShipment is the data of [TypeSellerPrepareShipment].
type PrepareShipment struct {
	OrderID  string `json:"order_id"`
	SellerID string `json:"seller_id"`
	Items    []Item `json:"items"`
}

// CancelShipmentPreparation is the data of [TypeSellerCancelPreparation].
type CancelShipmentPreparation struct {
	OrderID       string `json:"order_id"`
	SellerID      string `json:"seller_id"`
	PreparationID string `json:"preparation_id,omitempty"`
}

// AssignDelivery is the data of [TypeShippingAssignDelivery].
type AssignDelivery struct {
	OrderID string  `json:"order_id"`
	Address Address `json:"address"`
}

// CancelDelivery is the data of [TypeShippingCancelDelivery].
type CancelDelivery struct {
	OrderID    string `json:"order_id"`
	DeliveryID string `json:"delivery_id,omitempty"`
}

// SendConfirmation is the data of [TypeNotificationConfirmation].
type SendConfirmation struct {
	OrderID  string `json:"order_id"`
	Email    string `json:"email"`
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
}

// SendCancellationNotice is the data of [TypeNotificationCancellation].
type SendCancellationNotice struct {
	OrderID string `json:"order_id"`
	Email   string `json:"email"`
	Reason  string `json:"reason"`
}

// Reply is the data of every reply type ([ReplyType]); the outcome is the envelope's
// Outcome. Success results: reserve {"reservation_id"}, authorize {"authorization_id"},
// prepare-shipment {"preparation_id"}, assign-delivery {"delivery_id","partner"},
// send-confirmation and send-cancellation-notice {"message_id"}; compensations {} or absent.
type Reply struct {
	Reason  string          `json:"reason,omitempty"`  // machine reason on failure/error: "out_of_stock", ...
	Message string          `json:"message,omitempty"` // human text
	Result  json.RawMessage `json:"result,omitempty"`  // success result (a JSON object)
}

// ControlRequest is the data of [TypeOrderCancel] and [TypeOrderRetry], which name the
// order in OrderID, and of [TypeSagaCancel] and [TypeSagaRetry], which name a saga of any
// type (an order too) in SagaID. [ControlRequest.Target] returns whichever is set.
type ControlRequest struct {
	OrderID     string `json:"order_id,omitempty"` // order types (required there)
	SagaID      string `json:"saga_id,omitempty"`  // podium.saga.* types (required there)
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
}

// Target returns the ID of the saga the request is about: SagaID if set, else OrderID.
func (r ControlRequest) Target() string {
	if r.SagaID != "" {
		return r.SagaID
	}
	return r.OrderID
}

// OrderLifecycle is the data of the public lifecycle events on [TopicOrdersEvents]
// ([TypeOrderApproved], [TypeOrderCompleted], [TypeOrderCancelled], [TypeOrderFailed]).
// Status is one of pending, approved, completed, cancelling, cancelled, failed.
type OrderLifecycle struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Step    string `json:"step,omitempty"`
}

// Reasons of a ControlOutcome.
const (
	// ControlUnknownOrder: no saga of the order is known (never placed, or placed so long
	// ago that its dedupe window ended). A cancel is held for the orchestrator's early-cancel
	// window first (TypeOrderControlDeferred) and rejected when it ends.
	ControlUnknownOrder = "unknown_order"
	// ControlOrderFinished: the order is completed or cancelled; nothing changes any more.
	ControlOrderFinished = "order_finished"
	// ControlInvalidStatus: the order's status refuses the action (a cancel while it is
	// cancelling or failed, a retry of an order that is not failed).
	ControlInvalidStatus = "invalid_status"
	// ControlHeldForOrder: (deferred) the cancel waits for its order to arrive.
	ControlHeldForOrder = "held_for_order"
)

// ControlOutcome is the data of [TypeOrderControlRejected] and [TypeOrderControlDeferred]
// (OrderID set), and of [TypeSagaControlRejected] and [TypeSagaControlDeferred] (SagaID
// set): what became of one operator request on [TopicOrdersControl]. RequestID is the
// request's CloudEvents id (also the event's causationid), so that the requester can find
// the answer.
type ControlOutcome struct {
	OrderID string `json:"order_id,omitempty"` // order types (required there)
	SagaID  string `json:"saga_id,omitempty"`  // podium.saga.* types (required there)
	// Action is the request's action: "cancel" or "retry".
	Action    string `json:"action"`
	RequestID string `json:"request_id"`
	// Reason is one of ControlUnknownOrder, ControlOrderFinished, ControlInvalidStatus,
	// ControlHeldForOrder.
	Reason string `json:"reason"`
	// Message explains Reason to a person ("the order is completed").
	Message string `json:"message,omitempty"`
	// Status is the order's status when the request was refused ("" when unknown); for
	// the podium.saga.* types, the definition's label of the saga's status.
	Status      string `json:"status,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
	// Recorded is set when the order's timeline records the rejection itself (the saga was
	// in flight: its podium.saga.timeline.v1 record has the "rejected" entry); otherwise a
	// reader that shows timelines adds the rejection to the order's timeline on its own.
	Recorded bool `json:"recorded,omitempty"`
	// Until is, for a deferred cancel, when the orchestrator stops waiting for the order.
	Until *time.Time `json:"until,omitempty"`
}

// SagaTimeline is the data of [TypeSagaTimeline] on [TopicOrdersEvents]: the history
// entries that one batch of the orchestrator appended to one saga, oldest first. The
// snapshot in podium.saga-state holds only what the engine needs to continue; this stream
// is the complete audit trail (every dispatch, attempt, reply, timeout, compensation and
// operator action), from which the API builds each order's timeline.
//
// Version is the saga's version after the last entry; BaseVersion (absent in records of
// older orchestrators) its version before the first entry. A consumer applies the records
// of a saga in offset order:
//   - a record whose BaseVersion and Version equal those of a record already applied is a
//     redelivery after a crash (possibly with other times): it is skipped;
//   - a record whose BaseVersion is below the last version applied replaces the entries
//     applied after that version: after a failover, the new owner redoes the saga from
//     the snapshot it restored, and the records an ended owner (a zombie) wrote meanwhile
//     for the same versions are not the saga's history;
//   - a record without BaseVersion is skipped when its Version is at most the last one
//     applied;
//   - before all that, a record whose Generation (the writer's consumer-group generation;
//     absent in records of older orchestrators) is below that of a record already applied
//     is skipped: an ended owner's write that landed after its successor's records.
//
// AppliedRequests lists the IDs of the operator requests (orders.control) that the
// batch applied to the saga (a rejected request is announced by a
// TypeOrderControlRejected event instead).
type SagaTimeline struct {
	SagaID          string          `json:"saga_id"`
	Definition      string          `json:"definition"`
	Version         uint64          `json:"version"`
	BaseVersion     *uint64         `json:"base_version,omitempty"`
	Generation      int32           `json:"generation,omitempty"`
	Status          string          `json:"status"` // the saga status after the entries
	Entries         []TimelineEntry `json:"entries"`
	AppliedRequests []string        `json:"applied_requests,omitempty"`
}

// TimelineEntry is one transition of a saga (see saga.HistoryEntry for the kinds).
type TimelineEntry struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Step      string    `json:"step,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	CommandID string    `json:"command_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ReturnRequested is the data of [TypeReturnRequested], which starts a returns saga on
// [TopicReturnsRequested]. ReturnID follows the rules of an order ID and is the saga ID (the
// envelope's subject); OrderID names the order returned and is not checked against
// anything. Items follow the rules of an order's items; Refund, in minor units of Currency,
// is the sum of Quantity × UnitPrice over Items (checked by [Decode] like an order's total).
type ReturnRequested struct {
	ReturnID      string   `json:"return_id"`
	OrderID       string   `json:"order_id"`
	Customer      Customer `json:"customer"`
	Currency      string   `json:"currency"`
	Items         []Item   `json:"items"`
	Refund        int64    `json:"refund"`
	Payment       Payment  `json:"payment"` // the token to refund to
	PickupAddress Address  `json:"pickup_address"`
}

// SchedulePickup is the data of [TypeShippingSchedulePickup]. Success result {"pickup_id"}.
type SchedulePickup struct {
	ReturnID string  `json:"return_id"`
	Address  Address `json:"address"`
}

// CancelPickup is the data of [TypeShippingCancelPickup], the compensation of a pickup.
type CancelPickup struct {
	ReturnID string `json:"return_id"`
	PickupID string `json:"pickup_id,omitempty"`
}

// Restock is the data of [TypeInventoryRestock]. Success result {"restock_id"}.
type Restock struct {
	ReturnID string `json:"return_id"`
	Items    []Item `json:"items"`
}

// UndoRestock is the data of [TypeInventoryUndoRestock], the compensation of a restock.
type UndoRestock struct {
	ReturnID  string `json:"return_id"`
	RestockID string `json:"restock_id,omitempty"`
}

// RefundPayment is the data of [TypePaymentRefund]. Success result {"refund_id"}.
type RefundPayment struct {
	ReturnID string `json:"return_id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Token    string `json:"token"`
}

// CancelRefund is the data of [TypePaymentCancelRefund], the compensation of a refund.
type CancelRefund struct {
	ReturnID string `json:"return_id"`
	RefundID string `json:"refund_id,omitempty"`
}

// SendRefundNotice is the data of [TypeNotificationRefundNotice]. Success result
// {"message_id"}.
type SendRefundNotice struct {
	ReturnID string `json:"return_id"`
	Email    string `json:"email"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// SagaLifecycle is the data of [TypeSagaLifecycle]: a status change of a saga of any type
// but the order saga (which has its own types, data [OrderLifecycle]).
type SagaLifecycle struct {
	SagaID     string `json:"saga_id"`
	Definition string `json:"definition"` // saga.Definition.ID(), e.g. "returns"
	Status     string `json:"status"`     // the definition's label for the status after the event
	Event      string `json:"event"`      // "milestone", "completed", "compensated", "failed"
	Milestone  string `json:"milestone,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Step       string `json:"step,omitempty"`
}

// Events of a SagaLifecycle.
const (
	LifecycleMilestone   = "milestone"   // the saga reached a milestone (Milestone names it)
	LifecycleCompleted   = "completed"   // every required step succeeded
	LifecycleCompensated = "compensated" // the saga was compensated
	LifecycleFailed      = "failed"      // a compensation exhausted its retries
)
