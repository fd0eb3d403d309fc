// Package providers is the trip saga's three workers — an airline, a hotel chain and a car
// rental company, all make-believe — as typed handlers for podium's worker runtime: Flights,
// Hotels and Cars each return a *workers.Mux to pass to workers.Run (or to
// podiumtest.Config.Workers).
//
// Deterministic rules decide which bookings fail, so tests and demos know every outcome in
// advance:
//
//	worker   fails with      when
//	flights  no_seats        the destination is "XXX"
//	flights  card_declined   the card token is "tok_declined"
//	hotels   no_rooms        the city is "Atlantis"
//	cars     no_cars         the city is "Nowhere" (rent-car is optional: the trip is still booked)
//
// Every other booking succeeds. Its reference (PNR, confirmation, rental ID) derives from the
// command's idempotency key (workers.StableID), and each booking is recorded once per key in
// an effect log, so a command handled twice — the runtime does that after a crash — books
// once and answers the same reference. A compensation (cancel-flight, cancel-hotel,
// return-car) always succeeds: it undoes the booking its idempotency key names, and undoing
// a booking that was never made (it failed, or its outcome was unknown and it never
// happened) changes nothing.
//
// The handlers keep no state but their effect log, and are safe for concurrent use as the
// runtime requires (one goroutine per owned partition).
package providers

import (
	"context"
	"fmt"

	"github.com/podiumhq/podium/workers"

	"example.com/trip"
)

// Failure reasons.
const (
	ReasonNoSeats      = "no_seats"
	ReasonCardDeclined = "card_declined"
	ReasonNoRooms      = "no_rooms"
	ReasonNoCars       = "no_cars"
)

// The values the failure rules look for.
const (
	NoSeatsDestination = "XXX"
	DeclinedCard       = "tok_declined"
	FullCity           = "Atlantis"
	NoCarsCity         = "Nowhere"
)

// Effect kinds recorded in the effect logs (workers.Effect.Kind).
const (
	EffectFlightBooked    = "flight_booked"
	EffectFlightCancelled = "flight_cancelled"
	EffectHotelBooked     = "hotel_booked"
	EffectHotelCancelled  = "hotel_cancelled"
	EffectCarRented       = "car_rented"
	EffectCarReturned     = "car_returned"
)

// Flights is the flights worker: trip.TypeBookFlight and trip.TypeCancelFlight. It records
// its bookings in effects (workers.NewMemoryEffects for tests and demos, or an EffectLog of
// your own).
func Flights(effects workers.EffectLog) *workers.Mux {
	m := newMux(effects)
	workers.Handle(m, trip.TypeBookFlight, func(_ context.Context, cmd workers.Command, b trip.BookFlight) workers.Result {
		switch {
		case b.To == NoSeatsDestination:
			return workers.Failure(ReasonNoSeats, fmt.Sprintf("no seats left to %s on %s", b.To, b.Date))
		case b.CardToken == DeclinedCard:
			return workers.Failure(ReasonCardDeclined, "the card was declined")
		}
		pnr := workers.StableID(trip.WorkerFlights, cmd.IdempotencyKey())
		return book(effects, trip.WorkerFlights, cmd, EffectFlightBooked, pnr, trip.FlightBooked{PNR: pnr})
	})
	workers.Handle(m, trip.TypeCancelFlight, func(_ context.Context, cmd workers.Command, c trip.CancelFlight) workers.Result {
		return undo(effects, trip.WorkerFlights, cmd, EffectFlightBooked, EffectFlightCancelled, c.PNR)
	})
	return m
}

// Hotels is the hotels worker: trip.TypeBookHotel and trip.TypeCancelHotel.
func Hotels(effects workers.EffectLog) *workers.Mux {
	m := newMux(effects)
	workers.Handle(m, trip.TypeBookHotel, func(_ context.Context, cmd workers.Command, b trip.BookHotel) workers.Result {
		if b.City == FullCity {
			return workers.Failure(ReasonNoRooms, fmt.Sprintf("no rooms in %s from %s", b.City, b.CheckIn))
		}
		conf := workers.StableID(trip.WorkerHotels, cmd.IdempotencyKey())
		return book(effects, trip.WorkerHotels, cmd, EffectHotelBooked, conf, trip.HotelBooked{Confirmation: conf})
	})
	workers.Handle(m, trip.TypeCancelHotel, func(_ context.Context, cmd workers.Command, c trip.CancelHotel) workers.Result {
		return undo(effects, trip.WorkerHotels, cmd, EffectHotelBooked, EffectHotelCancelled, c.Confirmation)
	})
	return m
}

// Cars is the cars worker: trip.TypeRentCar and trip.TypeReturnCar. A RentCar without a city
// (the trip asked for no car) succeeds without renting anything.
func Cars(effects workers.EffectLog) *workers.Mux {
	m := newMux(effects)
	workers.Handle(m, trip.TypeRentCar, func(_ context.Context, cmd workers.Command, r trip.RentCar) workers.Result {
		switch r.City {
		case "":
			return workers.Success(trip.CarRented{})
		case NoCarsCity:
			return workers.Failure(ReasonNoCars, fmt.Sprintf("no cars in %s on %s", r.City, r.PickUp))
		}
		id := workers.StableID(trip.WorkerCars, cmd.IdempotencyKey())
		return book(effects, trip.WorkerCars, cmd, EffectCarRented, id, trip.CarRented{RentalID: id})
	})
	workers.Handle(m, trip.TypeReturnCar, func(_ context.Context, cmd workers.Command, r trip.ReturnCar) workers.Result {
		return undo(effects, trip.WorkerCars, cmd, EffectCarRented, EffectCarReturned, r.RentalID)
	})
	return m
}

// newMux returns a Mux whose Sync makes effects durable: the runtime calls it after each
// batch, before it writes the batch's replies.
func newMux(effects workers.EffectLog) *workers.Mux {
	m := workers.NewMux()
	m.SyncFunc = effects.Sync
	return m
}

// book records a booking (once per idempotency key) and answers result. An effect log that
// cannot record is a transient problem: the orchestrator retries the command.
func book(effects workers.EffectLog, worker string, cmd workers.Command, kind, ref string, result any) workers.Result {
	if err := workers.RecordEffect(effects, worker, cmd, kind, ref); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(result)
}

// undo cancels the booking of kind done that cmd compensates, if there is one.
func undo(effects workers.EffectLog, worker string, cmd workers.Command, done, undone, ref string) workers.Result {
	if _, err := workers.RecordUndo(effects, worker, cmd, done, undone, ref); err != nil {
		return workers.Retryable(workers.ReasonEffectLog, err.Error())
	}
	return workers.Success(nil)
}
