package events_test

import (
	"errors"
	"fmt"

	"github.com/podiumhq/podium/events"
)

// Encode an event in structured mode and decode it back, as the orchestrator and the
// workers do for every record.
func Example() {
	order := events.OrderPlaced{
		OrderID:  "ord-1001",
		Customer: events.Customer{ID: "cus-7", Email: "ada@example.com"},
		SellerID: "sel-3",
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-RED-1", Quantity: 2, UnitPrice: 1999}},
		Total:    3998,
		Payment:  events.Payment{Token: "tok_visa"},
		ShippingAddress: events.Address{
			Name: "Ada L.", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE",
		},
	}
	e, err := events.NewEvent(events.TypeOrderPlaced, order.OrderID, order)
	if err != nil {
		fmt.Println(err)
		return
	}
	value, headers, err := events.Encode(e)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %s\n", headers[0].Key, headers[0].Value)

	// What a consumer gets from Kafka.
	r := events.Record{Topic: events.TopicOrdersPlaced, Partition: 3, Offset: 17, Key: []byte(order.OrderID), Value: value, Headers: headers}
	got, err := events.Decode(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	var placed events.OrderPlaced
	if err := got.DecodeData(&placed); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Type, got.Subject, placed.Total, placed.Currency)

	// A bad record is a *DecodeError naming the record, the field and the rule.
	r.Offset++
	r.Value = []byte(`{"order_id":"ord-1002","items":[]}`)
	r.Headers = nil // a bare OrderPlaced, accepted on orders.placed only
	_, err = events.Decode(r)
	var de *events.DecodeError
	if errors.As(err, &de) {
		fmt.Println(de.Field, "|", de.Rule)
		fmt.Println(err)
	}
	// Output:
	// content-type: application/cloudevents+json
	// podium.order.placed.v1 ord-1001 3998 EUR
	// /currency | schema: required
	// orders.placed[3]@18: /currency: schema: required: missing
}

// The reply to a command has the command's type with ".reply" before the version.
func ExampleReplyType() {
	fmt.Println(events.ReplyType(events.TypeInventoryReserve))
	fmt.Println(events.CommandTypes("payment"))
	// Output:
	// podium.inventory.reserve.reply.v1
	// [podium.payment.authorize.v1 podium.payment.cancel-refund.v1 podium.payment.refund.v1 podium.payment.void.v1]
}
