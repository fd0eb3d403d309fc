package bench

import (
	"maps"
	"testing"
)

func TestParseLabels(t *testing.T) {
	tests := []struct {
		in     string
		labels map[string]string
		rest   string
		ok     bool
	}{
		{`{topic="orders.events"} 12`, map[string]string{"topic": "orders.events"}, " 12", true},
		{`{a="x",topic="p.commands"} 3`, map[string]string{"a": "x", "topic": "p.commands"}, " 3", true},
		{`{a="}{,\"q\"",topic="t"} 1`, map[string]string{"a": `}{,"q"`, "topic": "t"}, " 1", true},
		{`{} 5`, map[string]string{}, " 5", true},
		{`{topic="unterminated} 5`, nil, "", false},
		{`{topic=bare} 5`, nil, "", false},
	}
	for _, tc := range tests {
		labels, rest, ok := parseLabels(tc.in)
		if ok != tc.ok || rest != tc.rest || !maps.Equal(labels, tc.labels) {
			t.Errorf("parseLabels(%q) = %v, %q, %v; want %v, %q, %v", tc.in, labels, rest, ok, tc.labels, tc.rest, tc.ok)
		}
	}
}

func TestParseProduced(t *testing.T) {
	text := `# HELP podium_kafka_produced_bytes_total Bytes of record batches sent.
# TYPE podium_kafka_produced_bytes_total counter
podium_kafka_produced_bytes_total{topic="orders.events"} 1000
podium_kafka_produced_bytes_total{topic="payment.commands"} 2.5e3
podium_kafka_produced_record_bytes_total{topic="orders.events"} 4000
podium_kafka_produced_record_bytes_total{topic="payment.commands"} 9000
podium_kafka_produced_bytes_total_extra{topic="orders.events"} 7
podium_kafka_produced_bytes_totalx 7
`
	got, found := parseProduced(text)
	want := produced{"orders.events": {batch: 1000, record: 4000}, "payment.commands": {batch: 2500, record: 9000}}
	if !found || !maps.Equal(got, want) {
		t.Errorf("parseProduced = %v, %v; want %v, true", got, found, want)
	}
	if got, found := parseProduced("podium_orchestrator_sagas 3\n"); found || len(got) != 0 {
		t.Errorf("parseProduced without the counters = %v, %v; want empty, false", got, found)
	}
}

func TestBytesPerOrder(t *testing.T) {
	before := produced{"orders.placed": {batch: 100, record: 300}, "orders.events": {batch: 50, record: 50}, "idle": {batch: 9, record: 9}}
	after := produced{"orders.placed": {batch: 1100, record: 3300}, "orders.events": {batch: 2050, record: 4050}, "idle": {batch: 9, record: 9},
		"payment.commands": {batch: 1000, record: 2000}}
	tests := []struct {
		name           string
		orders         int64
		batch, record  float64
		placedPerOrder TopicBytes
	}{
		{"ten orders", 10, 400, 900, TopicBytes{Bytes: 1000, RecordBytes: 3000, BytesPerOrder: 100, RecordBytesPerOrder: 300}},
		{"no orders", 0, 0, 0, TopicBytes{Bytes: 1000, RecordBytes: 3000}},
	}
	for _, tc := range tests {
		batch, record, byTopic := bytesPerOrder(before, after, tc.orders)
		if batch != tc.batch || record != tc.record {
			t.Errorf("%s: got %v and %v bytes per order, want %v and %v", tc.name, batch, record, tc.batch, tc.record)
		}
		if got := byTopic["orders.placed"]; got != tc.placedPerOrder {
			t.Errorf("%s: orders.placed: got %+v, want %+v", tc.name, got, tc.placedPerOrder)
		}
		if _, ok := byTopic["idle"]; ok || len(byTopic) != 3 {
			t.Errorf("%s: topics %v: want the three that grew", tc.name, byTopic)
		}
	}
	if got := after.only([]string{"orders.placed", "missing"}); len(got) != 1 || got["orders.placed"].batch != 1100 {
		t.Errorf("only(orders.placed, missing) = %v, want orders.placed alone", got)
	}
}

func TestBytesNote(t *testing.T) {
	tests := []struct {
		exported []string
		want     string
	}{
		{[]string{"orchestrator-1", "payment", selfName}, ""},
		{nil, "not measured: no podium process exports podium_kafka_produced_bytes_total"},
		{[]string{"orchestrator-1"}, "without the load generator's own writes (orders.placed): its process does not export podium_kafka_produced_bytes_total"},
		{[]string{selfName}, "the load generator's writes only: no child process exports podium_kafka_produced_bytes_total"},
	}
	for _, tc := range tests {
		if got := bytesNote(tc.exported); got != tc.want {
			t.Errorf("bytesNote(%v) = %q, want %q", tc.exported, got, tc.want)
		}
	}
}

// TestRequestsPerOrder: the request counters are read from an exposition and turned into
// requests per order of the window; a process without them shows none.
func TestRequestsPerOrder(t *testing.T) {
	text := `# TYPE podium_kafka_produce_requests_total counter
podium_kafka_produce_requests_total 150
podium_kafka_fetch_requests_total 90
podium_kafka_fetch_requests_total_extra 7
`
	to, ok := parseRequests(text)
	if !ok || to != (requestCounts{produce: 150, fetch: 90}) {
		t.Fatalf("parseRequests = %+v, %v; want 150 produce, 90 fetch", to, ok)
	}
	if _, ok := parseRequests("podium_kafka_produced_bytes_total 1\n"); ok {
		t.Error("parseRequests found counters in an exposition without them")
	}
	var pr ProcResult
	pr.setRequests(requestCounts{produce: 50, fetch: 40}, to, 200)
	if pr.ProduceRequestsPerOrder != 0.5 || pr.FetchRequestsPerOrder != 0.25 {
		t.Errorf("per order: produce %v, fetch %v; want 0.5 and 0.25", pr.ProduceRequestsPerOrder, pr.FetchRequestsPerOrder)
	}
	pr = ProcResult{}
	pr.setRequests(requestCounts{}, to, 0)
	if pr.ProduceRequestsPerOrder != 0 || pr.FetchRequestsPerOrder != 0 {
		t.Errorf("no orders in the window: got %+v", pr)
	}
}
