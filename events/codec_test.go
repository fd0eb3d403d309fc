package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func sortedNames(m map[string]Envelope) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestRoundTripStructured(t *testing.T) {
	fx := fixtures()
	for _, name := range sortedNames(fx) {
		e := fx[name]
		t.Run(name, func(t *testing.T) {
			r := structuredRecord(t, e)
			if got, want := len(r.Headers), 1; got != want {
				t.Fatalf("headers: got %d, want %d", got, want)
			}
			if got, want := r.Headers[0], (Header{HeaderContentType, []byte(ContentTypeCloudEvents)}); got.Key != want.Key || string(got.Value) != string(want.Value) {
				t.Errorf("header: got %s=%s, want %s=%s", got.Key, got.Value, want.Key, want.Value)
			}
			got, err := Decode(r)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := e
			if want.DataContentType == "" {
				want.DataContentType = ContentTypeJSON // Encode's default
			}
			assertEnvelope(t, got, want)
		})
	}
}

func TestRoundTripBinary(t *testing.T) {
	fx := fixtures()
	for _, name := range sortedNames(fx) {
		e := fx[name]
		t.Run(name, func(t *testing.T) {
			r := binaryRecord(e)
			got, err := Decode(r)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertEnvelope(t, got, e)
			if len(got.Data) > 0 && &got.Data[0] == &r.Value[0] {
				t.Errorf("Data aliases the record value")
			}
		})
	}
}

func TestDecodeBinaryCaseInsensitiveHeaders(t *testing.T) {
	e := fixtures()["command-reserve"]
	r := binaryRecord(e)
	for i := range r.Headers {
		r.Headers[i].Key = strings.ToUpper(r.Headers[i].Key)
	}
	got, err := Decode(r)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	assertEnvelope(t, got, e)
}

func TestDecodeBare(t *testing.T) {
	r := Record{Topic: TopicOrdersPlaced, Partition: 4, Offset: 99, Key: []byte("ord-1001"), Value: []byte(orderJSON)}
	got, err := Decode(r)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := Envelope{
		ID: got.ID, Source: SourceBare, Type: TypeOrderPlaced, Subject: "ord-1001",
		DataContentType: ContentTypeJSON, DataSchema: schemas.URL("order.placed.v1"), Data: json.RawMessage(orderJSON),
	}
	assertEnvelope(t, got, want)

	again, err := Decode(r)
	if err != nil {
		t.Fatalf("Decode again: %v", err)
	}
	if again.ID != got.ID {
		t.Errorf("ID of the same record: got %s then %s, want equal", got.ID, again.ID)
	}
	r.Offset++
	next, err := Decode(r)
	if err != nil {
		t.Fatalf("Decode next offset: %v", err)
	}
	if next.ID == got.ID {
		t.Errorf("ID of another offset: got %s for both, want different", got.ID)
	}

	var o OrderPlaced
	if err := got.DecodeData(&o); err != nil {
		t.Fatalf("DecodeData: %v", err)
	}
	if got, want := o.Total, int64(3998); got != want {
		t.Errorf("Total: got %d, want %d", got, want)
	}

	// A JSON content type is fine.
	r.Headers = []Header{{HeaderContentType, []byte("application/json; charset=utf-8")}}
	if _, err := Decode(r); err != nil {
		t.Errorf("Decode with content-type application/json: %v", err)
	}
}

func TestDecodeStructuredWithoutHeader(t *testing.T) {
	for _, topic := range []string{TopicOrdersPlaced, "inventory.commands"} {
		e := fixtures()["order-placed"]
		r := structuredRecord(t, e)
		r.Topic, r.Headers = topic, nil
		got, err := Decode(r)
		if err != nil {
			t.Fatalf("%s: Decode: %v", topic, err)
		}
		assertEnvelope(t, got, e)
	}
}

func TestGoldenStructured(t *testing.T) {
	fx := fixtures()
	for _, name := range sortedNames(fx) {
		t.Run(name, func(t *testing.T) {
			value, _, err := Encode(fx[name])
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(value, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run go test -update to create it): %v", err)
			}
			if got := append(value, '\n'); !bytes.Equal(got, want) {
				t.Errorf("encoded %s:\n got %s\nwant %s", name, got, want)
			}
			// The golden file decodes back to the fixture.
			dec, err := Decode(Record{Topic: "golden", Value: bytes.TrimSpace(want), Headers: []Header{{HeaderContentType, []byte(ContentTypeCloudEvents)}}})
			if err != nil {
				t.Fatalf("Decode golden: %v", err)
			}
			if got, want := dec.ID, fx[name].ID; got != want {
				t.Errorf("decoded ID: got %s, want %s", got, want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := fixtures()["control-cancel"]
	tests := []struct {
		name   string
		modify func(*Envelope)
		want   string
	}{
		{"no id", func(e *Envelope) { e.ID = "" }, "attribute id is required"},
		{"no source", func(e *Envelope) { e.Source = "" }, "attribute source is required"},
		{"no type", func(e *Envelope) { e.Type = "" }, "attribute type is required"},
		{"invalid data", func(e *Envelope) { e.Data = json.RawMessage(`{"a":`) }, "encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.modify(&e)
			_, _, err := Encode(e)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode error: got %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewEvent(t *testing.T) {
	before := time.Now().UTC()
	e, err := NewEvent(TypeOrderCancel, "ord-1", ControlRequest{OrderID: "ord-1", Reason: "changed my mind"})
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	if e.ID == "" || e.Source != SourcePodium || e.Type != TypeOrderCancel || e.Subject != "ord-1" {
		t.Errorf("attributes: got %+v, want a new ID, source podium, the type and subject", attributesOf(e))
	}
	if got, want := e.DataSchema, schemas.URL("order.control.v1"); got != want {
		t.Errorf("DataSchema: got %s, want %s", got, want)
	}
	if e.Time.Before(before) || e.Time.Location() != time.UTC {
		t.Errorf("Time: got %v, want now in UTC", e.Time)
	}
	if got, want := string(e.Data), `{"order_id":"ord-1","reason":"changed my mind"}`; got != want {
		t.Errorf("Data: got %s, want %s", got, want)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	other, err := NewEvent(TypeOrderCancel, "ord-1", nil)
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	if other.ID == e.ID {
		t.Errorf("IDs of two events: both %s, want different", e.ID)
	}
	if _, err := NewEvent(TypeOrderCancel, "ord-1", func() {}); err == nil {
		t.Errorf("NewEvent with unencodable data: got nil error, want one")
	}
}

func TestDecodeData(t *testing.T) {
	var c ControlRequest
	if err := (Envelope{Type: TypeOrderCancel}).DecodeData(&c); err == nil {
		t.Errorf("DecodeData without data: got nil error, want one")
	}
	e := fixtures()["control-cancel"]
	if err := e.DecodeData(&c); err != nil {
		t.Fatalf("DecodeData: %v", err)
	}
	if got, want := c, (ControlRequest{OrderID: "ord-1001", Reason: "customer request", RequestedBy: "ops@example.com"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestReplyType(t *testing.T) {
	tests := []struct{ in, want string }{
		{TypeInventoryReserve, "podium.inventory.reserve.reply.v1"},
		{TypeNotificationCancellation, "podium.notification.send-cancellation-notice.reply.v1"},
		{"podium.inventory.reserve.v12", "podium.inventory.reserve.reply.v12"},
		{"podium.inventory.reserve", "podium.inventory.reserve.reply"},
		{"podium.x.vip", "podium.x.vip.reply"},
	}
	for _, tt := range tests {
		if got := ReplyType(tt.in); got != tt.want {
			t.Errorf("ReplyType(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommandTypes(t *testing.T) {
	want := map[string][]string{
		"inventory":    {TypeInventoryRelease, TypeInventoryReserve, TypeInventoryRestock, TypeInventoryUndoRestock},
		"payment":      {TypePaymentAuthorize, TypePaymentCancelRefund, TypePaymentRefund, TypePaymentVoid},
		"seller":       {TypeSellerCancelPreparation, TypeSellerPrepareShipment},
		"shipping":     {TypeShippingAssignDelivery, TypeShippingCancelDelivery, TypeShippingCancelPickup, TypeShippingSchedulePickup},
		"notification": {TypeNotificationCancellation, TypeNotificationConfirmation, TypeNotificationRefundNotice},
		"nobody":       nil,
	}
	for worker, w := range want {
		if got := CommandTypes(worker); strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("CommandTypes(%s): got %v, want %v", worker, got, w)
		}
	}
	for _, worker := range Workers {
		if _, ok := want[worker]; !ok {
			t.Errorf("worker %s: no expectation", worker)
		}
	}
}

// TestTypeRegistry checks every built-in type against the schemas: its data schema
// exists, commands and replies are recognised as such by the envelope schema, and its
// payload carries the saga ID that the subject must equal (except replies).
func TestTypeRegistry(t *testing.T) {
	types := registered().types
	if got, want := len(types), len(builtinEvents)+2*len(builtinCommands); got < want {
		t.Fatalf("known types: got %d, want at least %d", got, want)
	}
	for typ, spec := range types {
		if spec.compiled != nil {
			continue // registered by a test
		}
		if _, err := schemas.Schema(spec.schema); err != nil {
			t.Errorf("%s: schema %s: %v", typ, spec.schema, err)
		}
		if got, want := spec.subject != "", spec.kind != KindReply; got != want {
			t.Errorf("%s: has a subject field: got %v, want %v", typ, got, want)
		}
		if spec.subject != "" {
			// The payload's member of that name is required by the schema.
			err := schemas.Validate(spec.schema, map[string]any{})
			if err == nil || !strings.Contains(err.Error(), "/"+spec.subject+": required") {
				t.Errorf("%s: schema without %s: got %v, want a required error", typ, spec.subject, err)
			}
		}
		var required []string
		switch spec.kind {
		case KindCommand:
			required = []string{ExtSagaID, ExtStep, ExtIdempotencyKey, ExtAttempt}
		case KindReply:
			required = []string{ExtCorrelationID, ExtOutcome}
		}
		attrs := map[string]any{"specversion": "1.0", "id": "x", "source": "s", "type": typ, "subject": "o", "data": true}
		if err := schemas.Validate(schemas.Envelope, attrs); (err == nil) != (required == nil) {
			t.Errorf("%s (%v) without extensions: got %v, want an error %v", typ, spec.kind, err, required != nil)
		}
		for _, ext := range required {
			attrs := map[string]any{"specversion": "1.0", "id": "x", "source": "s", "type": typ, "subject": "o", "data": true,
				ExtSagaID: "s", ExtStep: "st", ExtIdempotencyKey: "k", ExtAttempt: 1, ExtCorrelationID: "c", ExtOutcome: OutcomeSuccess}
			if err := schemas.Validate(schemas.Envelope, attrs); err != nil {
				t.Fatalf("%s: complete attributes: %v", typ, err)
			}
			delete(attrs, ext)
			if err := schemas.Validate(schemas.Envelope, attrs); err == nil || !strings.Contains(err.Error(), "/"+ext+": required") {
				t.Errorf("%s without %s: got %v, want a required error", typ, ext, err)
			}
		}
	}
}

func TestDecodeErrorString(t *testing.T) {
	tests := []struct {
		err  DecodeError
		want string
	}{
		{DecodeError{Topic: "orders.placed", Partition: 3, Offset: 17, Field: "/items/0/quantity", Rule: "schema: minimum", Err: errors.New("must be >= 1, got 0")},
			"orders.placed[3]@17: /items/0/quantity: schema: minimum: must be >= 1, got 0"},
		{DecodeError{Topic: "t", Rule: RuleTooLarge}, "t[0]@0: record too large"},
		{DecodeError{Field: "/total", Rule: RuleTotal, Err: errors.New("got 1, want 2")}, "/total: total equals sum of lines: got 1, want 2"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error(): got %q, want %q", got, tt.want)
		}
	}
	inner := errors.New("inner")
	if got := (&DecodeError{Err: inner}).Unwrap(); got != inner {
		t.Errorf("Unwrap: got %v, want %v", got, inner)
	}
}

func TestValidateOrderPlaced(t *testing.T) {
	o, err := ValidateOrderPlaced(json.RawMessage(orderJSON))
	if err != nil {
		t.Fatalf("valid order: %v", err)
	}
	if got, want := o.ShippingAddress.Country, "DE"; got != want {
		t.Errorf("Country: got %s, want %s", got, want)
	}

	// Several schema problems are all reported.
	bad := strings.NewReplacer(`"quantity":2`, `"quantity":0`, `"EUR"`, `"EUX"`, `"DE"`, `"XX"`).Replace(orderJSON)
	_, err = ValidateOrderPlaced(json.RawMessage(bad))
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error: got %v, want a *DecodeError", err)
	}
	for _, field := range []string{"/currency", "/items/0/quantity", "/shipping_address/country"} {
		if !strings.Contains(err.Error(), field+": schema:") {
			t.Errorf("error %q: want it to mention %s", err, field)
		}
	}
	if de.Topic != "" {
		t.Errorf("Topic: got %q, want none", de.Topic)
	}

	// The total rule.
	_, err = ValidateOrderPlaced(json.RawMessage(strings.Replace(orderJSON, `"total":3998`, `"total":3999`, 1)))
	if !errors.As(err, &de) || de.Field != "/total" || de.Rule != RuleTotal {
		t.Errorf("wrong total: got %v, want /total: %s", err, RuleTotal)
	}

	// Too large.
	_, err = ValidateOrderPlaced(make(json.RawMessage, MaxRecordSize+1))
	if !errors.As(err, &de) || de.Rule != RuleTooLarge {
		t.Errorf("too large: got %v, want %s", err, RuleTooLarge)
	}
}

func TestCheckedArithmetic(t *testing.T) {
	const max, min = int64(1<<63 - 1), int64(-1 << 63)
	mul := []struct {
		a, b, want int64
		ok         bool
	}{
		{0, max, 0, true}, {2, 3, 6, true}, {10000, max / 10000, max / 10000 * 10000, true},
		{10000, max/10000 + 1, 0, false}, {-1, min, 0, false}, {min, -1, 0, false}, {-2, 3, -6, true},
	}
	for _, tt := range mul {
		if got, ok := mul64(tt.a, tt.b); got != tt.want || ok != tt.ok {
			t.Errorf("mul64(%d, %d): got %d, %v, want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
	add := []struct {
		a, b, want int64
		ok         bool
	}{
		{max, 0, max, true}, {max, 1, 0, false}, {min, -1, 0, false}, {min, max, -1, true},
	}
	for _, tt := range add {
		if got, ok := add64(tt.a, tt.b); got != tt.want || ok != tt.ok {
			t.Errorf("add64(%d, %d): got %d, %v, want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkDecodeStructured(b *testing.B) {
	e := fixtures()["order-placed"]
	value, headers, err := Encode(e)
	if err != nil {
		b.Fatal(err)
	}
	r := Record{Topic: TopicOrdersPlaced, Value: value, Headers: headers}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCommand(b *testing.B) {
	e := fixtures()["command-reserve"]
	value, headers, err := Encode(e)
	if err != nil {
		b.Fatal(err)
	}
	r := Record{Topic: "inventory.commands", Value: value, Headers: headers}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodeConcurrently(t *testing.T) {
	fx := fixtures()
	var records []Record
	for _, name := range sortedNames(fx) {
		records = append(records, structuredRecord(t, fx[name]), binaryRecord(fx[name]))
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for _, r := range records {
				if _, e := Decode(r); e != nil && err == nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("Decode: %v", err)
		}
	}
}
