// Package shipping is podium's reference shipping worker: business logic only, run by the
// workers runtime (`podium worker shipping`).
//
// It assigns a delivery partner to an order and cancels deliveries (order saga), and
// schedules and cancels the pickup of returned items (returns saga). Every country is served
// except Antarctica (AQ): a delivery there fails with reason "no_delivery_partner", a pickup
// with "no_pickup_partner". The delivery ID and partner, and the pickup ID, derive from the
// idempotency key, so a delivery assigned (or a pickup scheduled) twice for one key is the
// same one, recorded once. Cancelling a delivery or a pickup is a compensation: it always
// succeeds, and cancelling one the effect log does not know changes nothing.
//
// A Worker is safe for concurrent use.
package shipping

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// Name is the worker's name.
const Name = "shipping"

// Failure reasons.
const (
	// ReasonNoDeliveryPartner fails an assignment to a country no partner serves.
	ReasonNoDeliveryPartner = "no_delivery_partner"
	// ReasonNoPickupPartner fails a pickup in a country no partner serves.
	ReasonNoPickupPartner = "no_pickup_partner"
)

// UnservedCountry is the country without a delivery or pickup partner (Antarctica).
const UnservedCountry = "AQ"

// Partners are the delivery partners a delivery is assigned to.
var Partners = []string{"dhl", "ups", "dpd", "gls"}

// Effect kinds recorded in the effect log.
const (
	EffectDeliveryAssigned  = "delivery_assigned"
	EffectDeliveryCancelled = "delivery_cancelled"
	EffectPickupScheduled   = "pickup_scheduled"
	EffectPickupCancelled   = "pickup_cancelled"
)

// AssignResult is the result of a successful assignment.
type AssignResult struct {
	DeliveryID string `json:"delivery_id"`
	Partner    string `json:"partner"`
}

// PickupResult is the result of a pickup scheduled.
type PickupResult struct {
	PickupID string `json:"pickup_id"`
}

// Worker handles events.TypeShippingAssignDelivery, events.TypeShippingCancelDelivery,
// events.TypeShippingSchedulePickup and events.TypeShippingCancelPickup.
type Worker struct {
	effects workers.EffectLog
}

// New returns a Worker recording its effects in effects (nil: a new in-memory log).
func New(effects workers.EffectLog) *Worker {
	if effects == nil {
		effects = workers.NewMemoryEffects()
	}
	return &Worker{effects: effects}
}

// Assignment is the delivery ID and partner assigned for an idempotency key.
func Assignment(idempotencyKey string) AssignResult {
	h := fnv.New32a()
	_, _ = h.Write([]byte(idempotencyKey))
	return AssignResult{
		DeliveryID: workers.StableID(Name, idempotencyKey),
		Partner:    Partners[h.Sum32()%uint32(len(Partners))],
	}
}

// PickupID is the pickup scheduled for an idempotency key.
func PickupID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// Handle implements workers.Handler.
func (w *Worker) Handle(_ context.Context, cmd workers.Command) workers.Result {
	switch cmd.Type() {
	case events.TypeShippingAssignDelivery:
		var req events.AssignDelivery
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if strings.EqualFold(req.Address.Country, UnservedCountry) {
			return workers.Failure(ReasonNoDeliveryPartner, fmt.Sprintf("no delivery partner serves %s", req.Address.Country))
		}
		a := Assignment(cmd.IdempotencyKey())
		if err := workers.RecordEffect(w.effects, Name, cmd, EffectDeliveryAssigned, a.DeliveryID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(a)
	case events.TypeShippingCancelDelivery:
		var req events.CancelDelivery
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectDeliveryAssigned, EffectDeliveryCancelled, req.DeliveryID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(nil)
	case events.TypeShippingSchedulePickup:
		var req events.SchedulePickup
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if strings.EqualFold(req.Address.Country, UnservedCountry) {
			return workers.Failure(ReasonNoPickupPartner, fmt.Sprintf("no pickup partner serves %s", req.Address.Country))
		}
		id := PickupID(cmd.IdempotencyKey())
		if err := workers.RecordEffect(w.effects, Name, cmd, EffectPickupScheduled, id); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(PickupResult{PickupID: id})
	case events.TypeShippingCancelPickup:
		var req events.CancelPickup
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectPickupScheduled, EffectPickupCancelled, req.PickupID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(nil)
	default:
		return workers.Failure("unsupported_command", fmt.Sprintf("shipping does not handle %q", cmd.Type()))
	}
}

// Sync implements workers.Syncer.
func (w *Worker) Sync() error { return w.effects.Sync() }
