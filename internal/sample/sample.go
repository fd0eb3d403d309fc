// Package sample generates OrderPlaced and ReturnRequested events that exercise every
// outcome of the order and returns sagas, each with the outcome the reference workers must
// produce. `podium order place --mix`, `podium dev` and the end-to-end tests use it to place
// orders and returns and to check what became of them. Generation is deterministic for a
// seed; safe for concurrent use only through separate Generators.
package sample

import (
	"fmt"
	"math/rand/v2"

	"github.com/podiumhq/podium/events"
)

// Outcome is what must become of an order: its final status and, for a cancelled order,
// the reason of the step that failed.
type Outcome struct {
	Status string // "completed" or "cancelled"
	Reason string // failure reason for cancelled orders ("out_of_stock", ...); "" when completed
}

// Kind names one path through the saga.
type Kind string

// The kinds of sample orders, one per row of the reference workers' table.
const (
	Happy              Kind = "happy"
	OutOfStock         Kind = "out_of_stock"
	CardDeclined       Kind = "card_declined"
	InsufficientFunds  Kind = "insufficient_funds"
	AmountExceedsLimit Kind = "amount_exceeds_limit"
	SellerUnavailable  Kind = "seller_unavailable"
	NoDeliveryPartner  Kind = "no_delivery_partner"
	Bounced            Kind = "bounced"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{Happy, OutOfStock, CardDeclined, InsufficientFunds, AmountExceedsLimit, SellerUnavailable, NoDeliveryPartner, Bounced}

// Expected returns the outcome the saga must reach for an order of kind k.
func Expected(k Kind) Outcome {
	switch k {
	case Happy, Bounced: // the confirmation is optional: a bounce still completes the order
		return Outcome{Status: "completed"}
	default:
		return Outcome{Status: "cancelled", Reason: string(k)}
	}
}

// Order is a generated order with what must become of it.
type Order struct {
	Kind   Kind
	Placed events.OrderPlaced
	Want   Outcome
}

// Generator makes sample orders (and returns: NextReturn, MakeReturn). The mix weights happy
// orders 60% and spreads the rest evenly over the failure kinds, so a sample of a few dozen
// covers every outcome.
type Generator struct {
	prefix string
	rng    *rand.Rand
	n      int // orders made
	nr     int // returns made
}

// NewGenerator returns a generator whose order IDs start with prefix; the same prefix and
// seed give the same orders.
func NewGenerator(prefix string, seed uint64) *Generator {
	return &Generator{prefix: prefix, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Next returns the next order of the mix. Every len(Kinds) consecutive orders after the
// first len(Kinds) follow the weighted mix; the first len(Kinds) orders cover each kind once.
func (g *Generator) Next() Order {
	var k Kind
	switch {
	case g.n < len(Kinds):
		k = Kinds[g.n]
	case g.rng.Float64() < 0.6:
		k = Happy
	default:
		k = Kinds[1+g.rng.IntN(len(Kinds)-1)]
	}
	return g.Make(k)
}

// Make returns the next order of kind k.
func (g *Generator) Make(k Kind) Order {
	g.n++
	id := fmt.Sprintf("%s-%06d", g.prefix, g.n)
	qty := 1 + g.rng.IntN(3)
	price := int64(500 + g.rng.IntN(20000))
	o := events.OrderPlaced{
		OrderID:  id,
		Customer: events.Customer{ID: fmt.Sprintf("cus-%d", g.rng.IntN(1000)), Email: "ada@example.com"},
		SellerID: fmt.Sprintf("sel-%d", g.rng.IntN(50)),
		Currency: "EUR",
		Items:    []events.Item{{SKU: fmt.Sprintf("SKU-%04d", g.rng.IntN(10000)), Quantity: qty, UnitPrice: price}},
		Payment:  events.Payment{Token: "tok_visa"},
		ShippingAddress: events.Address{
			Name: "Ada L.", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE",
		},
	}
	switch k {
	case OutOfStock:
		o.Items[0].SKU = "OOS-" + o.Items[0].SKU
	case CardDeclined:
		o.Payment.Token = "tok_chargeDeclined"
	case InsufficientFunds:
		o.Payment.Token = "tok_chargeDeclinedInsufficientFunds"
	case AmountExceedsLimit:
		o.Items[0].Quantity = 2
		o.Items[0].UnitPrice = 600_000
	case SellerUnavailable:
		o.SellerID = "closed-" + o.SellerID
	case NoDeliveryPartner:
		o.ShippingAddress.Country = "AQ"
		o.ShippingAddress.City = "McMurdo"
	case Bounced:
		o.Customer.Email = "ada@bounce.example"
	}
	var total int64
	for _, it := range o.Items {
		total += int64(it.Quantity) * it.UnitPrice
	}
	o.Total = total
	return Order{Kind: k, Placed: o, Want: Expected(k)}
}
