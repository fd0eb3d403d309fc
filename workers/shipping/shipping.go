// Package shipping is podium's reference shipping worker: business logic only, run by the
// workers runtime (`podium worker shipping`).
//
// It assigns a delivery partner to an order and cancels deliveries. Every country is served
// except Antarctica (AQ), which fails with reason "no_delivery_partner". The delivery ID and
// the partner derive from the idempotency key, so a delivery assigned twice for one key is
// the same delivery with the same partner, recorded once. Cancelling is a compensation: it
// always succeeds, and cancelling a delivery the effect log does not know changes nothing.
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

// ReasonNoDeliveryPartner fails an assignment to a country no partner serves.
const ReasonNoDeliveryPartner = "no_delivery_partner"

// UnservedCountry is the country without a delivery partner (Antarctica).
const UnservedCountry = "AQ"

// Partners are the delivery partners a delivery is assigned to.
var Partners = []string{"dhl", "ups", "dpd", "gls"}

// Effect kinds recorded in the effect log.
const (
	EffectDeliveryAssigned  = "delivery_assigned"
	EffectDeliveryCancelled = "delivery_cancelled"
)

// AssignResult is the result of a successful assignment.
type AssignResult struct {
	DeliveryID string `json:"delivery_id"`
	Partner    string `json:"partner"`
}

// Worker handles events.TypeShippingAssignDelivery and events.TypeShippingCancelDelivery.
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
	default:
		return workers.Failure("unsupported_command", fmt.Sprintf("shipping does not handle %q", cmd.Type()))
	}
}

// Sync implements workers.Syncer.
func (w *Worker) Sync() error { return w.effects.Sync() }
