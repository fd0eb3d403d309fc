package main

import (
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/sagas"
)

// TestSagaDiagram prints every built-in definition as Mermaid and SVG, and checks that an
// unknown name is refused with the known ones listed.
func TestSagaDiagram(t *testing.T) {
	defs := sagas.Definitions()
	if len(defs) < 2 {
		t.Fatalf("built-in definitions: got %d, want at least 2 (order, returns)", len(defs))
	}
	for _, def := range defs {
		for _, format := range []string{"mermaid", "svg"} {
			out, err := runCLI(t, "", "saga", "diagram", def.Name, "--format", format)
			if err != nil {
				t.Errorf("saga diagram %s --format %s: %v", def.Name, format, err)
				continue
			}
			for _, st := range def.Steps {
				if !strings.Contains(out, st.Name) {
					t.Errorf("saga diagram %s --format %s lacks step %q", def.Name, format, st.Name)
				}
			}
		}
	}
	_, err := runCLI(t, "", "saga", "diagram", "refunds")
	if want := `unknown saga "refunds" (known: order, returns)`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("saga diagram refunds: got %v, want an error containing %q", err, want)
	}
}

// TestWatchLine checks the lines `podium order watch` and `podium saga watch` print: the
// lifecycle events of orders and of returns, the answers to generic operator requests, and
// nothing for a timeline.
func TestWatchLine(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	event := func(typ, subject string, data any) events.Envelope {
		t.Helper()
		env, err := events.NewEvent(typ, subject, data)
		if err != nil {
			t.Fatal(err)
		}
		env.Time = at
		return env
	}
	tests := []struct {
		name string
		env  events.Envelope
		want string // "": no line
	}{
		{"order", event(events.TypeOrderCancelled, "ord-1", events.OrderLifecycle{OrderID: "ord-1", Status: "cancelled", Reason: "out_of_stock", Step: "reserve-inventory"}),
			"03:04:05.600  cancelled  ord-1  reason=out_of_stock  step=reserve-inventory"},
		{"return", event(events.TypeSagaLifecycle, "ret-1", events.SagaLifecycle{SagaID: "ret-1", Definition: "returns", Status: "rejected", Event: "compensated", Reason: "not_restockable", Step: "restock"}),
			"03:04:05.600  rejected   ret-1  saga=returns  reason=not_restockable  step=restock"},
		{"saga rejected", event(events.TypeSagaControlRejected, "ret-2", events.ControlOutcome{SagaID: "ret-2", Action: "retry", RequestID: "r", Reason: "invalid_status", Message: "the saga is requested"}),
			"03:04:05.600  rejected   ret-2  retry invalid_status: the saga is requested"},
		{"saga deferred", event(events.TypeSagaControlDeferred, "ret-3", events.ControlOutcome{SagaID: "ret-3", Action: "cancel", RequestID: "r", Reason: "held_for_order"}),
			"03:04:05.600  deferred   ret-3  cancel held_for_order: "},
		{"timeline", event(events.TypeSagaTimeline, "ret-4", events.SagaTimeline{SagaID: "ret-4", Definition: "returns", Status: "running"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := watchLine(tt.env)
			if tt.want == "" {
				if ok {
					t.Errorf("got %q, want no line", got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Errorf("got %q (%v), want %q", got, ok, tt.want)
			}
		})
	}
}
