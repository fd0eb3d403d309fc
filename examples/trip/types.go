package trip

// TopicRequested is the topic the trips start on. Like every input of podium's orchestrator
// it has the partition count of the other podium topics (co-partitioned).
const TopicRequested = "trips.requested"

// CloudEvents types. They must not start with "podium." (reserved) and end in a version.
const (
	// TypeRequested starts a trip saga; data Requested, subject the trip ID.
	TypeRequested = "trip.requested.v1"

	TypeBookFlight   = "trip.flight.book.v1"   // data BookFlight, worker flights
	TypeCancelFlight = "trip.flight.cancel.v1" // data CancelFlight, worker flights
	TypeBookHotel    = "trip.hotel.book.v1"    // data BookHotel, worker hotels
	TypeCancelHotel  = "trip.hotel.cancel.v1"  // data CancelHotel, worker hotels
	TypeRentCar      = "trip.car.rent.v1"      // data RentCar, worker cars
	TypeReturnCar    = "trip.car.return.v1"    // data ReturnCar, worker cars
)

// The workers the saga sends commands to: each reads <worker>.commands and answers on
// <worker>.replies.
const (
	WorkerFlights = "flights"
	WorkerHotels  = "hotels"
	WorkerCars    = "cars"
)

// Requested is the data of TypeRequested: what the traveller asks for.
type Requested struct {
	TripID    string `json:"trip_id"`   // the saga ID: 1-64 characters of [A-Za-z0-9._:-]
	Traveller string `json:"traveller"` // e-mail address
	Flight    Flight `json:"flight"`
	Hotel     Hotel  `json:"hotel"`
	Car       *Car   `json:"car,omitempty"` // nil: no car
	CardToken string `json:"card_token"`    // what every provider charges
}

// Flight is a one-way flight.
type Flight struct {
	From string `json:"from"` // IATA airport code, e.g. "LIS"
	To   string `json:"to"`
	Date string `json:"date"` // YYYY-MM-DD
}

// Hotel is a stay, from the flight's date.
type Hotel struct {
	City   string `json:"city"`
	Nights int    `json:"nights"` // 1-90
}

// Car is a rental car, picked up on the flight's date.
type Car struct {
	City string `json:"city"`
	Days int    `json:"days"` // 1-90
}

// BookFlight is the data of TypeBookFlight. Its success result is a FlightBooked.
type BookFlight struct {
	TripID    string `json:"trip_id"`
	Traveller string `json:"traveller"`
	From      string `json:"from"`
	To        string `json:"to"`
	Date      string `json:"date"`
	CardToken string `json:"card_token"`
}

// FlightBooked is the result of a BookFlight that succeeded.
type FlightBooked struct {
	PNR string `json:"pnr"`
}

// CancelFlight is the data of TypeCancelFlight, the compensation of BookFlight. PNR is
// empty when the booking's outcome is unknown (it timed out).
type CancelFlight struct {
	TripID string `json:"trip_id"`
	PNR    string `json:"pnr,omitempty"`
}

// BookHotel is the data of TypeBookHotel. Its success result is a HotelBooked.
type BookHotel struct {
	TripID    string `json:"trip_id"`
	Traveller string `json:"traveller"`
	City      string `json:"city"`
	CheckIn   string `json:"check_in"` // the flight's date
	Nights    int    `json:"nights"`
	CardToken string `json:"card_token"`
}

// HotelBooked is the result of a BookHotel that succeeded.
type HotelBooked struct {
	Confirmation string `json:"confirmation"`
}

// CancelHotel is the data of TypeCancelHotel, the compensation of BookHotel.
// Confirmation is empty when the booking's outcome is unknown.
type CancelHotel struct {
	TripID       string `json:"trip_id"`
	Confirmation string `json:"confirmation,omitempty"`
}

// RentCar is the data of TypeRentCar. City and Days are empty when the trip asked for no
// car: there is nothing to rent. Its success result is a CarRented.
type RentCar struct {
	TripID    string `json:"trip_id"`
	Traveller string `json:"traveller"`
	City      string `json:"city,omitempty"`
	Days      int    `json:"days,omitempty"`
	PickUp    string `json:"pick_up"` // the flight's date
	CardToken string `json:"card_token"`
}

// CarRented is the result of a RentCar that succeeded; RentalID is empty when no car was
// asked for.
type CarRented struct {
	RentalID string `json:"rental_id,omitempty"`
}

// ReturnCar is the data of TypeReturnCar, the compensation of RentCar. RentalID is empty
// when the rental's outcome is unknown.
type ReturnCar struct {
	TripID   string `json:"trip_id"`
	RentalID string `json:"rental_id,omitempty"`
}
