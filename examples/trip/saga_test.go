package trip_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"

	"example.com/trip"
)

// The types were registered at init: registering them again is a duplicate.
func TestTypesRegistered(t *testing.T) {
	for _, typ := range []string{trip.TypeRequested, trip.TypeBookFlight, events.ReplyType(trip.TypeBookFlight)} {
		if !events.KnownType(typ) {
			t.Errorf("%s is not known to the codec", typ)
		}
	}
	if got, want := events.CommandTypes(trip.WorkerCars), []string{trip.TypeRentCar, trip.TypeReturnCar}; !slices.Equal(got, want) {
		t.Errorf("got commands %v of worker cars, want %v", got, want)
	}
	if err := events.Register(trip.Types()...); !errors.Is(err, events.ErrDuplicateType) {
		t.Errorf("registering again: got %v, want ErrDuplicateType", err)
	}
}

// What the schema of trip.requested.v1 accepts: a client validates the same way before it
// writes, and the orchestrator dead-letters what it refuses.
func TestRequestedSchema(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *trip.Requested)
		valid bool
	}{
		{"valid", func(*trip.Requested) {}, true},
		{"valid without a car", func(r *trip.Requested) { r.Car = nil }, true},
		{"not a date", func(r *trip.Requested) { r.Flight.Date = "2026-02-30" }, false},
		{"lower-case airport", func(r *trip.Requested) { r.Flight.From = "lis" }, false},
		{"no nights", func(r *trip.Requested) { r.Hotel.Nights = 0 }, false},
		{"traveller not an e-mail address", func(r *trip.Requested) { r.Traveller = "ada" }, false},
		{"car without days", func(r *trip.Requested) { r.Car.Days = 0 }, false},
		{"trip ID is not the subject", func(r *trip.Requested) { r.TripID = "trip-2" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("trip-1")
			tt.edit(&r)
			e, err := events.NewEvent(trip.TypeRequested, "trip-1", r)
			if err != nil {
				t.Fatal(err)
			}
			err = e.Validate()
			var de *events.DecodeError
			switch {
			case tt.valid && err != nil:
				t.Errorf("got %v, want valid", err)
			case !tt.valid && !errors.As(err, &de):
				t.Errorf("got %v, want a *events.DecodeError", err)
			}
		})
	}
}

// The definition on the pure engine (no Kafka, no clock): flight and hotel in parallel, the
// car after both, and the flight cancelled with its PNR when the hotel fails.
func TestDefinition(t *testing.T) {
	def := trip.NewDefinition(trip.Options{})
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	input, err := json.Marshal(request("trip-1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	types := func(out saga.Outputs) []string {
		var ts []string
		for _, c := range out.Commands {
			ts = append(ts, c.Type)
		}
		slices.Sort(ts)
		return ts
	}
	reply := func(s *saga.State, out saga.Outputs, step, outcome, reason string, result any) (*saga.State, saga.Outputs) {
		t.Helper()
		i := slices.IndexFunc(out.Commands, func(c saga.Command) bool { return c.Step == step })
		if i < 0 {
			t.Fatalf("no command of step %s in %v", step, types(out))
		}
		var raw json.RawMessage
		if result != nil {
			var err error
			if raw, err = json.Marshal(result); err != nil {
				t.Fatal(err)
			}
		}
		s, out, err := def.Apply(s, saga.ReplyInput(out.Commands[i].ID, step, outcome, reason, raw), now)
		if err != nil {
			t.Fatal(err)
		}
		return s, out
	}

	s, started, err := def.Apply(nil, saga.StartInput("trip-1", input, 1, ""), now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := types(started), []string{trip.TypeBookFlight, trip.TypeBookHotel}; !slices.Equal(got, want) {
		t.Fatalf("at start: got commands %v, want %v", got, want)
	}
	if got := def.Label(s); got != trip.StatusBooking {
		t.Errorf("at start: got status %q, want %q", got, trip.StatusBooking)
	}

	t.Run("booked", func(t *testing.T) {
		s, _ := reply(s, started, trip.StepBookFlight, saga.ReplySuccess, "", trip.FlightBooked{PNR: "P1"})
		s, out := reply(s, started, trip.StepBookHotel, saga.ReplySuccess, "", trip.HotelBooked{Confirmation: "H1"})
		if got, want := types(out), []string{trip.TypeRentCar}; !slices.Equal(got, want) {
			t.Fatalf("after flight and hotel: got commands %v, want %v", got, want)
		}
		if got := def.Label(s); got != trip.StatusReserved {
			t.Errorf("after flight and hotel: got status %q, want %q", got, trip.StatusReserved)
		}
		s, _ = reply(s, out, trip.StepRentCar, saga.ReplyFailure, "no_cars", nil)
		if got := def.Label(s); got != trip.StatusBooked {
			t.Errorf("after the car failed: got status %q, want %q (rent-car is optional)", got, trip.StatusBooked)
		}
	})

	t.Run("hotel fails", func(t *testing.T) {
		s, _ := reply(s, started, trip.StepBookFlight, saga.ReplySuccess, "", trip.FlightBooked{PNR: "P1"})
		s, out := reply(s, started, trip.StepBookHotel, saga.ReplyFailure, "no_rooms", nil)
		if got, want := types(out), []string{trip.TypeCancelFlight}; !slices.Equal(got, want) {
			t.Fatalf("after the hotel failed: got commands %v, want %v", got, want)
		}
		var c trip.CancelFlight
		if err := json.Unmarshal(out.Commands[0].Payload, &c); err != nil || c.PNR != "P1" {
			t.Errorf("cancel-flight payload %s: want PNR P1 (%v)", out.Commands[0].Payload, err)
		}
		if got := def.Label(s); got != trip.StatusCancelling {
			t.Errorf("got status %q, want %q", got, trip.StatusCancelling)
		}
		s, _ = reply(s, out, trip.StepBookFlight, saga.ReplySuccess, "", nil)
		if got := def.Label(s); got != trip.StatusCancelled || s.Reason != "no_rooms" {
			t.Errorf("got status %q (reason %q), want %q (no_rooms)", got, s.Reason, trip.StatusCancelled)
		}
	})
}
