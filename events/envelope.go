package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// CloudEvents attribute values and Kafka binding names.
const (
	// SpecVersion is the CloudEvents specversion podium writes and accepts.
	SpecVersion = "1.0"
	// SourcePodium is the source of events built by NewEvent.
	SourcePodium = "podium"
	// SourceBare is the source given to a bare OrderPlaced read from orders.placed.
	SourceBare = "podium/bare"
	// ContentTypeCloudEvents is the content-type header of a structured-mode record.
	ContentTypeCloudEvents = "application/cloudevents+json"
	// ContentTypeJSON is the datacontenttype of every podium event.
	ContentTypeJSON = "application/json"
	// HeaderContentType is the Kafka header that carries the content type.
	HeaderContentType = "content-type"
	// BinaryHeaderPrefix starts the name of every attribute header in binary mode (ce_id, ce_type, ...).
	BinaryHeaderPrefix = "ce_"
	// HeaderTraceParent is the plain W3C trace-context Kafka header (what OpenTelemetry's
	// Kafka instrumentations write). Decode reads it into Envelope.TraceParent when the
	// record has no traceparent attribute: a bare OrderPlaced has none.
	HeaderTraceParent = "traceparent"
	// MaxRecordSize is the largest record value Decode accepts (1 MiB); larger values are
	// rejected before they are parsed.
	MaxRecordSize = 1 << 20
)

// CloudEvents extension attributes used by podium.
const (
	// ExtSagaID is the saga instance ID (commands, replies).
	ExtSagaID = "sagaid"
	// ExtStep is the saga step name a command or reply belongs to.
	ExtStep = "step"
	// ExtAttempt is the attempt number of a command, from 1 (integer).
	ExtAttempt = "attempt"
	// ExtCorrelationID is, on replies, the ID of the command answered.
	ExtCorrelationID = "correlationid"
	// ExtCausationID is the ID of the event that caused this one.
	ExtCausationID = "causationid"
	// ExtIdempotencyKey is stable across the attempts of a command: "<saga>/<step>" or "<saga>/<step>/undo".
	ExtIdempotencyKey = "idempotencykey"
	// ExtOutcome is, on replies, the outcome: OutcomeSuccess, OutcomeFailure or OutcomeError.
	ExtOutcome = "outcome"
	// ExtTraceParent is the W3C trace context of the event.
	ExtTraceParent = "traceparent"
)

// Reply outcomes (the outcome extension).
const (
	// OutcomeSuccess: the step's effect happened.
	OutcomeSuccess = "success"
	// OutcomeFailure: a business failure (out_of_stock, card_declined): not retried.
	OutcomeFailure = "failure"
	// OutcomeError: a technical error: the orchestrator retries the command.
	OutcomeError = "error"
)

// Envelope is a CloudEvents 1.0 event. Zero values mean "absent".
type Envelope struct {
	ID, Source, Type, Subject string
	Time                      time.Time
	DataContentType           string // "application/json"
	DataSchema                string // the URL of the data's schema
	SagaID                    string // ext sagaid
	Step                      string // ext step
	Attempt                   int    // ext attempt (0 = absent)
	CorrelationID             string // ext correlationid: on replies, the command ID answered
	CausationID               string // ext causationid
	IdempotencyKey            string // ext idempotencykey
	Outcome                   string // ext outcome: "success" | "failure" | "error" (replies only)
	TraceParent               string // ext traceparent (W3C)
	Data                      json.RawMessage
	// Payload is Data decoded, set by Decode: a pointer to the payload struct of the type
	// (*Reply for every reply type, *ReserveInventory for TypeInventoryReserve, ... as each
	// type's constant says; for a registered type, what its TypeSpec.New returns), so that a
	// reader uses it instead of decoding Data again. nil for a registered type without New
	// and for envelopes not made by Decode (NewEvent, literals). Encode ignores it: Data is
	// what goes on the wire, and changing Data does not change Payload. Copies of an
	// envelope share the payload: treat it as read-only.
	Payload any
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is a Kafka record as the codec sees it, independent of any client library.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
}

// NewEvent builds an envelope of type typ about subject (the saga ID: the order ID of an
// order saga) with a new uuid ID, Source "podium", Time now (UTC), DataContentType
// application/json, DataSchema the URL of the type's schema (if the type is known and its
// schema has one) and data encoded with encoding/json (pass a
// json.RawMessage for pre-encoded data). It does not validate: Decode does.
func NewEvent(typ, subject string, data any) (Envelope, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("encoding %s data: %w", typ, err)
	}
	e := Envelope{
		ID:              uuid.NewString(),
		Source:          SourcePodium,
		Type:            typ,
		Subject:         subject,
		Time:            time.Now().UTC(),
		DataContentType: ContentTypeJSON,
		Data:            raw,
	}
	if s, ok := lookup(typ); ok {
		e.DataSchema = s.dataSchemaURL()
	}
	return e, nil
}

// DecodeData unmarshals e.Data into v (no validation beyond JSON).
func (e Envelope) DecodeData(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("decoding %s data: %w", e.Type, errNoData)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decoding %s data: %w", e.Type, err)
	}
	return nil
}

var errNoData = errors.New("event has no data")

// structured is the structured-mode JSON form; field order is the encoded order.
type structured struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	SagaID          string          `json:"sagaid,omitempty"`
	Step            string          `json:"step,omitempty"`
	Attempt         int             `json:"attempt,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	IdempotencyKey  string          `json:"idempotencykey,omitempty"`
	Outcome         string          `json:"outcome,omitempty"`
	TraceParent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// Encode writes e in structured mode: value is one JSON document, headers are
// [content-type: application/cloudevents+json]. It requires ID, Source and Type and
// JSON data, and defaults DataContentType to application/json when there is data; the full
// validation is Decode's (see Envelope.Validate).
func Encode(e Envelope) (value []byte, headers []Header, err error) {
	var missing []error
	for _, a := range [...]struct{ name, value string }{{"id", e.ID}, {"source", e.Source}, {"type", e.Type}} {
		if a.value == "" {
			missing = append(missing, fmt.Errorf("attribute %s is required", a.name))
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("encoding event: %w", errors.Join(missing...))
	}
	s := structured{
		SpecVersion:     SpecVersion,
		ID:              e.ID,
		Source:          e.Source,
		Type:            e.Type,
		Subject:         e.Subject,
		DataContentType: e.DataContentType,
		DataSchema:      e.DataSchema,
		SagaID:          e.SagaID,
		Step:            e.Step,
		Attempt:         e.Attempt,
		CorrelationID:   e.CorrelationID,
		CausationID:     e.CausationID,
		IdempotencyKey:  e.IdempotencyKey,
		Outcome:         e.Outcome,
		TraceParent:     e.TraceParent,
		Data:            e.Data,
	}
	if !e.Time.IsZero() {
		s.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if len(e.Data) > 0 && s.DataContentType == "" {
		s.DataContentType = ContentTypeJSON
	}
	value, ok := appendStructured(make([]byte, 0, 512+len(e.Data)), &s)
	if !ok {
		return nil, nil, fmt.Errorf("encoding %s event %s: the data is not JSON", e.Type, e.ID)
	}
	return value, []Header{{Key: HeaderContentType, Value: []byte(ContentTypeCloudEvents)}}, nil
}

// Validate checks e as Decode checks a record: it encodes e and decodes the result. It
// returns nil, a *DecodeError (without record position), or an Encode error.
func (e Envelope) Validate() error {
	value, headers, err := Encode(e)
	if err != nil {
		return err
	}
	_, err = Decode(Record{Value: value, Headers: headers})
	return err
}
