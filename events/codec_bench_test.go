package events

import (
	"encoding/json"
	"testing"
	"time"
)

// The codec's hot path: every record the orchestrator and the workers read is decoded and
// validated (Decode), every record they write is encoded (Encode). Run with
//
//	go test -run XXX -bench . -benchmem ./events/
func BenchmarkDecode(b *testing.B) {
	fx := fixtures()
	// Two more commands, with the schemas' address and email building blocks.
	cmd := fx["command-reserve"]
	cmd.Type, cmd.Step, cmd.IdempotencyKey = TypeShippingAssignDelivery, "assign-delivery", "ord-1001/assign-delivery"
	cmd.Data = json.RawMessage(`{"order_id":"ord-1001","address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`)
	fx["command-assign-delivery"] = cmd
	cmd.Type, cmd.Step, cmd.IdempotencyKey = TypeNotificationConfirmation, "send-confirmation", "ord-1001/send-confirmation"
	cmd.Data = json.RawMessage(`{"order_id":"ord-1001","email":"ada@example.com","total":3998,"currency":"EUR"}`)
	fx["command-send-confirmation"] = cmd
	for _, name := range []string{"order-placed", "command-reserve", "command-assign-delivery", "command-send-confirmation",
		"command-refund", "reply-success", "reply-failure", "lifecycle-approved"} {
		e := fx[name]
		value, headers, err := Encode(e)
		if err != nil {
			b.Fatalf("encoding %s: %v", name, err)
		}
		r := Record{Topic: TopicOrdersPlaced, Key: []byte(e.Subject), Value: value, Headers: headers}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if _, err := Decode(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("bare-order-placed", func(b *testing.B) {
		r := Record{Topic: TopicOrdersPlaced, Key: []byte("ord-1001"), Value: []byte(orderJSON)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"order-placed", "command-reserve", "reply-success"} {
		e := fixtures()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Encode(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeStructured compares Encode's appender with encoding/json, what Encode used
// before, on a timeline record of a whole order (the largest record the orchestrator
// writes) and on a reply.
//
//	go test -run XXX -bench EncodeStructured -benchmem ./events/
func BenchmarkEncodeStructured(b *testing.B) {
	var entries []TimelineEntry
	for i := range 14 {
		entries = append(entries, TimelineEntry{Time: time.Unix(1700000000, int64(i)*1e6).UTC(), Kind: "dispatched",
			Step: "reserve-inventory", Attempt: 1, CommandID: "2f1c3d1e-8a4b-4f53-9a43-2f6f0b1d7c55", Detail: "podium.inventory.reserve.v1"})
	}
	timeline, _ := json.Marshal(SagaTimeline{SagaID: "ord-000001", Definition: "order", Version: 7, Status: "completed", Entries: entries})
	reply := fixtures()["reply-success"]
	for name, e := range map[string]Envelope{
		"timeline": {ID: "2f1c3d1e-8a4b-4f53-9a43-2f6f0b1d7c55", Source: "podium/orchestrator", Type: TypeSagaTimeline, Subject: "ord-000001",
			Time: time.Unix(1700000000, 0), SagaID: "ord-000001", TraceParent: "00-11111111111111111111111111111111-2222222222222222-01", Data: timeline},
		"reply": reply,
	} {
		s := structured{SpecVersion: SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
			Time: e.Time.UTC().Format(time.RFC3339Nano), DataContentType: ContentTypeJSON, SagaID: e.SagaID, Step: e.Step,
			Attempt: e.Attempt, CorrelationID: e.CorrelationID, CausationID: e.CausationID, IdempotencyKey: e.IdempotencyKey,
			Outcome: e.Outcome, TraceParent: e.TraceParent, Data: e.Data}
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(&s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := appendStructured(make([]byte, 0, 512+len(s.Data)), &s); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}
