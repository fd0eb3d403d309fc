package events

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/podiumhq/podium/schemas"
)

// The OrderPlaced of DESIGN §4.4.
const orderJSON = `{"order_id":"ord-1001","customer":{"id":"cus-7","email":"ada@example.com"},"seller_id":"sel-3","currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}],"total":3998,"payment":{"token":"tok_visa"},"shipping_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`

var fixedTime = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// fixtures returns one envelope of every kind, with fixed IDs and times.
func fixtures() map[string]Envelope {
	cmdID := "2f1c7e1e-8d7a-5a53-9a39-6f0f2f0d8c11"
	return map[string]Envelope{
		"order-placed": {
			ID: "evt-1", Source: SourcePodium, Type: TypeOrderPlaced, Subject: "ord-1001", Time: fixedTime,
			DataContentType: ContentTypeJSON, DataSchema: schemas.URL("order.placed.v1"), TraceParent: traceParent,
			Data: json.RawMessage(orderJSON),
		},
		"command-reserve": {
			ID: cmdID, Source: "podium/orchestrator", Type: TypeInventoryReserve, Subject: "ord-1001", Time: fixedTime,
			DataContentType: ContentTypeJSON, SagaID: "ord-1001", Step: "reserve-inventory", Attempt: 2,
			CausationID: "evt-1", IdempotencyKey: "ord-1001/reserve-inventory", TraceParent: traceParent,
			Data: json.RawMessage(`{"order_id":"ord-1001","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}]}`),
		},
		"reply-success": {
			ID: "rep-1", Source: "podium/worker/inventory", Type: ReplyType(TypeInventoryReserve), Subject: "ord-1001",
			Time: fixedTime, DataContentType: ContentTypeJSON, SagaID: "ord-1001", Step: "reserve-inventory", Attempt: 2,
			CorrelationID: cmdID, CausationID: cmdID, IdempotencyKey: "ord-1001/reserve-inventory", Outcome: OutcomeSuccess,
			Data: json.RawMessage(`{"result":{"reservation_id":"res-42"}}`),
		},
		"reply-failure": {
			ID: "rep-2", Source: "podium/worker/payment", Type: ReplyType(TypePaymentAuthorize), Subject: "ord-1001",
			Time: fixedTime, SagaID: "ord-1001", Step: "authorize-payment", CorrelationID: "cmd-9", Outcome: OutcomeFailure,
			Data: json.RawMessage(`{"reason":"card_declined","message":"the card was declined"}`),
		},
		"control-cancel": {
			ID: "ctl-1", Source: "podium/api", Type: TypeOrderCancel, Subject: "ord-1001", Time: fixedTime,
			Data: json.RawMessage(`{"order_id":"ord-1001","reason":"customer request","requested_by":"ops@example.com"}`),
		},
		"lifecycle-approved": {
			ID: "lc-1", Source: "podium/orchestrator", Type: TypeOrderApproved, Subject: "ord-1001", Time: fixedTime,
			DataContentType: ContentTypeJSON, SagaID: "ord-1001",
			Data: json.RawMessage(`{"order_id":"ord-1001","status":"approved"}`),
		},
		"return-requested": {
			ID: "evt-2", Source: "podium/client", Type: TypeReturnRequested, Subject: "ret-2001", Time: fixedTime,
			DataContentType: ContentTypeJSON, DataSchema: schemas.URL("return.requested.v1"),
			Data: json.RawMessage(returnJSON),
		},
		"command-refund": {
			ID: "cmd-r1", Source: "podium/orchestrator", Type: TypePaymentRefund, Subject: "ret-2001", Time: fixedTime,
			DataContentType: ContentTypeJSON, SagaID: "ret-2001", Step: "refund-payment", Attempt: 1,
			CausationID: "evt-2", IdempotencyKey: "ret-2001/refund-payment",
			Data: json.RawMessage(`{"return_id":"ret-2001","amount":3998,"currency":"EUR","token":"tok_visa"}`),
		},
		"saga-cancel": {
			ID: "ctl-2", Source: "podium/api", Type: TypeSagaCancel, Subject: "ret-2001", Time: fixedTime,
			Data: json.RawMessage(`{"saga_id":"ret-2001","reason":"customer kept the item"}`),
		},
		"saga-lifecycle": {
			ID: "lc-2", Source: "podium/orchestrator", Type: TypeSagaLifecycle, Subject: "ret-2001", Time: fixedTime,
			DataContentType: ContentTypeJSON, SagaID: "ret-2001",
			Data: json.RawMessage(`{"saga_id":"ret-2001","definition":"returns","status":"picked-up","event":"milestone","milestone":"picked-up"}`),
		},
	}
}

// A ReturnRequested of the order of orderJSON.
const returnJSON = `{"return_id":"ret-2001","order_id":"ord-1001","customer":{"id":"cus-7","email":"ada@example.com"},"currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}],"refund":3998,"payment":{"token":"tok_visa"},"pickup_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`

// structuredRecord encodes e in structured mode.
func structuredRecord(t *testing.T, e Envelope) Record {
	t.Helper()
	value, headers, err := Encode(e)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return Record{Topic: "test.topic", Partition: 3, Offset: 17, Key: []byte(e.Subject), Value: value, Headers: headers}
}

// binaryRecord writes e in binary mode: one ce_ header per attribute, the data as value.
func binaryRecord(e Envelope) Record {
	var hs []Header
	add := func(name, v string) {
		if v != "" {
			hs = append(hs, Header{Key: BinaryHeaderPrefix + name, Value: []byte(v)})
		}
	}
	add("specversion", SpecVersion)
	add("id", e.ID)
	add("source", e.Source)
	add("type", e.Type)
	add("subject", e.Subject)
	if !e.Time.IsZero() {
		add("time", e.Time.Format(time.RFC3339Nano))
	}
	add("dataschema", e.DataSchema)
	add(ExtSagaID, e.SagaID)
	add(ExtStep, e.Step)
	if e.Attempt != 0 {
		add(ExtAttempt, strconv.Itoa(e.Attempt))
	}
	add(ExtCorrelationID, e.CorrelationID)
	add(ExtCausationID, e.CausationID)
	add(ExtIdempotencyKey, e.IdempotencyKey)
	add(ExtOutcome, e.Outcome)
	add(ExtTraceParent, e.TraceParent)
	if e.DataContentType != "" {
		hs = append(hs, Header{Key: HeaderContentType, Value: []byte(e.DataContentType)})
	}
	return Record{Topic: "test.topic", Partition: 1, Offset: 5, Key: []byte(e.Subject), Value: e.Data, Headers: hs}
}

// mutate encodes e in structured mode, lets f change the JSON document, and re-encodes it.
func mutate(t *testing.T, e Envelope, f func(doc map[string]any)) Record {
	t.Helper()
	r := structuredRecord(t, e)
	var doc map[string]any
	if err := json.Unmarshal(r.Value, &doc); err != nil {
		t.Fatalf("unmarshal encoded event: %v", err)
	}
	f(doc)
	v, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("marshal mutated event: %v", err)
	}
	r.Value = v
	return r
}

// mutateData is mutate on the data of e, decoded with exact numbers.
func mutateData(t *testing.T, e Envelope, f func(data map[string]any)) Record {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		t.Fatalf("unmarshal data: %v", err)
	}
	f(data)
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatalf("marshal data: %v", err)
	}
	e.Data = raw
	return structuredRecord(t, e)
}

// attributes is the comparable part of an envelope.
type attributes struct {
	ID, Source, Type, Subject, DataContentType, DataSchema, SagaID, Step string
	Attempt                                                              int
	CorrelationID, CausationID, IdempotencyKey, Outcome, TraceParent     string
}

func attributesOf(e Envelope) attributes {
	return attributes{e.ID, e.Source, e.Type, e.Subject, e.DataContentType, e.DataSchema, e.SagaID, e.Step,
		e.Attempt, e.CorrelationID, e.CausationID, e.IdempotencyKey, e.Outcome, e.TraceParent}
}

// assertEnvelope compares envelopes field by field.
func assertEnvelope(t *testing.T, got, want Envelope) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time: got %v, want %v", got.Time, want.Time)
	}
	if string(got.Data) != string(want.Data) {
		t.Errorf("Data: got %s, want %s", got.Data, want.Data)
	}
	if g, w := attributesOf(got), attributesOf(want); g != w {
		t.Errorf("attributes:\n got %+v\nwant %+v", g, w)
	}
}
