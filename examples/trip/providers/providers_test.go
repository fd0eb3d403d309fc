package providers_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"

	"example.com/trip"
	"example.com/trip/providers"
)

// command builds the command the orchestrator would send for step of trip-1 (its
// compensation if undo), and checks it against the type's schema like the worker runtime.
func command(t *testing.T, typ, step string, undo bool, data any) workers.Command {
	t.Helper()
	e, err := events.NewEvent(typ, "trip-1", data)
	if err != nil {
		t.Fatal(err)
	}
	e.SagaID, e.Step, e.Attempt = "trip-1", step, 1
	e.IdempotencyKey = saga.IdempotencyKey("trip-1", step, undo)
	if err := e.Validate(); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return workers.Command{Envelope: e}
}

func kinds(log *workers.MemoryEffects) []string {
	var ks []string
	for _, e := range log.Effects() {
		ks = append(ks, e.Kind)
	}
	return ks
}

// The failure rules, the references handed out, and the effects recorded, command by
// command (no Kafka: the handlers are plain functions).
func TestProviders(t *testing.T) {
	flight := func(edit func(*trip.BookFlight)) trip.BookFlight {
		b := trip.BookFlight{TripID: "trip-1", Traveller: "ada@example.com", From: "LIS", To: "BER",
			Date: "2026-05-04", CardToken: "tok_visa"}
		edit(&b)
		return b
	}
	hotel := func(edit func(*trip.BookHotel)) trip.BookHotel {
		b := trip.BookHotel{TripID: "trip-1", Traveller: "ada@example.com", City: "Berlin",
			CheckIn: "2026-05-04", Nights: 3, CardToken: "tok_visa"}
		edit(&b)
		return b
	}
	car := func(edit func(*trip.RentCar)) trip.RentCar {
		r := trip.RentCar{TripID: "trip-1", Traveller: "ada@example.com", City: "Berlin", Days: 3,
			PickUp: "2026-05-04", CardToken: "tok_visa"}
		edit(&r)
		return r
	}
	bookFlight, bookHotel, rentCar := flight(func(*trip.BookFlight) {}), hotel(func(*trip.BookHotel) {}), car(func(*trip.RentCar) {})

	type cmd struct {
		typ, step string
		undo      bool
		data      any
	}
	tests := []struct {
		name    string
		handler func(workers.EffectLog) *workers.Mux
		cmds    []cmd
		outcome string // of the last command
		reason  string
		effects []string
	}{
		{"flight booked", providers.Flights, []cmd{{trip.TypeBookFlight, trip.StepBookFlight, false, bookFlight}},
			events.OutcomeSuccess, "", []string{providers.EffectFlightBooked}},
		{"flight booked twice for one key", providers.Flights, []cmd{
			{trip.TypeBookFlight, trip.StepBookFlight, false, bookFlight},
			{trip.TypeBookFlight, trip.StepBookFlight, false, bookFlight},
		}, events.OutcomeSuccess, "", []string{providers.EffectFlightBooked}},
		{"no seats", providers.Flights, []cmd{{trip.TypeBookFlight, trip.StepBookFlight, false,
			flight(func(b *trip.BookFlight) { b.To = providers.NoSeatsDestination })}},
			events.OutcomeFailure, providers.ReasonNoSeats, nil},
		{"card declined", providers.Flights, []cmd{{trip.TypeBookFlight, trip.StepBookFlight, false,
			flight(func(b *trip.BookFlight) { b.CardToken = providers.DeclinedCard })}},
			events.OutcomeFailure, providers.ReasonCardDeclined, nil},
		{"flight booked and cancelled", providers.Flights, []cmd{
			{trip.TypeBookFlight, trip.StepBookFlight, false, bookFlight},
			{trip.TypeCancelFlight, trip.StepBookFlight, true, trip.CancelFlight{TripID: "trip-1"}},
		}, events.OutcomeSuccess, "", []string{providers.EffectFlightBooked, providers.EffectFlightCancelled}},
		{"cancelling a flight never booked", providers.Flights, []cmd{
			{trip.TypeCancelFlight, trip.StepBookFlight, true, trip.CancelFlight{TripID: "trip-1"}},
		}, events.OutcomeSuccess, "", nil},
		{"hotel booked and cancelled", providers.Hotels, []cmd{
			{trip.TypeBookHotel, trip.StepBookHotel, false, bookHotel},
			{trip.TypeCancelHotel, trip.StepBookHotel, true, trip.CancelHotel{TripID: "trip-1"}},
		}, events.OutcomeSuccess, "", []string{providers.EffectHotelBooked, providers.EffectHotelCancelled}},
		{"no rooms", providers.Hotels, []cmd{{trip.TypeBookHotel, trip.StepBookHotel, false,
			hotel(func(b *trip.BookHotel) { b.City = providers.FullCity })}},
			events.OutcomeFailure, providers.ReasonNoRooms, nil},
		{"car rented and returned", providers.Cars, []cmd{
			{trip.TypeRentCar, trip.StepRentCar, false, rentCar},
			{trip.TypeReturnCar, trip.StepRentCar, true, trip.ReturnCar{TripID: "trip-1"}},
		}, events.OutcomeSuccess, "", []string{providers.EffectCarRented, providers.EffectCarReturned}},
		{"no cars", providers.Cars, []cmd{{trip.TypeRentCar, trip.StepRentCar, false,
			car(func(r *trip.RentCar) { r.City = providers.NoCarsCity })}},
			events.OutcomeFailure, providers.ReasonNoCars, nil},
		{"no car asked for", providers.Cars, []cmd{{trip.TypeRentCar, trip.StepRentCar, false,
			car(func(r *trip.RentCar) { r.City, r.Days = "", 0 })}},
			events.OutcomeSuccess, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := workers.NewMemoryEffects()
			h := tt.handler(log)
			var got workers.Result
			for _, c := range tt.cmds {
				got = h.Handle(context.Background(), command(t, c.typ, c.step, c.undo, c.data))
			}
			if got.Outcome != tt.outcome || got.Reason != tt.reason {
				t.Errorf("got %s (%s: %s), want %s (%s)", got.Outcome, got.Reason, got.Message, tt.outcome, tt.reason)
			}
			if ks := kinds(log); !slices.Equal(ks, tt.effects) {
				t.Errorf("got effects %v, want %v", ks, tt.effects)
			}
		})
	}
}

// A booking's reference derives from the idempotency key: handled again (after a crash),
// the command answers the same PNR; the compensation undoes that very booking.
func TestBookingReferenceIsStable(t *testing.T) {
	log := workers.NewMemoryEffects()
	flights := providers.Flights(log)
	book := trip.BookFlight{TripID: "trip-1", Traveller: "ada@example.com", From: "LIS", To: "BER",
		Date: "2026-05-04", CardToken: "tok_visa"}
	var pnrs []string
	for range 2 {
		r := flights.Handle(context.Background(), command(t, trip.TypeBookFlight, trip.StepBookFlight, false, book))
		raw, err := json.Marshal(r.Result)
		if err != nil {
			t.Fatal(err)
		}
		var b trip.FlightBooked
		if err := json.Unmarshal(raw, &b); err != nil || b.PNR == "" {
			t.Fatalf("result %s: want a PNR (%v)", raw, err)
		}
		pnrs = append(pnrs, b.PNR)
	}
	if pnrs[0] != pnrs[1] {
		t.Errorf("got PNRs %s and %s for one idempotency key, want one", pnrs[0], pnrs[1])
	}
	cancel := command(t, trip.TypeCancelFlight, trip.StepBookFlight, true, trip.CancelFlight{TripID: "trip-1", PNR: pnrs[0]})
	if r := flights.Handle(context.Background(), cancel); r.Outcome != events.OutcomeSuccess {
		t.Fatalf("cancelling: got %s (%s), want success", r.Outcome, r.Reason)
	}
	effects := log.Effects()
	if len(effects) != 2 || effects[1].Kind != providers.EffectFlightCancelled || effects[1].Ref != pnrs[0] {
		t.Errorf("got effects %+v, want the booking of %s and its cancellation", effects, pnrs[0])
	}
}
