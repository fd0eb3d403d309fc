package shipping_test

import (
	"context"
	"slices"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/shipping"
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

func address(country string) events.Address {
	return events.Address{Name: "Ada L.", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: country}
}

func TestAssignDelivery(t *testing.T) {
	tests := []struct {
		country    string
		wantOut    string
		wantReason string
	}{
		{"DE", events.OutcomeSuccess, ""},
		{"US", events.OutcomeSuccess, ""},
		{"AQ", events.OutcomeFailure, shipping.ReasonNoDeliveryPartner},
	}
	for _, tt := range tests {
		t.Run(tt.country, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := shipping.New(log)
			const key = "ord-1/assign-delivery"
			res := w.Handle(context.Background(), command(t, events.TypeShippingAssignDelivery, key,
				events.AssignDelivery{OrderID: "ord-1", Address: address(tt.country)}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				got, ok := res.Result.(shipping.AssignResult)
				if !ok || got != shipping.Assignment(key) {
					t.Errorf("got result %#v, want %#v", res.Result, shipping.Assignment(key))
				}
				if !slices.Contains(shipping.Partners, got.Partner) || got.DeliveryID == "" {
					t.Errorf("got delivery %q with partner %q, want an ID and one of %v", got.DeliveryID, got.Partner, shipping.Partners)
				}
			}
			if got := len(log.Effects()); got != wantEffects {
				t.Errorf("got %d effects, want %d", got, wantEffects)
			}
		})
	}
}

func TestCancelDelivery(t *testing.T) {
	const doKey, undoKey = "ord-1/assign-delivery", "ord-1/assign-delivery/undo"
	tests := []struct {
		name          string
		country       string // assigned first to this country; "" = nothing assigned
		cancels       int
		wantCancelled int
	}{
		{"after an assignment", "DE", 1, 1},
		{"twice", "DE", 2, 1},
		{"nothing assigned", "", 1, 0},
		{"the assignment failed", "AQ", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := shipping.New(log)
			if tt.country != "" {
				w.Handle(context.Background(), command(t, events.TypeShippingAssignDelivery, doKey,
					events.AssignDelivery{OrderID: "ord-1", Address: address(tt.country)}))
			}
			for range tt.cancels {
				res := w.Handle(context.Background(), command(t, events.TypeShippingCancelDelivery, undoKey, events.CancelDelivery{OrderID: "ord-1"}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			cancelled := 0
			for _, e := range log.Effects() {
				if e.Kind == shipping.EffectDeliveryCancelled {
					cancelled++
				}
			}
			if cancelled != tt.wantCancelled {
				t.Errorf("got %d cancellations, want %d", cancelled, tt.wantCancelled)
			}
		})
	}
}
