package client

import (
	"testing"

	"github.com/podiumhq/podium/events"
)

// TestLifecycle checks that both kinds of lifecycle event read as one status change, and
// that the other events on orders.events do not.
func TestLifecycle(t *testing.T) {
	event := func(typ, subject string, data any) events.Envelope {
		t.Helper()
		env, err := events.NewEvent(typ, subject, data)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	tests := []struct {
		name   string
		env    events.Envelope
		want   events.SagaLifecycle
		wantOK bool
	}{
		{"order", event(events.TypeOrderCancelled, "ord-1", events.OrderLifecycle{OrderID: "ord-1", Status: "cancelled", Reason: "out_of_stock", Step: "reserve-inventory"}),
			events.SagaLifecycle{SagaID: "ord-1", Definition: "order", Status: "cancelled", Reason: "out_of_stock", Step: "reserve-inventory"}, true},
		{"return", event(events.TypeSagaLifecycle, "ret-1", events.SagaLifecycle{SagaID: "ret-1", Definition: "returns", Status: "refunded", Event: "completed"}),
			events.SagaLifecycle{SagaID: "ret-1", Definition: "returns", Status: "refunded", Event: "completed"}, true},
		{"timeline", event(events.TypeSagaTimeline, "ret-1", events.SagaTimeline{SagaID: "ret-1", Status: "running"}), events.SagaLifecycle{}, false},
		{"control outcome", event(events.TypeSagaControlRejected, "ret-1", events.ControlOutcome{SagaID: "ret-1", Action: "retry"}), events.SagaLifecycle{}, false},
		{"bad data", events.Envelope{Type: events.TypeSagaLifecycle, Data: []byte(`[]`)}, events.SagaLifecycle{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Lifecycle(tt.env)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
