package trip

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// DefinitionName is the saga's name, recorded in every trip's state.
const DefinitionName = "trip"

// Step names.
const (
	StepBookFlight = "book-flight"
	StepBookHotel  = "book-hotel"
	StepRentCar    = "rent-car"
)

// MilestoneReserved is reached once the flight and the hotel are booked.
const MilestoneReserved = "reserved"

// A trip's statuses, as the definition labels them (saga.Definition.Label, the lifecycle
// events' status).
const (
	StatusBooking    = "booking"
	StatusReserved   = MilestoneReserved
	StatusBooked     = "booked"
	StatusCancelling = "cancelling"
	StatusCancelled  = "cancelled"
	StatusFailed     = "failed"
)

// Options tunes the trip saga's timeouts and retry policies. Zero fields take their defaults.
type Options struct {
	// Timeout is the deadline of one attempt of a booking or a compensation. Default: 10s.
	Timeout time.Duration
	// Retry is the bookings' retry policy (after a timeout or a retryable error).
	// Default: 3 attempts, backoff 200ms doubling up to 5s, jitter 0.2.
	Retry saga.RetryPolicy
	// CompensationRetry is the compensations' retry policy; when it is exhausted the trip
	// fails and waits for an operator. Default: 8 attempts, backoff 200ms doubling up to
	// 5s, jitter 0.2.
	CompensationRetry saga.RetryPolicy
}

// Option defaults.
const (
	DefaultTimeout                 = 10 * time.Second
	DefaultMaxAttempts             = 3
	DefaultCompensationMaxAttempts = 8
)

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retry.MaxAttempts == 0 {
		o.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if o.CompensationRetry.MaxAttempts == 0 {
		o.CompensationRetry.MaxAttempts = DefaultCompensationMaxAttempts
	}
	o.Retry, o.CompensationRetry = o.Retry.WithDefaults(), o.CompensationRetry.WithDefaults()
	return o
}

// Saga is the trip saga type for an orchestrator (orchestrator.Config.Sagas, or
// podiumtest.Config.Sagas): the definition, started by TypeRequested on TopicRequested.
// Its lifecycle events are podium's generic events.TypeSagaLifecycle.
func Saga(o Options) orchestrator.SagaType {
	return orchestrator.SagaType{Definition: NewDefinition(o), Start: TypeRequested, Topic: TopicRequested}
}

// NewDefinition returns the trip saga with the given options: book the flight and the hotel
// in parallel, then rent the car (optional); a booking that fails for good cancels the
// bookings made. Call Validate on the result to check the options.
func NewDefinition(o Options) *saga.Definition {
	o = o.withDefaults()
	do := func(worker, typ string, b saga.Builder) saga.Action {
		return saga.Action{Worker: worker, Type: typ, Build: b, Timeout: o.Timeout, Retry: o.Retry}
	}
	undo := func(worker, typ string, b saga.Builder) *saga.Action {
		return &saga.Action{Worker: worker, Type: typ, Build: b, Timeout: o.Timeout, Retry: o.CompensationRetry}
	}
	flightAndHotel := []string{StepBookFlight, StepBookHotel}
	return &saga.Definition{
		Name:    DefinitionName,
		Workers: []string{WorkerFlights, WorkerHotels, WorkerCars},
		Steps: []saga.Step{
			{
				Name: StepBookFlight,
				Do:   do(WorkerFlights, TypeBookFlight, buildBookFlight),
				Undo: undo(WorkerFlights, TypeCancelFlight, buildCancelFlight),
			},
			{
				Name: StepBookHotel,
				Do:   do(WorkerHotels, TypeBookHotel, buildBookHotel),
				Undo: undo(WorkerHotels, TypeCancelHotel, buildCancelHotel),
			},
			{
				Name:     StepRentCar,
				Do:       do(WorkerCars, TypeRentCar, buildRentCar),
				Undo:     undo(WorkerCars, TypeReturnCar, buildReturnCar),
				After:    flightAndHotel,
				Optional: true,
			},
		},
		Milestones:  []saga.Milestone{{Name: MilestoneReserved, After: flightAndHotel}},
		DecodeInput: decodeRequested,
		Labels: saga.StatusLabels{
			Running:      StatusBooking,
			Compensating: StatusCancelling,
			Completed:    StatusBooked,
			Compensated:  StatusCancelled,
			Failed:       StatusFailed,
		},
	}
}

// decodeRequested is the saga's DecodeInput: the builders of one Apply share the trip
// requested it decodes (saga.Build).
func decodeRequested(sagaID string, input json.RawMessage) (any, error) {
	var r Requested
	if err := json.Unmarshal(input, &r); err != nil {
		return nil, fmt.Errorf("decoding trip %q: %w", sagaID, err)
	}
	return &r, nil
}

// build returns a payload builder that marshals what f makes of the trip requested.
// Builders must be pure: the engine rebuilds the commands in flight after a restart and
// expects the same bytes.
func build[T any](f func(r *Requested, bc saga.BuildContext) T) saga.Builder {
	return saga.Build(decodeRequested, f)
}

// result decodes the success result of step into T; the zero T when the step has no result
// (its outcome is unknown), so a compensation never fails on it.
func result[T any](bc saga.BuildContext, step string) T {
	var v T
	_ = json.Unmarshal(bc.Results[step], &v)
	return v
}

var (
	buildBookFlight = build(func(r *Requested, _ saga.BuildContext) BookFlight {
		return BookFlight{TripID: r.TripID, Traveller: r.Traveller, From: r.Flight.From, To: r.Flight.To,
			Date: r.Flight.Date, CardToken: r.CardToken}
	})
	buildCancelFlight = build(func(r *Requested, bc saga.BuildContext) CancelFlight {
		return CancelFlight{TripID: r.TripID, PNR: result[FlightBooked](bc, StepBookFlight).PNR}
	})
	buildBookHotel = build(func(r *Requested, _ saga.BuildContext) BookHotel {
		return BookHotel{TripID: r.TripID, Traveller: r.Traveller, City: r.Hotel.City, CheckIn: r.Flight.Date,
			Nights: r.Hotel.Nights, CardToken: r.CardToken}
	})
	buildCancelHotel = build(func(r *Requested, bc saga.BuildContext) CancelHotel {
		return CancelHotel{TripID: r.TripID, Confirmation: result[HotelBooked](bc, StepBookHotel).Confirmation}
	})
	buildRentCar = build(func(r *Requested, _ saga.BuildContext) RentCar {
		c := RentCar{TripID: r.TripID, Traveller: r.Traveller, PickUp: r.Flight.Date, CardToken: r.CardToken}
		if r.Car != nil {
			c.City, c.Days = r.Car.City, r.Car.Days
		}
		return c
	})
	buildReturnCar = build(func(r *Requested, bc saga.BuildContext) ReturnCar {
		return ReturnCar{TripID: r.TripID, RentalID: result[CarRented](bc, StepRentCar).RentalID}
	})
)
