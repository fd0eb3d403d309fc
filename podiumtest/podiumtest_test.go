package podiumtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/podiumtest"
	"github.com/podiumhq/podium/sagas"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/inventory"
	"github.com/podiumhq/podium/workers/notification"
	"github.com/podiumhq/podium/workers/payment"
	"github.com/podiumhq/podium/workers/seller"
	"github.com/podiumhq/podium/workers/shipping"
)

// The built-in sagas on a podiumtest stack: an order and a return of each outcome reach the
// status their sample kind must produce, and Await reports it.
func TestStackRunsTheBuiltinSagas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker: skipped with -short")
	}
	stack := podiumtest.Start(t, podiumtest.Config{
		Sagas: sagas.BuiltinWith(order.Options{Timeout: 5 * time.Second}),
		Workers: map[string]workers.Handler{
			"inventory":    inventory.New(workers.NewMemoryEffects()),
			"payment":      payment.New(workers.NewMemoryEffects()),
			"seller":       seller.New(workers.NewMemoryEffects()),
			"shipping":     shipping.New(workers.NewMemoryEffects()),
			"notification": notification.New(workers.NewMemoryEffects()),
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	gen := sample.NewGenerator("podiumtest", 7)
	want := map[string]sample.Outcome{}
	for _, k := range []sample.Kind{sample.Happy, sample.OutOfStock} {
		o := gen.Make(k)
		if _, err := stack.Client().PlaceOrder(ctx, o.Placed); err != nil {
			t.Fatalf("placing %s: %v", o.Placed.OrderID, err)
		}
		want[o.Placed.OrderID] = o.Want
	}
	for _, k := range []sample.ReturnKind{sample.ReturnHappy, sample.ReturnNotRestockable} {
		r := gen.MakeReturn(k)
		if _, err := stack.Client().RequestReturn(ctx, r.Requested); err != nil {
			t.Fatalf("requesting %s: %v", r.Requested.ReturnID, err)
		}
		want[r.Requested.ReturnID] = r.Want
	}
	for id, w := range want {
		got, err := stack.Await(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != w.Status || got.Reason != w.Reason {
			t.Errorf("%s ended %s (%s), want %s (%s)", id, got.Status, got.Reason, w.Status, w.Reason)
		}
		if wantEvent := events.LifecycleCompleted; w.Reason == "" && got.Event != wantEvent {
			t.Errorf("%s: lifecycle event %q, want %q", id, got.Event, wantEvent)
		}
	}
	if n := len(stack.Outcomes()); n != len(want) {
		t.Errorf("Outcomes holds %d sagas, want %d", n, len(want))
	}
}
