// Package trip is a saga type of its own, built on podium's public API from outside podium:
// it books a trip — a flight and a hotel in parallel, then, optionally, a rental car — and
// cancels what was booked when a required booking fails or the traveller cancels.
//
//	book-flight (flights) ─┬─ rent-car (cars, optional) ─ completed
//	book-hotel  (hotels)  ─┘
//	compensations: cancel-flight, cancel-hotel, return-car
//
// The package holds the wire contract and the saga, nothing that runs:
//
//   - the CloudEvents types and their data: Requested (TypeRequested on TopicRequested,
//     subject = trip ID) starts a trip; BookFlight, BookHotel and RentCar are the commands,
//     CancelFlight, CancelHotel and ReturnCar their compensations. Their JSON Schemas
//     (schemas/*.json, embedded) are registered with podium's codec when the package is
//     imported (events.MustRegister in init), so every process that imports it — the
//     orchestrator, the workers, a client — accepts and validates them;
//   - the saga definition (NewDefinition) and the orchestrator.SagaType that runs it (Saga).
//
// A trip's statuses, as the definition labels them: booking → reserved (flight and hotel
// booked) → booked; a required step fails or the traveller cancels → cancelling →
// cancelled; a compensation that exhausted its retries → failed (an operator retries it).
// A rental car that cannot be had does not cancel the trip: rent-car is optional.
//
// The workers are package example.com/trip/providers; cmd/trip runs everything against a
// Kafka cluster. Everything here is pure and safe for concurrent use.
package trip
