// Package seller is podium's reference seller worker: business logic only, run by the
// workers runtime (`podium worker seller`).
//
// It asks the seller to prepare an order's shipment and cancels preparations. Every seller
// accepts except those whose ID starts with "closed-", which fail with reason
// "seller_unavailable". Preparation IDs derive from the idempotency key, so a preparation
// started twice for one key is the same preparation, recorded once. Cancelling is a
// compensation: it always succeeds, and cancelling a preparation the effect log does not
// know changes nothing.
//
// A Worker is safe for concurrent use.
package seller

import (
	"context"
	"fmt"
	"strings"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// Name is the worker's name.
const Name = "seller"

// ReasonSellerUnavailable fails a preparation for a seller whose ID starts with ClosedPrefix.
const ReasonSellerUnavailable = "seller_unavailable"

// ClosedPrefix marks the sellers that are closed.
const ClosedPrefix = "closed-"

// Effect kinds recorded in the effect log.
const (
	EffectPrepared             = "prepared"
	EffectPreparationCancelled = "preparation_cancelled"
)

// PrepareResult is the result of a successful preparation.
type PrepareResult struct {
	PreparationID string `json:"preparation_id"`
}

// Worker handles events.TypeSellerPrepareShipment and events.TypeSellerCancelPreparation.
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

// PreparationID is the preparation started for an idempotency key.
func PreparationID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// Handle implements workers.Handler.
func (w *Worker) Handle(_ context.Context, cmd workers.Command) workers.Result {
	switch cmd.Type() {
	case events.TypeSellerPrepareShipment:
		var req events.PrepareShipment
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if strings.HasPrefix(req.SellerID, ClosedPrefix) {
			return workers.Failure(ReasonSellerUnavailable, fmt.Sprintf("seller %s is closed", req.SellerID))
		}
		id := PreparationID(cmd.IdempotencyKey())
		if err := workers.RecordEffect(w.effects, Name, cmd, EffectPrepared, id); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(PrepareResult{PreparationID: id})
	case events.TypeSellerCancelPreparation:
		var req events.CancelShipmentPreparation
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectPrepared, EffectPreparationCancelled, req.PreparationID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(nil)
	default:
		return workers.Failure("unsupported_command", fmt.Sprintf("seller does not handle %q", cmd.Type()))
	}
}

// Sync implements workers.Syncer.
func (w *Worker) Sync() error { return w.effects.Sync() }
