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

// ControlRequest is the data of [TypeOrderCancel] and [TypeOrderRetry].
type ControlRequest struct {
	OrderID     string `json:"order_id"`
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requested_by,omitempty"`
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

// SagaTimeline is the data of [TypeSagaTimeline] on [TopicOrdersEvents]: the history
// entries that one batch of the orchestrator appended to one saga, oldest first. The
// snapshot in podium.saga-state holds only what the engine needs to continue; this stream
// is the complete audit trail (every dispatch, attempt, reply, timeout, compensation and
// operator action), from which the API builds each order's timeline.
//
// Version is the saga's version after the last entry. A redelivery after a crash repeats
// a record with the same Version (and possibly other times): a consumer that already
// applied that version skips it.
type SagaTimeline struct {
	SagaID     string          `json:"saga_id"`
	Definition string          `json:"definition"`
	Version    uint64          `json:"version"`
	Status     string          `json:"status"` // the saga status after the entries
	Entries    []TimelineEntry `json:"entries"`
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

// orderIDOf returns the order ID of payloads that carry one, so that Decode can check it
// against the envelope's subject.
func orderIDOf(p any) (string, bool) {
	switch p := p.(type) {
	case *OrderPlaced:
		return p.OrderID, true
	case *ReserveInventory:
		return p.OrderID, true
	case *ReleaseInventory:
		return p.OrderID, true
	case *AuthorizePayment:
		return p.OrderID, true
	case *VoidPayment:
		return p.OrderID, true
	case *PrepareShipment:
		return p.OrderID, true
	case *CancelShipmentPreparation:
		return p.OrderID, true
	case *AssignDelivery:
		return p.OrderID, true
	case *CancelDelivery:
		return p.OrderID, true
	case *SendConfirmation:
		return p.OrderID, true
	case *SendCancellationNotice:
		return p.OrderID, true
	case *ControlRequest:
		return p.OrderID, true
	case *OrderLifecycle:
		return p.OrderID, true
	case *SagaTimeline:
		return p.SagaID, true
	}
	return "", false
}
