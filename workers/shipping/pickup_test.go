package shipping_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/shipping"
)

func TestSchedulePickup(t *testing.T) {
	tests := []struct {
		country    string
		wantOut    string
		wantReason string
	}{
		{"DE", events.OutcomeSuccess, ""},
		{"US", events.OutcomeSuccess, ""},
		{"AQ", events.OutcomeFailure, shipping.ReasonNoPickupPartner},
		{"aq", events.OutcomeFailure, shipping.ReasonNoPickupPartner},
	}
	for _, tt := range tests {
		t.Run(tt.country, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := shipping.New(log)
			const key = "ret-1/schedule-pickup"
			res := w.Handle(context.Background(), command(t, events.TypeShippingSchedulePickup, key,
				events.SchedulePickup{ReturnID: "ret-1", Address: address(tt.country)}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				if got, want := res.Result, (shipping.PickupResult{PickupID: shipping.PickupID(key)}); got != want {
					t.Errorf("got result %#v, want %#v", got, want)
				}
			}
			effects := log.Effects()
			if got := len(effects); got != wantEffects {
				t.Fatalf("got %d effects, want %d", got, wantEffects)
			}
			if wantEffects == 1 && (effects[0].Kind != shipping.EffectPickupScheduled || effects[0].Ref != shipping.PickupID(key)) {
				t.Errorf("got effect %s of %s, want %s of %s", effects[0].Kind, effects[0].Ref, shipping.EffectPickupScheduled, shipping.PickupID(key))
			}
		})
	}
}

func TestSchedulePickupTwiceIsOnePickup(t *testing.T) {
	log := workers.NewMemoryEffects()
	w := shipping.New(log)
	cmd := command(t, events.TypeShippingSchedulePickup, "ret-1/schedule-pickup",
		events.SchedulePickup{ReturnID: "ret-1", Address: address("DE")})
	a, b := w.Handle(context.Background(), cmd), w.Handle(context.Background(), cmd)
	if a.Result != b.Result {
		t.Errorf("got results %v and %v, want the same pickup", a.Result, b.Result)
	}
	if got := len(log.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
	if other := shipping.PickupID("ret-2/schedule-pickup"); other == shipping.PickupID("ret-1/schedule-pickup") {
		t.Errorf("got pickup %s for two keys, want different IDs", other)
	}
}

func TestCancelPickup(t *testing.T) {
	const doKey, undoKey = "ret-1/schedule-pickup", "ret-1/schedule-pickup/undo"
	tests := []struct {
		name          string
		country       string // scheduled first in this country; "" = nothing scheduled
		pickupID      string // pickup_id in the cancellation
		cancels       int
		wantCancelled int
	}{
		{"after a pickup", "DE", "", 1, 1},
		{"with the pickup ID", "DE", shipping.PickupID(doKey), 1, 1},
		{"twice", "DE", "", 2, 1},
		{"nothing scheduled", "", "", 1, 0},
		{"the pickup failed", "AQ", "", 1, 0},
		{"an unknown pickup ID", "DE", "pick-unknown", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := shipping.New(log)
			if tt.country != "" {
				w.Handle(context.Background(), command(t, events.TypeShippingSchedulePickup, doKey,
					events.SchedulePickup{ReturnID: "ret-1", Address: address(tt.country)}))
			}
			for range tt.cancels {
				res := w.Handle(context.Background(), command(t, events.TypeShippingCancelPickup, undoKey,
					events.CancelPickup{ReturnID: "ret-1", PickupID: tt.pickupID}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			cancelled := 0
			for _, e := range log.Effects() {
				if e.Kind == shipping.EffectPickupCancelled {
					cancelled++
					if e.Ref != shipping.PickupID(doKey) || e.IdempotencyKey != undoKey {
						t.Errorf("got cancellation of %s under key %s, want %s under %s", e.Ref, e.IdempotencyKey, shipping.PickupID(doKey), undoKey)
					}
				}
			}
			if cancelled != tt.wantCancelled {
				t.Errorf("got %d cancellations, want %d", cancelled, tt.wantCancelled)
			}
		})
	}
}

func TestPickupResultJSON(t *testing.T) {
	raw, err := json.Marshal(shipping.PickupResult{PickupID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `{"pickup_id":"p"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
