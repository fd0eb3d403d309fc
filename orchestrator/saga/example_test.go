package saga_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// A two-step saga: book a flight, then a hotel. When the hotel fails, the flight is
// cancelled.
func Example() {
	build := func(kind string) saga.Builder {
		return func(bc saga.BuildContext) (json.RawMessage, error) {
			return json.Marshal(map[string]any{"trip": bc.SagaID, "kind": kind, "booked": bc.Results})
		}
	}
	action := func(worker, typ string) saga.Action {
		return saga.Action{Worker: worker, Type: typ, Build: build(typ), Timeout: 5 * time.Second,
			Retry: saga.RetryPolicy{MaxAttempts: 3}}
	}
	cancelFlight := action("airline", "cancel-flight")
	def := &saga.Definition{
		Name:    "trip",
		Workers: []string{"airline", "hotel"},
		Steps: []saga.Step{
			{Name: "flight", Do: action("airline", "book-flight"), Undo: &cancelFlight},
			{Name: "hotel", Do: action("hotel", "book-hotel"), After: []string{"flight"}},
		},
	}
	if err := def.Validate(); err != nil {
		panic(err)
	}

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	show := func(s *saga.State, out saga.Outputs) {
		for _, c := range out.Commands {
			fmt.Printf("send %s to %s (attempt %d)\n", c.Type, c.Worker, c.Attempt)
		}
		for _, e := range out.Events {
			fmt.Printf("event %s %s\n", e.Kind, e.Reason)
		}
		fmt.Println("status", s.Status)
	}

	s, out, _ := def.Apply(nil, saga.StartInput("trip-1", json.RawMessage(`{}`), 1, ""), now)
	show(s, out)

	flight := out.Commands[0]
	s, out, _ = def.Apply(s, saga.ReplyInput(flight.ID, "flight", saga.ReplySuccess, "", json.RawMessage(`{"pnr":"X1"}`)), now)
	show(s, out)

	hotel := out.Commands[0]
	s, out, _ = def.Apply(s, saga.ReplyInput(hotel.ID, "hotel", saga.ReplyFailure, "fully_booked", nil), now)
	show(s, out)

	cancel := out.Commands[0]
	fmt.Println("cancel payload", string(cancel.Payload))
	s, out, _ = def.Apply(s, saga.ReplyInput(cancel.ID, "flight", saga.ReplySuccess, "", nil), now)
	show(s, out)

	// Output:
	// send book-flight to airline (attempt 1)
	// status running
	// send book-hotel to hotel (attempt 1)
	// status running
	// send cancel-flight to airline (attempt 1)
	// status compensating
	// cancel payload {"booked":{"flight":{"pnr":"X1"}},"kind":"cancel-flight","trip":"trip-1"}
	// event compensated fully_booked
	// status compensated
}
