package trip_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/podiumtest"
	"github.com/podiumhq/podium/workers"

	"example.com/trip"
	"example.com/trip/providers"
)

// request is a trip that every provider accepts: it ends booked.
func request(id string) trip.Requested {
	return trip.Requested{
		TripID:    id,
		Traveller: "ada@example.com",
		Flight:    trip.Flight{From: "LIS", To: "BER", Date: "2026-05-04"},
		Hotel:     trip.Hotel{City: "Berlin", Nights: 3},
		Car:       &trip.Car{City: "Berlin", Days: 3},
		CardToken: "tok_visa",
	}
}

// effects lists the kinds of the effects recorded in log for the trip id, in order.
func effects(log *workers.MemoryEffects, id string) []string {
	var kinds []string
	for _, e := range log.Effects() {
		if e.OrderID == id { // the saga ID (the command's subject)
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

// gate holds the hotels worker's booking of one trip until the test opens it, so that the
// test can act while that booking is in flight. Once open, the booking answers a retryable
// error (the hotel's system is busy): no room is ever booked for that trip.
type gate struct {
	tripID  string
	entered chan struct{} // closed when the booking reached the handler
	release chan struct{}
	enter   func()
	open    func() // lets the held booking answer
}

func newGate(tripID string) *gate {
	g := &gate{tripID: tripID, entered: make(chan struct{}), release: make(chan struct{})}
	g.enter = sync.OnceFunc(func() { close(g.entered) })
	g.open = sync.OnceFunc(func() { close(g.release) })
	return g
}

func (g *gate) wrap(h workers.Handler) workers.Handler {
	return workers.HandlerFunc(func(ctx context.Context, cmd workers.Command) workers.Result {
		if cmd.SagaID() != g.tripID || cmd.Type() != trip.TypeBookHotel {
			return h.Handle(ctx, cmd)
		}
		g.enter()
		select {
		case <-g.release:
		case <-ctx.Done():
		}
		return workers.Retryable("hotel_busy", "the hotel's booking system is busy")
	})
}

// TestTrips runs trips through the saga on an embedded broker, with the real orchestrator,
// worker runtime and providers, and checks how each ended and what each provider did.
func TestTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker: skipped with -short")
	}
	const cancelled = "trip-cancelled"
	flights, hotels, cars := workers.NewMemoryEffects(), workers.NewMemoryEffects(), workers.NewMemoryEffects()
	hold := newGate(cancelled)
	t.Cleanup(hold.open) // before the stack stops (cleanups run last-in first-out)
	stack := podiumtest.Start(t, podiumtest.Config{
		// Bookings retry after 1s, 2s, 4s, 5s: the cancel below reaches the orchestrator
		// long before the held booking could be tried for the last time.
		Sagas: []orchestrator.SagaType{trip.Saga(trip.Options{Retry: saga.RetryPolicy{MaxAttempts: 5, Initial: time.Second}})},
		Workers: map[string]workers.Handler{
			trip.WorkerFlights: providers.Flights(flights),
			trip.WorkerHotels:  hold.wrap(providers.Hotels(hotels)),
			trip.WorkerCars:    providers.Cars(cars),
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type want struct {
		event, status, reason, step string
		flights, hotels, cars       []string // effect kinds, in order
	}
	booked := []string{providers.EffectFlightBooked}
	tests := []struct {
		name string
		edit func(*trip.Requested)
		want want
	}{
		{"booked", func(*trip.Requested) {}, want{
			event: events.LifecycleCompleted, status: trip.StatusBooked,
			flights: booked, hotels: []string{providers.EffectHotelBooked}, cars: []string{providers.EffectCarRented},
		}},
		{"booked without a car", func(r *trip.Requested) { r.Car = nil }, want{
			event: events.LifecycleCompleted, status: trip.StatusBooked,
			flights: booked, hotels: []string{providers.EffectHotelBooked},
		}},
		{"no car to rent: still booked", func(r *trip.Requested) { r.Car.City = providers.NoCarsCity }, want{
			event: events.LifecycleCompleted, status: trip.StatusBooked,
			flights: booked, hotels: []string{providers.EffectHotelBooked},
		}},
		{"no rooms: flight cancelled, car never rented", func(r *trip.Requested) { r.Hotel.City = providers.FullCity }, want{
			event: events.LifecycleCompensated, status: trip.StatusCancelled, reason: providers.ReasonNoRooms, step: trip.StepBookHotel,
			flights: []string{providers.EffectFlightBooked, providers.EffectFlightCancelled},
		}},
		{"no seats: hotel cancelled", func(r *trip.Requested) { r.Flight.To = providers.NoSeatsDestination }, want{
			event: events.LifecycleCompensated, status: trip.StatusCancelled, reason: providers.ReasonNoSeats, step: trip.StepBookFlight,
			hotels: []string{providers.EffectHotelBooked, providers.EffectHotelCancelled},
		}},
		{"card declined", func(r *trip.Requested) { r.CardToken = providers.DeclinedCard }, want{
			event: events.LifecycleCompensated, status: trip.StatusCancelled, reason: providers.ReasonCardDeclined, step: trip.StepBookFlight,
			hotels: []string{providers.EffectHotelBooked, providers.EffectHotelCancelled},
		}},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		ids[i] = "trip-" + string(rune('a'+i))
		r := request(ids[i])
		tt.edit(&r)
		if _, err := stack.Client().Start(ctx, trip.TopicRequested, trip.TypeRequested, r.TripID, r); err != nil {
			t.Fatalf("starting %s: %v", r.TripID, err)
		}
	}
	check := func(t *testing.T, id string, w want) {
		t.Helper()
		got, err := stack.Await(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Event != w.event || got.Status != w.status || got.Reason != w.reason || got.Step != w.step {
			t.Errorf("%s ended %s/%s (reason %q, step %q), want %s/%s (reason %q, step %q)",
				id, got.Event, got.Status, got.Reason, got.Step, w.event, w.status, w.reason, w.step)
		}
		for _, p := range []struct {
			name      string
			got, want []string
		}{
			{"flights", effects(flights, id), w.flights},
			{"hotels", effects(hotels, id), w.hotels},
			{"cars", effects(cars, id), w.cars},
		} {
			if !slices.Equal(p.got, p.want) {
				t.Errorf("%s: %s recorded %v, want %v", id, p.name, p.got, p.want)
			}
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { check(t, ids[i], tt.want) })
	}

	// A cancel while the hotel booking is in flight: the saga waits for it (it answers a
	// retryable error once the gate opens, and is not retried any more once the saga is
	// cancelling), then cancels the flight; the car is never rented.
	t.Run("cancelled by the traveller", func(t *testing.T) {
		const reason = "the traveller changed plans"
		r := request(cancelled)
		if _, err := stack.Client().Start(ctx, trip.TopicRequested, trip.TypeRequested, r.TripID, r); err != nil {
			t.Fatalf("starting %s: %v", r.TripID, err)
		}
		select {
		case <-hold.entered:
		case <-ctx.Done():
			t.Fatalf("the hotel booking of %s never reached the hotels worker", cancelled)
		}
		if _, err := stack.Client().Cancel(ctx, cancelled, reason); err != nil {
			t.Fatalf("cancelling %s: %v", cancelled, err)
		}
		hold.open()
		check(t, cancelled, want{
			event: events.LifecycleCompensated, status: trip.StatusCancelled, reason: reason,
			flights: []string{providers.EffectFlightBooked, providers.EffectFlightCancelled},
		})
	})
}
