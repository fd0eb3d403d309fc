package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	hop := &HopResult{InFlight: 1024, RoundTripsSec: 10000, Latency: Percentiles{P50: ms(40), P99: ms(90)}, CPUPerRoundTrip: 95 * time.Microsecond}
	r := &Report{
		Started: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC),
		Machine: Machine{CPUs: 2, CPUModel: "AMD EPYC", GoVersion: "go1.26"},
		Runs: []RunResult{
			{Mode: "open", Rate: 1000, Orchestrators: 1, Mix: MixHappy, OrdersPerSec: 1000, CommandsPerOrder: 5,
				BytesPerOrder: 12800, RecordBytesPerOrder: 900, BytesByTopic: map[string]TopicBytes{
					"orders.events": {Bytes: 8000000, RecordBytes: 600000, BytesPerOrder: 12800, RecordBytesPerOrder: 900}},
				Latency: Percentiles{Count: 20000, P50: ms(9), P90: ms(20), P99: ms(80), P999: ms(150)},
				Hop:     hop, HopSingle: &HopResult{InFlight: 1, RoundTripsSec: 900, CPUPerRoundTrip: 420 * time.Microsecond},
				HopIsolated: &HopResult{InFlight: 1, RoundTripsSec: 20, Latency: Percentiles{P50: ms(2), P99: ms(5)}, Pace: ms(50)}, Efficiency: 0.5, SagasInMemory: 23000, BytesPerSaga: 4000,
				Processes: []ProcResult{{Name: "broker", Role: "broker", CPUSecondsPer1000: 0.4, Cores: 0.4}, {Name: "orchestrator-1", Role: "orchestrator", Cores: 0.6}}},
			{Mode: "closed", InFlight: 1024, Orchestrators: 1, Mix: MixHappy, OrdersPerSec: 1500, CommandsPerOrder: 5,
				Hop: hop, Efficiency: 0.75, SagasInMemory: 30000, BytesPerSaga: 6000, BytesNote: bytesNote(nil)},
		},
		Restore: &RestoreResult{Sagas: 100000, SagasPerSec: 60000, RestoreSeconds: 1.6, BytesPerSaga: 2000},
	}
	r.Targets = r.targets()
	r.Soak = &SoakResult{Rate: 800, Seconds: 60, IntervalSeconds: 10} // after the targets: a soak has none
	return r
}

func TestTargets(t *testing.T) {
	got := map[string]Target{}
	for _, tg := range sampleReport().Targets {
		got[tg.Name] = tg
	}
	tests := []struct {
		name string
		met  bool
		got  string
	}{
		{"sustained orders/s, all five steps", false, "1500"},
		{"p50 at 1000 orders/s", true, "9.00ms"},
		{"p99 at 1000 orders/s", true, "80.0ms"},
		{"efficiency ratio", true, "0.75"},
		{"restore speed", true, "60000 sagas/s"},
		{"resident memory per active saga", false, "5.9 KB"},
	}
	for _, tc := range tests {
		tg, ok := got[tc.name]
		if !ok {
			t.Errorf("target %q missing", tc.name)
			continue
		}
		if tg.Met != tc.met || tg.Got != tc.got || !tg.Present {
			t.Errorf("target %q: got met=%v got=%q measured=%v, want met=%v got=%q measured=true", tc.name, tg.Met, tg.Got, tg.Present, tc.met, tc.got)
		}
	}
}

func TestSoakHasNoTargets(t *testing.T) {
	r := &Report{Runs: []RunResult{{Mode: "soak", Rate: 800, Mix: MixHappy, OrdersPerSec: 800}}, Soak: &SoakResult{Rate: 800}}
	if got := r.targets(); len(got) != 0 {
		t.Errorf("targets of a soak: got %+v, want none", got)
	}
}

func TestMarkdownAndJSON(t *testing.T) {
	r := sampleReport()
	md := r.Markdown()
	for _, want := range []string{
		"| target | want | got | met |",
		"| sustained orders/s, all five steps | ≥ 2,000 | 1500 | **no** |",
		"| open 1000/s | 1 | 1000 | 9.00ms | 20.0ms | 80.0ms | 150.0ms |",
		"| closed 1024 in flight | 1 | 1500 |",
		"| broker | 0.400 | 0.40 |",
		"| 100000 |",
		"| open 1000/s | 1, one every 50.0ms (idle between) | 20 | 2.00ms | 5.00ms | - |  |",
		"| open 1000/s | 1 | 900 | - | - | 420µs |  |",
		"| open 1000/s | 1024 | 10000 | 40.0ms | 90.0ms | 95µs | - |",
		"| 5.00 | 0.0 | 12.5 KiB | 900 B |",
		"| orders.events | 12.5 KiB | 900 B |",
		"- closed 1024 in flight: bytes per order not measured: no podium process exports podium_kafka_produced_bytes_total",
		"#### Soak: 800 orders/s for 1m, one sample every 10s",
		"soak verdict: FAIL",
		"![soak: throughput, latency and resident memory over time](soak.svg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("the report's JSON does not decode: %v", err)
	}
	if back.Runs[0].BytesPerOrder != 12800 || back.Runs[0].BytesByTopic["orders.events"].RecordBytesPerOrder != 900 || back.Soak == nil {
		t.Errorf("JSON round trip: got bytes per order %v, topics %v, soak %v; want 12800, orders.events 900 record bytes, a soak",
			back.Runs[0].BytesPerOrder, back.Runs[0].BytesByTopic, back.Soak)
	}
	if back.Runs[0].Latency.P99 != ms(80) || back.Restore.SagasPerSec != 60000 {
		t.Errorf("JSON round trip: got p99 %v and restore %v, want 80ms and 60000", back.Runs[0].Latency.P99, back.Restore.SagasPerSec)
	}
}
