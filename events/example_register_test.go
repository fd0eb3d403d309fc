package events_test

import (
	"encoding/json"
	"fmt"

	"github.com/podiumhq/podium/events"
)

// A module that runs its own saga type registers its CloudEvents types once, at program
// start, like gob.Register: a command (its reply type comes with it) and the event that
// starts a saga would be registered the same way, with Kind KindEvent.

// TypeBookFlight is a command of a "trip" saga, accepted by the worker "flights".
const TypeBookFlight = "trip.flight.book.v1"

// BookFlight is the data of TypeBookFlight.
type BookFlight struct {
	TripID string `json:"trip_id"` // the saga ID: the envelope's subject
	Flight string `json:"flight"`
}

// bookFlightSchema is the JSON Schema of BookFlight. It may $ref podium's shared
// definitions (schemas.URL("defs.v1")).
const bookFlightSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.com/schemas/trip.flight.book.v1.json",
  "type": "object",
  "required": ["trip_id", "flight"],
  "properties": {
    "trip_id": {"$ref": "https://github.com/podiumhq/podium/schemas/defs.v1.json#/$defs/saga_id"},
    "flight": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{1,4}$"}
  }
}`

func init() {
	events.MustRegister(events.TypeSpec{
		Type:         TypeBookFlight,
		Kind:         events.KindCommand,
		Worker:       "flights",
		Schema:       []byte(bookFlightSchema),
		SubjectField: "trip_id",
		New:          func() any { return new(BookFlight) },
	})
}

func ExampleRegister() {
	fmt.Println(events.CommandTypes("flights"), events.ReplyType(TypeBookFlight))

	// The orchestrator sends the command; the worker decodes it like a built-in one.
	e, err := events.NewEvent(TypeBookFlight, "trip-7", BookFlight{TripID: "trip-7", Flight: "LH123"})
	if err != nil {
		fmt.Println(err)
		return
	}
	e.SagaID, e.Step, e.Attempt, e.IdempotencyKey = "trip-7", "book-flight", 1, "trip-7/book-flight"
	value, headers, err := events.Encode(e)
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := events.Decode(events.Record{Topic: "flights.commands", Value: value, Headers: headers})
	if err != nil {
		fmt.Println(err)
		return
	}
	var cmd BookFlight
	if err := got.DecodeData(&cmd); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Type, got.Subject, cmd.Flight, got.DataSchema)

	// Data that breaks the schema is a *DecodeError, as for podium's own types.
	e.Data = json.RawMessage(`{"trip_id":"trip-7","flight":"lh123"}`)
	fmt.Println(e.Validate())
	// Output:
	// [trip.flight.book.v1] trip.flight.book.reply.v1
	// trip.flight.book.v1 trip-7 LH123 https://example.com/schemas/trip.flight.book.v1.json
	// /flight: schema: pattern: "lh123" does not match ^[A-Z]{2}[0-9]{1,4}$
}
