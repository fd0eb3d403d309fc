package inventory_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/inventory"
)

func command(t *testing.T, typ, key string, data any) workers.Command {
	t.Helper()
	env, err := events.NewEvent(typ, "ord-1", data)
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	env.IdempotencyKey = key
	env.Step = "reserve-inventory"
	return workers.Command{Envelope: env}
}

func items(skus ...string) []events.Item {
	out := make([]events.Item, len(skus))
	for i, s := range skus {
		out[i] = events.Item{SKU: s, Quantity: 1, UnitPrice: 100}
	}
	return out
}

func TestReserve(t *testing.T) {
	tests := []struct {
		name       string
		skus       []string
		wantOut    string
		wantReason string
	}{
		{"in stock", []string{"SKU-RED-1"}, events.OutcomeSuccess, ""},
		{"several in stock", []string{"SKU-RED-1", "SKU-BLUE-2"}, events.OutcomeSuccess, ""},
		{"out of stock", []string{"OOS-1"}, events.OutcomeFailure, inventory.ReasonOutOfStock},
		{"one of several out of stock", []string{"SKU-RED-1", "OOS-RED-2"}, events.OutcomeFailure, inventory.ReasonOutOfStock},
		{"prefix is case-sensitive", []string{"oos-1"}, events.OutcomeSuccess, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := inventory.New(log)
			const key = "ord-1/reserve-inventory"
			res := w.Handle(context.Background(), command(t, events.TypeInventoryReserve, key,
				events.ReserveInventory{OrderID: "ord-1", Items: items(tt.skus...)}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				got, ok := res.Result.(inventory.ReserveResult)
				if !ok || got.ReservationID != inventory.ReservationID(key) {
					t.Errorf("got result %#v, want reservation %s", res.Result, inventory.ReservationID(key))
				}
			}
			if got := len(log.Effects()); got != wantEffects {
				t.Errorf("got %d effects, want %d", got, wantEffects)
			}
		})
	}
}

func TestReserveTwiceIsOneReservation(t *testing.T) {
	log := workers.NewMemoryEffects()
	w := inventory.New(log)
	const key = "ord-1/reserve-inventory"
	cmd := command(t, events.TypeInventoryReserve, key, events.ReserveInventory{OrderID: "ord-1", Items: items("SKU-1")})
	first := w.Handle(context.Background(), cmd)
	second := w.Handle(context.Background(), cmd)
	if first.Result != second.Result {
		t.Errorf("got results %v and %v, want the same reservation", first.Result, second.Result)
	}
	if got := len(log.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
	if got := log.Attempts(key); got != 2 {
		t.Errorf("got %d attempts, want 2", got)
	}
}

func TestRelease(t *testing.T) {
	const doKey, undoKey = "ord-1/reserve-inventory", "ord-1/reserve-inventory/undo"
	tests := []struct {
		name         string
		reserve      []string // SKUs reserved first; nil: nothing reserved
		reservation  string   // reservation_id in the release command
		releases     int
		wantReleased int
	}{
		{"after a reservation", []string{"SKU-1"}, "", 1, 1},
		{"with the reservation ID", []string{"SKU-1"}, inventory.ReservationID(doKey), 1, 1},
		{"twice", []string{"SKU-1"}, "", 2, 1},
		{"nothing reserved", nil, "", 1, 0},
		{"the reservation failed", []string{"OOS-1"}, "", 1, 0},
		{"an unknown reservation ID", []string{"SKU-1"}, "res-unknown", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := inventory.New(log)
			if tt.reserve != nil {
				w.Handle(context.Background(), command(t, events.TypeInventoryReserve, doKey,
					events.ReserveInventory{OrderID: "ord-1", Items: items(tt.reserve...)}))
			}
			for range tt.releases {
				res := w.Handle(context.Background(), command(t, events.TypeInventoryRelease, undoKey,
					events.ReleaseInventory{OrderID: "ord-1", ReservationID: tt.reservation}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			released := 0
			for _, e := range log.Effects() {
				if e.Kind == inventory.EffectReleased {
					released++
					if e.Ref != inventory.ReservationID(doKey) || e.IdempotencyKey != undoKey {
						t.Errorf("got release of %s under key %s, want %s under %s", e.Ref, e.IdempotencyKey, inventory.ReservationID(doKey), undoKey)
					}
				}
			}
			if released != tt.wantReleased {
				t.Errorf("got %d releases, want %d", released, tt.wantReleased)
			}
		})
	}
}

func TestUnsupportedType(t *testing.T) {
	w := inventory.New(nil)
	res := w.Handle(context.Background(), command(t, events.TypePaymentVoid, "ord-1/x", events.VoidPayment{OrderID: "ord-1"}))
	if res.Outcome != events.OutcomeFailure {
		t.Errorf("got outcome %q, want failure", res.Outcome)
	}
}

func TestResultJSON(t *testing.T) {
	raw, err := json.Marshal(inventory.ReserveResult{ReservationID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `{"reservation_id":"r"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
