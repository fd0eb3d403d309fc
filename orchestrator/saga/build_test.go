package saga_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/podiumhq/podium/orchestrator/saga"
)

type booking struct {
	TripID string `json:"trip_id"`
	Flight string `json:"flight"`
}

type cancelFlight struct {
	TripID string `json:"trip_id"`
	PNR    string `json:"pnr,omitempty"`
}

// decodeBooking is a DecodeInput: the trip ID falls back to the saga ID.
func decodeBooking(sagaID string, input json.RawMessage) (any, error) {
	b := new(booking)
	if err := json.Unmarshal(input, b); err != nil {
		return nil, fmt.Errorf("decoding booking %q: %w", sagaID, err)
	}
	if b.TripID == "" {
		b.TripID = sagaID
	}
	return b, nil
}

var buildCancelFlight = saga.Build(decodeBooking, func(b *booking, bc saga.BuildContext) cancelFlight {
	return cancelFlight{TripID: b.TripID, PNR: saga.ResultField(bc, "flight", "pnr")}
})

func TestBuild(t *testing.T) {
	input := json.RawMessage(`{"flight":"LH 123"}`)
	tests := []struct {
		name    string
		build   saga.Builder
		bc      saga.BuildContext
		want    string
		wantErr bool
	}{
		{"decodes the input", buildCancelFlight, saga.BuildContext{SagaID: "t-1", Input: input}, `{"trip_id":"t-1"}`, false},
		{"takes what the engine decoded", buildCancelFlight,
			saga.BuildContext{SagaID: "t-1", Input: json.RawMessage(`[]`), Decoded: &booking{TripID: "t-9"}}, `{"trip_id":"t-9"}`, false},
		{"decodes when Decoded is another type", buildCancelFlight,
			saga.BuildContext{SagaID: "t-1", Input: input, Decoded: "something else"}, `{"trip_id":"t-1"}`, false},
		{"decodes when Decoded is a nil pointer", buildCancelFlight,
			saga.BuildContext{SagaID: "t-1", Input: input, Decoded: (*booking)(nil)}, `{"trip_id":"t-1"}`, false},
		{"input that does not decode", buildCancelFlight, saga.BuildContext{SagaID: "t-1", Input: json.RawMessage(`[]`)}, "", true},
		{"decoder of another type", saga.Build(func(string, json.RawMessage) (any, error) { return "x", nil },
			func(b *booking, _ saga.BuildContext) string { return b.TripID }), saga.BuildContext{SagaID: "t-1"}, "", true},
		{"decoder error", saga.Build(func(string, json.RawMessage) (any, error) { return nil, errors.New("boom") },
			func(b *booking, _ saga.BuildContext) string { return b.TripID }), saga.BuildContext{SagaID: "t-1"}, "", true},
		{"result field", buildCancelFlight, saga.BuildContext{SagaID: "t-1", Input: input,
			Results: map[string]json.RawMessage{"flight": json.RawMessage(`{"pnr":"X1"}`)}}, `{"trip_id":"t-1","pnr":"X1"}`, false},
		{"result that is not an object", buildCancelFlight, saga.BuildContext{SagaID: "t-1", Input: input,
			Results: map[string]json.RawMessage{"flight": json.RawMessage(`"X1"`)}}, `{"trip_id":"t-1"}`, false},
		{"result field that is not a string", buildCancelFlight, saga.BuildContext{SagaID: "t-1", Input: input,
			Results: map[string]json.RawMessage{"flight": json.RawMessage(`{"pnr":7}`)}}, `{"trip_id":"t-1"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.build(tt.bc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// A compensation's builder: the trip from the saga's input, the booking reference from
// the result of the step it undoes. The engine hands the builder the input the
// definition's DecodeInput made; a builder called on its own decodes it itself.
func ExampleBuild() {
	cancel := saga.Build(decodeBooking, func(b *booking, bc saga.BuildContext) cancelFlight {
		return cancelFlight{TripID: b.TripID, PNR: saga.ResultField(bc, "flight", "pnr")}
	})
	payload, err := cancel(saga.BuildContext{
		SagaID:  "trip-1",
		Input:   json.RawMessage(`{"flight":"LH 123"}`),
		Results: map[string]json.RawMessage{"flight": json.RawMessage(`{"pnr":"X1"}`)},
	})
	fmt.Println(string(payload), err)
	// Output: {"trip_id":"trip-1","pnr":"X1"} <nil>
}
