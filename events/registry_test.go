package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/podiumhq/podium/schemas"
)

// Types registered by these tests (once per test binary: the registry is global).
const (
	testTripBooked = "example.trip.booked.v1"      // KindEvent, typed payload, schema with $id
	testFlightBook = "example.trip.flight-book.v1" // KindCommand, raw payload, schema $refs defs.v1
)

// testTripBookedSchema is the schema of testTripBooked; it has its own $id.
const testTripBookedSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.com/schemas/trip.booked.v1.json",
  "type": "object",
  "required": ["trip_id", "seats"],
  "properties": {
    "trip_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "seats": {"type": "integer", "minimum": 1, "maximum": 9}
  }
}`

// testFlightBookSchema has no $id: it may $ref podium's definitions relatively.
const testFlightBookSchema = `{
  "type": "object",
  "required": ["trip_id", "flight", "currency"],
  "properties": {
    "trip_id": {"$ref": "defs.v1.json#/$defs/saga_id"},
    "flight": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{1,4}$"},
    "currency": {"$ref": "defs.v1.json#/$defs/currency"}
  }
}`

// testFlightBookedResultSchema is the result schema of testFlightBook's successful replies.
const testFlightBookedResultSchema = `{
  "type": "object",
  "required": ["booking_id"],
  "properties": {"booking_id": {"type": "string", "pattern": "^bk-"}}
}`

type testTrip struct {
	TripID string `json:"trip_id"`
	Seats  int8   `json:"seats"`
}

var registerTestTypes = sync.OnceValue(func() error {
	return Register(
		TypeSpec{Type: testTripBooked, Kind: KindEvent, Schema: []byte(testTripBookedSchema), SubjectField: "trip_id",
			New: func() any { return new(testTrip) }},
		TypeSpec{Type: testFlightBook, Kind: KindCommand, Worker: "example-flights", Schema: []byte(testFlightBookSchema),
			SubjectField: "trip_id", ResultSchema: []byte(testFlightBookedResultSchema)},
	)
})

// testRegistered registers the test types and returns one valid envelope of each.
func testRegistered(t *testing.T) map[string]Envelope {
	t.Helper()
	if err := registerTestTypes(); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return map[string]Envelope{
		"start": {
			ID: "evt-t1", Source: "example/client", Type: testTripBooked, Subject: "trip-7", Time: fixedTime,
			DataContentType: ContentTypeJSON, DataSchema: "https://example.com/schemas/trip.booked.v1.json",
			Data: json.RawMessage(`{"trip_id":"trip-7","seats":2}`),
		},
		"command": {
			ID: "cmd-t1", Source: "podium/orchestrator", Type: testFlightBook, Subject: "trip-7", Time: fixedTime,
			DataContentType: ContentTypeJSON, SagaID: "trip-7", Step: "book-flight", Attempt: 1,
			IdempotencyKey: "trip-7/book-flight", CausationID: "evt-t1",
			Data: json.RawMessage(`{"trip_id":"trip-7","flight":"LH123","currency":"EUR"}`),
		},
		"reply": {
			ID: "rep-t1", Source: "example/worker/flights", Type: ReplyType(testFlightBook), Subject: "trip-7",
			Time: fixedTime, DataContentType: ContentTypeJSON, SagaID: "trip-7", Step: "book-flight", Attempt: 1,
			CorrelationID: "cmd-t1", Outcome: OutcomeSuccess,
			Data: json.RawMessage(`{"result":{"booking_id":"bk-1"}}`),
		},
	}
}

func TestRegisterRoundTrip(t *testing.T) {
	fx := testRegistered(t)
	for _, name := range sortedNames(fx) {
		e := fx[name]
		for _, r := range []Record{structuredRecord(t, e), binaryRecord(e)} {
			fast, general, fastErr, generalErr := decodeBothWays(r)
			if fastErr != nil || generalErr != nil {
				t.Fatalf("%s: Decode: got %v (general path %v), want success", name, fastErr, generalErr)
			}
			assertEnvelope(t, fast, e)
			assertEnvelope(t, general, e)
		}
	}
	if got, want := CommandTypes("example-flights"), []string{testFlightBook}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("CommandTypes: got %v, want %v", got, want)
	}
	for _, typ := range []string{testTripBooked, testFlightBook, ReplyType(testFlightBook)} {
		if !KnownType(typ) {
			t.Errorf("KnownType(%s): got false, want true", typ)
		}
	}
	// NewEvent names the schema by its $id; a schema without one gets no dataschema.
	for typ, want := range map[string]string{testTripBooked: "https://example.com/schemas/trip.booked.v1.json", testFlightBook: ""} {
		e, err := NewEvent(typ, "trip-7", json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if e.DataSchema != want {
			t.Errorf("NewEvent(%s).DataSchema: got %q, want %q", typ, e.DataSchema, want)
		}
	}
	// The dataschema of a registered type takes the fast path.
	if !knownSchemaURL(fx["start"].DataSchema) {
		t.Errorf("knownSchemaURL(%s): got false, want true", fx["start"].DataSchema)
	}
}

func TestRegisteredDecodeErrors(t *testing.T) {
	fx := testRegistered(t)
	tests := []struct {
		name        string
		r           Record
		field, rule string
	}{
		{"seats below minimum", mutateData(t, fx["start"], func(d map[string]any) { d["seats"] = 0 }), "/seats", "schema: minimum"},
		{"seats missing", mutateData(t, fx["start"], func(d map[string]any) { delete(d, "seats") }), "/seats", "schema: required"},
		{"seats 2.0 (typed payload)", mutate(t, fx["start"], func(m map[string]any) { m["data"] = json.RawMessage(`{"trip_id":"trip-7","seats":2.0}`) }), "/seats", RulePayload},
		{"start subject mismatch", mutate(t, fx["start"], func(m map[string]any) { m["subject"] = "trip-8" }), "subject", RuleSubjectSagaID},
		{"command subject mismatch", mutate(t, fx["command"], func(m map[string]any) { m["subject"] = "trip-8" }), "subject", RuleSubjectSagaID},
		{"command bad currency ($ref defs.v1)", mutateData(t, fx["command"], func(d map[string]any) { d["currency"] = "XYZ" }), "/currency", "schema: format"},
		{"command bad trip_id ($ref defs.v1)", mutateData(t, fx["command"], func(d map[string]any) { d["trip_id"] = "a/b" }), "/trip_id", "schema: pattern"},
		{"command flight pattern", mutateData(t, fx["command"], func(d map[string]any) { d["flight"] = "lh123" }), "/flight", "schema: pattern"},
		{"command without sagaid", mutate(t, fx["command"], func(m map[string]any) { delete(m, ExtSagaID) }), ExtSagaID, "schema: required"},
		{"command without step", mutate(t, fx["command"], func(m map[string]any) { delete(m, ExtStep) }), ExtStep, "schema: required"},
		{"command without attempt", mutate(t, fx["command"], func(m map[string]any) { delete(m, ExtAttempt) }), ExtAttempt, "schema: required"},
		{"command without idempotencykey", mutate(t, fx["command"], func(m map[string]any) { delete(m, ExtIdempotencyKey) }), ExtIdempotencyKey, "schema: required"},
		{"reply without outcome", mutate(t, fx["reply"], func(m map[string]any) { delete(m, ExtOutcome) }), ExtOutcome, "schema: required"},
		{"reply result array", mutate(t, fx["reply"], func(m map[string]any) { m["data"] = map[string]any{"result": []any{}} }), "/result", "schema: type"},
		{"unknown version", mutate(t, fx["start"], func(m map[string]any) { m["type"] = "example.trip.booked.v2" }), "type", RuleUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, fastErr, generalErr := decodeBothWays(tt.r)
			for path, err := range map[string]error{"fast": fastErr, "general": generalErr} {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%s path: got %v, want a *DecodeError", path, err)
				}
				if de.Field != tt.field || de.Rule != tt.rule {
					t.Errorf("%s path: got field %q rule %q, want field %q rule %q (%v)", path, de.Field, de.Rule, tt.field, tt.rule, err)
				}
			}
		})
	}
}

// TestRegisteredFastPath decodes mutations of the registered types' records with and
// without the fast path and requires the same result.
func TestRegisteredFastPath(t *testing.T) {
	fx := testRegistered(t)
	attrs := []string{"type", "subject", "dataschema", ExtSagaID, ExtStep, ExtAttempt, ExtCorrelationID, ExtIdempotencyKey, ExtOutcome}
	values := []any{"", "x", testTripBooked, testFlightBook, ReplyType(testFlightBook), TypeOrderPlaced,
		"https://example.com/schemas/trip.booked.v1.json", "https://example.com/other.json", 1, OutcomeSuccess}
	for name, e := range fx {
		for _, a := range attrs {
			records := []Record{mutate(t, e, func(m map[string]any) { delete(m, a) })}
			for _, v := range values {
				records = append(records, mutate(t, e, func(m map[string]any) { m[a] = v }))
			}
			for i, r := range records {
				fast, general, fastErr, generalErr := decodeBothWays(r)
				if fmt.Sprint(fastErr) != fmt.Sprint(generalErr) || attributesOf(fast) != attributesOf(general) {
					t.Errorf("%s/%s/%d: fast path got %+v, %v; general path %+v, %v", name, a, i, fast, fastErr, general, generalErr)
				}
			}
		}
	}
}

func TestRegisterRejects(t *testing.T) {
	if err := registerTestTypes(); err != nil {
		t.Fatalf("Register: %v", err)
	}
	schema := []byte(`{"type":"object"}`)
	tests := []struct {
		name    string
		specs   []TypeSpec
		want    string // in the error text
		wantDup bool   // errors.Is ErrDuplicateType
	}{
		{"empty name", []TypeSpec{{Kind: KindEvent, Schema: schema}}, "empty", false},
		{"no version", []TypeSpec{{Type: "example.reject.thing", Kind: KindEvent, Schema: schema}}, "version", false},
		{"version 0", []TypeSpec{{Type: "example.reject.thing.v0", Kind: KindEvent, Schema: schema}}, "version", false},
		{"upper case", []TypeSpec{{Type: "Example.reject.v1", Kind: KindEvent, Schema: schema}}, "does not match", false},
		{"too long", []TypeSpec{{Type: strings.Repeat("a", 251) + ".v1", Kind: KindEvent, Schema: schema}}, "limit 250", false},
		{"podium prefix", []TypeSpec{{Type: "podium.reject.thing.v1", Kind: KindEvent, Schema: schema}}, "reserved", false},
		{"reply name", []TypeSpec{{Type: "example.reject.reply.v1", Kind: KindEvent, Schema: schema}}, "reserved for replies", false},
		{"built-in type", []TypeSpec{{Type: TypeOrderPlaced, Kind: KindEvent, Schema: schema}}, "already registered", true},
		{"built-in reply", []TypeSpec{{Type: ReplyType(TypePaymentRefund), Kind: KindEvent, Schema: schema}}, "already registered", true},
		{"registered type", []TypeSpec{{Type: testTripBooked, Kind: KindEvent, Schema: schema}}, "already registered", true},
		{"registered command", []TypeSpec{{Type: testFlightBook, Kind: KindCommand, Worker: "w", Schema: schema}}, "already registered", true},
		{"twice in one call", []TypeSpec{{Type: "example.reject.twice.v1", Kind: KindEvent, Schema: schema}, {Type: "example.reject.twice.v1", Kind: KindEvent, Schema: schema}}, "already registered", true},
		{"command without worker", []TypeSpec{{Type: "example.reject.cmd.v1", Kind: KindCommand, Schema: schema}}, "without worker", false},
		{"worker not a topic name", []TypeSpec{{Type: "example.reject.cmd.v1", Kind: KindCommand, Worker: "a b", Schema: schema}}, "does not match", false},
		{"event with worker", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Worker: "w", Schema: schema}}, "only commands", false},
		{"kind reply", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindReply, Schema: schema}}, "want KindEvent or KindCommand", false},
		{"kind zero", []TypeSpec{{Type: "example.reject.evt.v1", Schema: schema}}, "want KindEvent or KindCommand", false},
		{"no schema", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent}}, "schema is missing", false},
		{"schema not JSON", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Schema: []byte(`{"type":`)}}, "parsing schema", false},
		{"schema not an object", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Schema: []byte(`[]`)}}, "not a JSON object", false},
		{"schema does not compile", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Schema: []byte(`{"type":5}`)}}, "compiling schema", false},
		{"schema $ref outside", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Schema: []byte(`{"$ref":"https://example.com/x.json"}`)}}, "compiling schema", false},
		{"schema relative $id", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Schema: []byte(`{"$id":"x.json"}`)}}, "absolute URI", false},
		{"schema $id of podium", []TypeSpec{{Type: "example.reject.evt.v1", Kind: KindEvent, Schema: []byte(`{"$id":"` + schemas.URL("x.v1") + `"}`)}}, "podium's", false},
		{"one bad spec rejects all", []TypeSpec{{Type: "example.reject.good.v1", Kind: KindEvent, Schema: schema}, {Type: "example.reject.bad", Kind: KindEvent, Schema: schema}}, "version", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Register(tt.specs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if got := errors.Is(err, ErrDuplicateType); got != tt.wantDup {
				t.Errorf("errors.Is(ErrDuplicateType): got %v, want %v (%v)", got, tt.wantDup, err)
			}
		})
	}
	if KnownType("example.reject.good.v1") || KnownType("example.reject.twice.v1") {
		t.Errorf("a rejected call registered a type")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("MustRegister of a duplicate: got no panic, want one")
		}
	}()
	MustRegister(TypeSpec{Type: testTripBooked, Kind: KindEvent, Schema: schema})
}

// concurrentRun numbers the runs of TestRegisterConcurrent (go test -count=N): each
// registers new names.
var concurrentRun atomic.Int64

// TestRegisterConcurrent registers types while other goroutines decode: run with -race.
func TestRegisterConcurrent(t *testing.T) {
	run := concurrentRun.Add(1)
	const writers, perWriter, readers = 4, 25, 4
	order := structuredRecord(t, fixtures()["order-placed"])
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				typ := fmt.Sprintf("example.concurrent.r%d.w%d.n%d.v1", run, w, i)
				err := Register(TypeSpec{Type: typ, Kind: KindCommand, Worker: fmt.Sprintf("example-w%d", w),
					Schema: []byte(`{"type":"object","required":["id"]}`), SubjectField: "id"})
				if err != nil {
					errs <- err
					continue
				}
				e := Envelope{ID: "c", Source: "s", Type: typ, Subject: "x", SagaID: "x", Step: "s", Attempt: 1,
					IdempotencyKey: "x/s", Data: json.RawMessage(`{"id":"x"}`)}
				if err := e.Validate(); err != nil {
					errs <- fmt.Errorf("decoding %s after registering it: %w", typ, err)
				}
			}
		}()
	}
	var readerWG sync.WaitGroup
	for range readers {
		readerWG.Add(1)
		go func() {
			defer readerWG.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := Decode(order); err != nil {
					errs <- err
					return
				}
				_ = CommandTypes("example-w0")
			}
		}()
	}
	wg.Wait()
	close(done)
	readerWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		if got := CommandTypes(fmt.Sprintf("example-w%d", w)); len(got) < perWriter {
			t.Errorf("CommandTypes(example-w%d): got %d types, want at least %d", w, len(got), perWriter)
		}
	}
}

// A registered command's ResultSchema is enforced on its replies: by Decode (the
// orchestrator's side) and by ValidateResult (the worker's, before it replies).
func TestRegisteredResultSchema(t *testing.T) {
	fx := testRegistered(t)
	decode := func(e Envelope) error {
		value, headers, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		_, err = Decode(Record{Topic: "example-flights.replies", Value: value, Headers: headers})
		return err
	}
	if err := decode(fx["reply"]); err != nil {
		t.Fatalf("a reply whose result matches: %v", err)
	}
	bad := fx["reply"]
	bad.Data = json.RawMessage(`{"result":{"booking_id":7}}`)
	var de *DecodeError
	if err := decode(bad); !errors.As(err, &de) || de.Field != "/result/booking_id" {
		t.Errorf("a reply whose result breaks the schema: %v, want a DecodeError on /result/booking_id", err)
	}
	failed := fx["reply"]
	failed.Outcome, failed.Data = OutcomeFailure, json.RawMessage(`{"reason":"no_seats"}`)
	if err := decode(failed); err != nil {
		t.Errorf("a failure reply without a result: %v", err)
	}

	for _, tc := range []struct {
		typ, result string
		ok          bool
	}{
		{testFlightBook, `{"booking_id":"bk-9"}`, true},
		{testFlightBook, `{"booking_id":"x-9"}`, false},
		{testFlightBook, `{}`, false},
		{testFlightBook, `not json`, false},
		{TypeInventoryReserve, `{"anything":1}`, true}, // no result schema
		{"unknown.type.v1", `{}`, true},
	} {
		err := ValidateResult(tc.typ, json.RawMessage(tc.result))
		if (err == nil) != tc.ok {
			t.Errorf("ValidateResult(%s, %s) = %v, want ok %v", tc.typ, tc.result, err, tc.ok)
		}
	}
}
