package sample

import (
	"fmt"

	"github.com/podiumhq/podium/events"
)

// ReturnKind names one path through the returns saga.
type ReturnKind string

// The kinds of sample returns, one per row of the reference workers' returns table.
const (
	ReturnHappy              ReturnKind = "refunded"
	ReturnNoPickupPartner    ReturnKind = "no_pickup_partner"
	ReturnNotRestockable     ReturnKind = "not_restockable"
	ReturnRefundDeclined     ReturnKind = "refund_declined"
	ReturnAmountExceedsLimit ReturnKind = "amount_exceeds_limit"
	ReturnBounced            ReturnKind = "bounced"
)

// ReturnKinds lists every return kind, in a stable order.
var ReturnKinds = []ReturnKind{ReturnHappy, ReturnNoPickupPartner, ReturnNotRestockable, ReturnRefundDeclined,
	ReturnAmountExceedsLimit, ReturnBounced}

// Statuses a return ends in, as the returns saga names them.
const (
	StatusRefunded = "refunded"
	StatusRejected = "rejected"
)

// ExpectedReturn returns the outcome the returns saga must reach for a return of kind k:
// refunded, or rejected with the reason of the step that failed.
func ExpectedReturn(k ReturnKind) Outcome {
	switch k {
	case ReturnHappy, ReturnBounced: // the refund notice is optional: a bounce still refunds
		return Outcome{Status: StatusRefunded}
	default:
		return Outcome{Status: StatusRejected, Reason: string(k)}
	}
}

// Return is a generated return with what must become of it.
type Return struct {
	Kind      ReturnKind
	Requested events.ReturnRequested
	Want      Outcome
}

// NextReturn returns the next return of the mix: the first len(ReturnKinds) returns cover
// each kind once; after them, 60% are refunded and the rest spread evenly over the failure
// kinds. Return IDs are "<prefix>-ret-<n>", distinct from the generator's order IDs (both
// are saga IDs of one orchestrator).
func (g *Generator) NextReturn() Return {
	var k ReturnKind
	switch {
	case g.nr < len(ReturnKinds):
		k = ReturnKinds[g.nr]
	case g.rng.Float64() < 0.6:
		k = ReturnHappy
	default:
		k = ReturnKinds[1+g.rng.IntN(len(ReturnKinds)-1)]
	}
	return g.MakeReturn(k)
}

// MakeReturn returns the next return of kind k. The order it returns is named like the
// generator's orders but is not checked against anything.
func (g *Generator) MakeReturn(k ReturnKind) Return {
	g.nr++
	qty := 1 + g.rng.IntN(3)
	price := int64(500 + g.rng.IntN(20000))
	r := events.ReturnRequested{
		ReturnID: fmt.Sprintf("%s-ret-%06d", g.prefix, g.nr),
		OrderID:  fmt.Sprintf("%s-%06d", g.prefix, 1+g.rng.IntN(max(g.n, 1))),
		Customer: events.Customer{ID: fmt.Sprintf("cus-%d", g.rng.IntN(1000)), Email: "ada@example.com"},
		Currency: "EUR",
		Items:    []events.Item{{SKU: fmt.Sprintf("SKU-%04d", g.rng.IntN(10000)), Quantity: qty, UnitPrice: price}},
		Payment:  events.Payment{Token: "tok_visa"},
		PickupAddress: events.Address{
			Name: "Ada L.", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE",
		},
	}
	switch k {
	case ReturnNoPickupPartner:
		r.PickupAddress.Country = "AQ"
		r.PickupAddress.City = "McMurdo"
	case ReturnNotRestockable:
		r.Items[0].SKU = "FINAL-" + r.Items[0].SKU
	case ReturnRefundDeclined:
		r.Payment.Token = "tok_refundDeclined"
	case ReturnAmountExceedsLimit:
		r.Items[0].Quantity = 2
		r.Items[0].UnitPrice = 600_000
	case ReturnBounced:
		r.Customer.Email = "ada@bounce.example"
	}
	for _, it := range r.Items {
		r.Refund += int64(it.Quantity) * it.UnitPrice
	}
	return Return{Kind: k, Requested: r, Want: ExpectedReturn(k)}
}
