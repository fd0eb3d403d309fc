package inventory_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/inventory"
)

func TestRestock(t *testing.T) {
	tests := []struct {
		name       string
		skus       []string
		wantOut    string
		wantReason string
	}{
		{"restockable", []string{"SKU-RED-1"}, events.OutcomeSuccess, ""},
		{"several restockable", []string{"SKU-RED-1", "SKU-BLUE-2"}, events.OutcomeSuccess, ""},
		{"out of stock is restockable", []string{"OOS-1"}, events.OutcomeSuccess, ""},
		{"final sale", []string{"FINAL-1"}, events.OutcomeFailure, inventory.ReasonNotRestockable},
		{"one of several final sale", []string{"SKU-RED-1", "FINAL-RED-2"}, events.OutcomeFailure, inventory.ReasonNotRestockable},
		{"prefix is case-sensitive", []string{"final-1"}, events.OutcomeSuccess, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := inventory.New(log)
			const key = "ret-1/restock"
			res := w.Handle(context.Background(), command(t, events.TypeInventoryRestock, key,
				events.Restock{ReturnID: "ret-1", Items: items(tt.skus...)}))
			if res.Outcome != tt.wantOut || res.Reason != tt.wantReason {
				t.Fatalf("got outcome %q reason %q, want %q %q", res.Outcome, res.Reason, tt.wantOut, tt.wantReason)
			}
			wantEffects := 0
			if tt.wantOut == events.OutcomeSuccess {
				wantEffects = 1
				if got, want := res.Result, (inventory.RestockResult{RestockID: inventory.RestockID(key)}); got != want {
					t.Errorf("got result %#v, want %#v", got, want)
				}
			}
			effects := log.Effects()
			if got := len(effects); got != wantEffects {
				t.Fatalf("got %d effects, want %d", got, wantEffects)
			}
			if wantEffects == 1 && effects[0].Kind != inventory.EffectRestocked {
				t.Errorf("got effect %s, want %s", effects[0].Kind, inventory.EffectRestocked)
			}
		})
	}
}

func TestRestockTwiceIsOneRestock(t *testing.T) {
	log := workers.NewMemoryEffects()
	w := inventory.New(log)
	cmd := command(t, events.TypeInventoryRestock, "ret-1/restock", events.Restock{ReturnID: "ret-1", Items: items("SKU-1")})
	a, b := w.Handle(context.Background(), cmd), w.Handle(context.Background(), cmd)
	if a.Result != b.Result {
		t.Errorf("got results %v and %v, want the same restock", a.Result, b.Result)
	}
	if got := len(log.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
}

func TestUndoRestock(t *testing.T) {
	const doKey, undoKey = "ret-1/restock", "ret-1/restock/undo"
	tests := []struct {
		name       string
		restock    []string // SKUs restocked first; nil: nothing restocked
		restockID  string   // restock_id in the undo command
		undos      int
		wantUndone int
	}{
		{"after a restock", []string{"SKU-1"}, "", 1, 1},
		{"with the restock ID", []string{"SKU-1"}, inventory.RestockID(doKey), 1, 1},
		{"twice", []string{"SKU-1"}, "", 2, 1},
		{"nothing restocked", nil, "", 1, 0},
		{"the restock failed", []string{"FINAL-1"}, "", 1, 0},
		{"an unknown restock ID", []string{"SKU-1"}, "rst-unknown", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			w := inventory.New(log)
			if tt.restock != nil {
				w.Handle(context.Background(), command(t, events.TypeInventoryRestock, doKey,
					events.Restock{ReturnID: "ret-1", Items: items(tt.restock...)}))
			}
			for range tt.undos {
				res := w.Handle(context.Background(), command(t, events.TypeInventoryUndoRestock, undoKey,
					events.UndoRestock{ReturnID: "ret-1", RestockID: tt.restockID}))
				if res.Outcome != events.OutcomeSuccess {
					t.Fatalf("got outcome %q (%s), want success", res.Outcome, res.Reason)
				}
			}
			undone := 0
			for _, e := range log.Effects() {
				if e.Kind == inventory.EffectRestockUndone {
					undone++
					if e.Ref != inventory.RestockID(doKey) || e.IdempotencyKey != undoKey {
						t.Errorf("got undo of %s under key %s, want %s under %s", e.Ref, e.IdempotencyKey, inventory.RestockID(doKey), undoKey)
					}
				}
			}
			if undone != tt.wantUndone {
				t.Errorf("got %d undone restocks, want %d", undone, tt.wantUndone)
			}
		})
	}
}

// A reservation and a restock of one return or order are separate effects: undoing one
// never undoes the other.
func TestReleaseDoesNotUndoARestock(t *testing.T) {
	log := workers.NewMemoryEffects()
	w := inventory.New(log)
	w.Handle(context.Background(), command(t, events.TypeInventoryRestock, "x-1/step", events.Restock{ReturnID: "x-1", Items: items("SKU-1")}))
	res := w.Handle(context.Background(), command(t, events.TypeInventoryRelease, "x-1/step/undo", events.ReleaseInventory{OrderID: "x-1"}))
	if res.Outcome != events.OutcomeSuccess {
		t.Fatalf("got outcome %q, want success", res.Outcome)
	}
	for _, e := range log.Effects() {
		if e.Kind == inventory.EffectReleased {
			t.Errorf("a release undid a restock: %+v", e)
		}
	}
}

func TestRestockResultJSON(t *testing.T) {
	raw, err := json.Marshal(inventory.RestockResult{RestockID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `{"restock_id":"r"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
