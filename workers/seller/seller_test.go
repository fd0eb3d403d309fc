package seller_test

import (
	"context"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/seller"
)

func command(t *testing.T, typ, key string, data any) workers.Command {
	t.Helper()
	env, err := events.NewEvent(typ, "ord-1", data)
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	env.IdempotencyKey = key
	return workers.Command{Envelope: env}
}

func TestPrepareShipment(t *testing.T) {
	tests := []struct {
		seller     string
		wantOut    string
		wantReason string
	}{
		{"sel-3", events.OutcomeSuccess, ""},
		{"open-closed-1", events.OutcomeSuccess, ""},
		{"closed-7", events.OutcomeFailure, seller.ReasonSellerUnavailable},
		{"closed-", events.OutcomeFailure, seller.ReasonSellerUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.seller, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := seller.New(log)
			const key = "ord-1/prepare-shipment"
			res := w.Handle(context.Background(), command(t, events.TypeSellerPrepareShipment, key, events.PrepareShipment{
				OrderID: "ord-1", SellerID: tt.seller, Items: []events.Item{{SKU: "SKU-1", Quantity: 1, UnitPrice: 1}},
			}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				if got, want := res.Result, (seller.PrepareResult{PreparationID: seller.PreparationID(key)}); got != want {
					t.Errorf("got result %#v, want %#v", got, want)
				}
			}
			if got := len(log.Effects()); got != wantEffects {
				t.Errorf("got %d effects, want %d", got, wantEffects)
			}
		})
	}
}

func TestCancelPreparation(t *testing.T) {
	const doKey, undoKey = "ord-1/prepare-shipment", "ord-1/prepare-shipment/undo"
	tests := []struct {
		name          string
		seller        string // prepared first with this seller; "" = nothing prepared
		cancels       int
		wantCancelled int
	}{
		{"after a preparation", "sel-1", 1, 1},
		{"twice", "sel-1", 2, 1},
		{"nothing prepared", "", 1, 0},
		{"the preparation failed", "closed-1", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := seller.New(log)
			if tt.seller != "" {
				w.Handle(context.Background(), command(t, events.TypeSellerPrepareShipment, doKey, events.PrepareShipment{
					OrderID: "ord-1", SellerID: tt.seller, Items: []events.Item{{SKU: "SKU-1", Quantity: 1}},
				}))
			}
			for range tt.cancels {
				res := w.Handle(context.Background(), command(t, events.TypeSellerCancelPreparation, undoKey,
					events.CancelShipmentPreparation{OrderID: "ord-1", SellerID: tt.seller}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			cancelled := 0
			for _, e := range log.Effects() {
				if e.Kind == seller.EffectPreparationCancelled {
					cancelled++
				}
			}
			if cancelled != tt.wantCancelled {
				t.Errorf("got %d cancellations, want %d", cancelled, tt.wantCancelled)
			}
		})
	}
}
