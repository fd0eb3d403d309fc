package trip

import (
	"embed"
	"fmt"

	"github.com/podiumhq/podium/events"
)

// schemaFiles are the JSON Schemas (2020-12) of the types' data, one file per type, named
// after it. They $ref podium's shared definitions (saga_id, email, name) by absolute URL.
//
//go:embed schemas/*.json
var schemaFiles embed.FS

// Types describes the trip's CloudEvents types to podium's codec: the start event and the
// three commands with their compensations (each command brings its reply type). init
// registers them; a program has nothing to call.
func Types() []events.TypeSpec {
	command := func(typ, worker string, newData func() any) events.TypeSpec {
		return events.TypeSpec{Type: typ, Kind: events.KindCommand, Worker: worker,
			Schema: schema(typ), SubjectField: "trip_id", New: newData}
	}
	return []events.TypeSpec{
		{Type: TypeRequested, Kind: events.KindEvent, Schema: schema(TypeRequested), SubjectField: "trip_id",
			New: func() any { return new(Requested) }},
		command(TypeBookFlight, WorkerFlights, func() any { return new(BookFlight) }),
		command(TypeCancelFlight, WorkerFlights, func() any { return new(CancelFlight) }),
		command(TypeBookHotel, WorkerHotels, func() any { return new(BookHotel) }),
		command(TypeCancelHotel, WorkerHotels, func() any { return new(CancelHotel) }),
		command(TypeRentCar, WorkerCars, func() any { return new(RentCar) }),
		command(TypeReturnCar, WorkerCars, func() any { return new(ReturnCar) }),
	}
}

// schema returns the embedded schema of typ; it panics if there is none (a build mistake).
func schema(typ string) []byte {
	b, err := schemaFiles.ReadFile("schemas/" + typ + ".json")
	if err != nil {
		panic(fmt.Sprintf("trip: schema of %s: %v", typ, err))
	}
	return b
}

// init registers the types once per process, like gob.Register: importing the package is
// enough for the orchestrator, the workers and the client to accept them.
func init() {
	events.MustRegister(Types()...)
}
