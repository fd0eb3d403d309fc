package events

import (
	"strings"
	"testing"
)

// TestDecodeTraceParentHeader: a record without a traceparent attribute takes the plain W3C
// traceparent Kafka header (a bare OrderPlaced from kcat or an instrumented producer); the
// attribute wins over the header; a header too long is dropped, never a dead letter.
func TestDecodeTraceParentHeader(t *testing.T) {
	const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	withoutAttr := fixtures()["order-placed"]
	withoutAttr.TraceParent = ""
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"bare with header",
			Record{Topic: TopicOrdersPlaced, Value: []byte(orderJSON), Headers: []Header{{Key: "traceparent", Value: []byte(other)}}},
			other},
		{"bare without header", Record{Topic: TopicOrdersPlaced, Value: []byte(orderJSON)}, ""},
		{"bare with a header too long",
			Record{Topic: TopicOrdersPlaced, Value: []byte(orderJSON), Headers: []Header{{Key: "traceparent", Value: []byte(strings.Repeat("0", 513))}}},
			""},
		{"structured attribute wins", withHeader(structuredRecord(t, fixtures()["order-placed"]), other), traceParent},
		{"structured without attribute", withHeader(structuredRecord(t, withoutAttr), other), other},
		{"binary ce_traceparent wins", withHeader(binaryRecord(fixtures()["order-placed"]), other), traceParent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.Topic = TopicOrdersPlaced
			got, err := Decode(tt.rec)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.TraceParent != tt.want {
				t.Errorf("TraceParent: got %q, want %q", got.TraceParent, tt.want)
			}
		})
	}
}

func withHeader(r Record, traceparent string) Record {
	r.Headers = append(r.Headers, Header{Key: HeaderTraceParent, Value: []byte(traceparent)})
	return r
}
