package saga_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// benchOrder is the OrderPlaced of DESIGN §4.4.
var benchOrder = json.RawMessage(`{"order_id":"ord-1001","customer":{"id":"cus-7","email":"ada@example.com"},"seller_id":"sel-3","currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}],"total":3998,"payment":{"token":"tok_visa"},"shipping_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`)

// benchReturn is a returns.Definition start input (events.ReturnRequested).
var benchReturn = json.RawMessage(`{"return_id":"ret-2001","order_id":"ord-1001","customer":{"id":"cus-7","email":"ada@example.com"},"currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":1,"unit_price":1999}],"refund":1999,"payment":{"token":"tok_visa"},"pickup_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`)

var benchReturnResults = map[string]json.RawMessage{
	returns.StepSchedulePickup:   json.RawMessage(`{"pickup_id":"pick-5f0c2a9e41b7"}`),
	returns.StepRestock:          json.RawMessage(`{"restock_id":"rst-93c1d2e07a44"}`),
	returns.StepRefundPayment:    json.RawMessage(`{"refund_id":"ref-0b8d7e3f5a12"}`),
	returns.StepSendRefundNotice: json.RawMessage(`{"message_id":"msg-c4a8e1b29d07"}`),
}

var benchResults = map[string]json.RawMessage{
	order.StepReserveInventory: json.RawMessage(`{"reservation_id":"res-5f0c2a9e41b7"}`),
	order.StepAuthorizePayment: json.RawMessage(`{"authorization_id":"auth-93c1d2e07a44"}`),
	order.StepPrepareShipment:  json.RawMessage(`{"preparation_id":"prep-0b8d7e3f5a12"}`),
	order.StepAssignDelivery:   json.RawMessage(`{"delivery_id":"del-7e21c9a0d3f4","partner":"dhl"}`),
	order.StepSendConfirmation: json.RawMessage(`{"message_id":"msg-c4a8e1b29d07"}`),
}

const benchTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// runHappy drives one order saga from start to completed, as the orchestrator does: one
// Apply per input, every command answered with success. It returns the Apply calls made.
func runHappy(b *testing.B, d *saga.Definition, id string, start time.Time) (*saga.State, int) {
	return runHappyWith(b, d, id, benchOrder, benchResults, start)
}

// runHappyWith is runHappy for any saga: input starts it, results answer its steps.
func runHappyWith(b *testing.B, d *saga.Definition, id string, input json.RawMessage, results map[string]json.RawMessage, start time.Time) (*saga.State, int) {
	now := start
	s, out, err := d.Apply(nil, saga.StartInput(id, input, 42, benchTrace), now)
	if err != nil {
		b.Fatal(err)
	}
	applies := 1
	queue := out.Commands
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		now = now.Add(3 * time.Millisecond)
		s, out, err = d.Apply(s, saga.ReplyInput(c.ID, c.Step, saga.ReplySuccess, "", results[c.Step]), now)
		if err != nil {
			b.Fatal(err)
		}
		applies++
		queue = append(queue, out.Commands...)
	}
	if s.Status != saga.StatusCompleted {
		b.Fatalf("saga ended %s, want completed", s.Status)
	}
	return s, applies
}

// BenchmarkApplyOrderSaga runs whole order sagas (start and five success replies) through
// Apply: the engine's share of an order's CPU in the orchestrator.
//
//	go test -run XXX -bench . -benchmem ./orchestrator/saga/
func BenchmarkApplyOrderSaga(b *testing.B) {
	d := order.Definition()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var applies int
	b.ReportAllocs()
	for b.Loop() {
		_, applies = runHappy(b, d, "ord-1001", start)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*applies), "ns/apply")
}

// BenchmarkApplyReturnsSaga runs whole returns sagas (start and four success replies)
// through Apply.
func BenchmarkApplyReturnsSaga(b *testing.B) {
	d := returns.Definition()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var applies int
	b.ReportAllocs()
	for b.Loop() {
		_, applies = runHappyWith(b, d, "ret-2001", benchReturn, benchReturnResults, start)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*applies), "ns/apply")
}

// BenchmarkApplyReply applies one success reply to a saga with two commands in flight.
func BenchmarkApplyReply(b *testing.B) {
	d := order.Definition()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, out, err := d.Apply(nil, saga.StartInput("ord-1001", benchOrder, 42, benchTrace), now)
	if err != nil {
		b.Fatal(err)
	}
	c := out.Commands[0]
	in := saga.ReplyInput(c.ID, c.Step, saga.ReplySuccess, "", benchResults[c.Step])
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.Apply(s, in, now.Add(time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClone deep-copies a completed saga's state (Apply makes a cheaper copy, which
// shares the input and results: BenchmarkApplyReply measures it).
func BenchmarkClone(b *testing.B) {
	s, _ := runHappy(b, order.Definition(), "ord-1001", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Clone()
	}
}
