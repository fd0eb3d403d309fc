// Package inventory is podium's reference inventory worker: business logic only, run by the
// workers runtime (`podium worker inventory`).
//
// It reserves stock for an order's items and releases reservations (order saga), and
// restocks returned items and undoes restocks (returns saga). Every SKU has ample stock
// except those starting with "OOS-", which fail the reservation with reason "out_of_stock";
// every SKU can be restocked except final-sale ones, starting with "FINAL-", which fail the
// restock with reason "not_restockable". Reservation and restock IDs derive from the
// idempotency key, so a reservation (or restock) made twice for one key (after a crash) is
// the same one, and the effect log records it once. Releasing and undoing a restock are
// compensations: they always succeed, and undoing what the effect log does not know (it
// failed or never happened) changes nothing.
//
// A Worker is safe for concurrent use.
package inventory

import (
	"context"
	"fmt"
	"strings"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// Name is the worker's name.
const Name = "inventory"

// ReasonOutOfStock fails a reservation with an item whose SKU starts with OutOfStockPrefix.
const ReasonOutOfStock = "out_of_stock"

// OutOfStockPrefix marks the SKUs that are out of stock.
const OutOfStockPrefix = "OOS-"

// ReasonNotRestockable fails a restock with an item whose SKU starts with FinalSalePrefix.
const ReasonNotRestockable = "not_restockable"

// FinalSalePrefix marks the SKUs that cannot be restocked.
const FinalSalePrefix = "FINAL-"

// Effect kinds recorded in the effect log.
const (
	EffectReserved      = "reserved"
	EffectReleased      = "released"
	EffectRestocked     = "restocked"
	EffectRestockUndone = "restock_undone"
)

// ReserveResult is the result of a successful reservation.
type ReserveResult struct {
	ReservationID string `json:"reservation_id"`
}

// RestockResult is the result of a successful restock.
type RestockResult struct {
	RestockID string `json:"restock_id"`
}

// Worker handles events.TypeInventoryReserve, events.TypeInventoryRelease,
// events.TypeInventoryRestock and events.TypeInventoryUndoRestock.
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

// ReservationID is the reservation made for an idempotency key.
func ReservationID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// RestockID is the restock made for an idempotency key.
func RestockID(idempotencyKey string) string { return workers.StableID(Name, idempotencyKey) }

// Handle implements workers.Handler.
func (w *Worker) Handle(_ context.Context, cmd workers.Command) workers.Result {
	switch cmd.Type() {
	case events.TypeInventoryReserve:
		var req events.ReserveInventory
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.reserve(cmd, req)
	case events.TypeInventoryRelease:
		var req events.ReleaseInventory
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.release(cmd, req)
	case events.TypeInventoryRestock:
		var req events.Restock
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return w.restock(cmd, req)
	case events.TypeInventoryUndoRestock:
		var req events.UndoRestock
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectRestocked, EffectRestockUndone, req.RestockID); err != nil {
			return workers.Retryable(workers.ReasonEffectLog, err.Error())
		}
		return workers.Success(nil)
	default:
		return workers.Failure("unsupported_command", fmt.Sprintf("inventory does not handle %q", cmd.Type()))
	}
}

// Sync implements workers.Syncer.
func (w *Worker) Sync() error { return w.effects.Sync() }

func (w *Worker) reserve(cmd workers.Command, req events.ReserveInventory) workers.Result {
	var out []string
	for _, it := range req.Items {
		if strings.HasPrefix(it.SKU, OutOfStockPrefix) {
			out = append(out, it.SKU)
		}
	}
	if len(out) > 0 {
		return workers.Failure(ReasonOutOfStock, "out of stock: "+strings.Join(out, ", "))
	}
	id := ReservationID(cmd.IdempotencyKey())
	if err := workers.RecordEffect(w.effects, Name, cmd, EffectReserved, id); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(ReserveResult{ReservationID: id})
}

func (w *Worker) release(cmd workers.Command, req events.ReleaseInventory) workers.Result {
	if _, err := workers.RecordUndo(w.effects, Name, cmd, EffectReserved, EffectReleased, req.ReservationID); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(nil)
}

func (w *Worker) restock(cmd workers.Command, req events.Restock) workers.Result {
	var final []string
	for _, it := range req.Items {
		if strings.HasPrefix(it.SKU, FinalSalePrefix) {
			final = append(final, it.SKU)
		}
	}
	if len(final) > 0 {
		return workers.Failure(ReasonNotRestockable, "final sale, not restockable: "+strings.Join(final, ", "))
	}
	id := RestockID(cmd.IdempotencyKey())
	if err := workers.RecordEffect(w.effects, Name, cmd, EffectRestocked, id); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(RestockResult{RestockID: id})
}
