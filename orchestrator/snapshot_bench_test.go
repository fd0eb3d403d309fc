package orchestrator

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// completedSnapshot is the state of a finished happy order, as podium.saga-state holds it.
func completedSnapshot(b *testing.B) *saga.State {
	b.Helper()
	d := order.Definition()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	input := json.RawMessage(`{"order_id":"ord-1001","customer":{"id":"cus-7","email":"ada@example.com"},"seller_id":"sel-3","currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}],"total":3998,"payment":{"token":"tok_visa"},"shipping_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`)
	results := map[string]json.RawMessage{
		order.StepReserveInventory: json.RawMessage(`{"reservation_id":"res-5f0c2a9e41b7"}`),
		order.StepAuthorizePayment: json.RawMessage(`{"authorization_id":"auth-93c1d2e07a44"}`),
		order.StepPrepareShipment:  json.RawMessage(`{"preparation_id":"prep-0b8d7e3f5a12"}`),
		order.StepAssignDelivery:   json.RawMessage(`{"delivery_id":"del-7e21c9a0d3f4","partner":"dhl"}`),
		order.StepSendConfirmation: json.RawMessage(`{"message_id":"msg-c4a8e1b29d07"}`),
	}
	s, out, err := d.Apply(nil, saga.StartInput("ord-1001", input, 42, newTraceParent()), now)
	if err != nil {
		b.Fatal(err)
	}
	queue := out.Commands
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		now = now.Add(3 * time.Millisecond)
		if s, out, err = d.Apply(s, saga.ReplyInput(c.ID, c.Step, saga.ReplySuccess, "", results[c.Step]), now); err != nil {
			b.Fatal(err)
		}
		queue = append(queue, out.Commands...)
	}
	s.Generation = 3
	return s
}

// BenchmarkSnapshotEncode encodes a completed saga's snapshot, as process does for every
// saga a batch changed (json.Marshal of saga.State).
//
//	go test -run XXX -bench Snapshot -benchmem ./orchestrator/
func BenchmarkSnapshotEncode(b *testing.B) {
	s := completedSnapshot(b)
	value, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportMetric(float64(len(value)), "snapshot-bytes")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotDecode decodes a completed saga's snapshot, as restore does for every
// record of the partition's changelog: its inverse is the ceiling of restore speed.
func BenchmarkSnapshotDecode(b *testing.B) {
	value, err := json.Marshal(completedSnapshot(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		var s saga.State
		if err := json.Unmarshal(value, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotEncodeBinary encodes a completed saga's snapshot as process writes it
// (saga.State.MarshalBinary).
func BenchmarkSnapshotEncodeBinary(b *testing.B) {
	s := completedSnapshot(b)
	value, err := s.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportMetric(float64(len(value)), "snapshot-bytes")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSnapshotDecodeBinary decodes a binary snapshot, as restore does.
func BenchmarkSnapshotDecodeBinary(b *testing.B) {
	value, err := completedSnapshot(b).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := saga.DecodeState(value); err != nil {
			b.Fatal(err)
		}
	}
}
