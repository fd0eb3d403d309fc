package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestQuantile(t *testing.T) {
	sorted := []time.Duration{ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9), ms(10)}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, ms(1)}, {0.1, ms(1)}, {0.11, ms(2)}, {0.5, ms(5)}, {0.9, ms(9)}, {0.91, ms(10)}, {0.99, ms(10)}, {1, ms(10)},
	}
	for _, tc := range tests {
		if got := Quantile(sorted, tc.q); got != tc.want {
			t.Errorf("Quantile(1..10ms, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := Quantile(nil, 0.5); got != 0 {
		t.Errorf("Quantile(nil) = %v, want 0", got)
	}
}

func TestSummarize(t *testing.T) {
	var samples []time.Duration
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		samples = append(samples, ms(float64(i)))
	}
	got := Summarize(samples)
	want := Percentiles{Count: 1000, Min: ms(1), P50: ms(500), P90: ms(900), P99: ms(990), P999: ms(999), Max: ms(1000), Mean: ms(500.5)}
	if got != want {
		t.Errorf("Summarize(1..1000ms) = %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Percentiles{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
	one := Summarize([]time.Duration{ms(7)})
	if one.P50 != ms(7) || one.P999 != ms(7) || one.Count != 1 {
		t.Errorf("Summarize(7ms) = %+v, want every percentile 7ms", one)
	}
}

func TestRatesAndRatios(t *testing.T) {
	tests := []struct {
		name      string
		got, want float64
	}{
		{"rate", Rate(2000, 20*time.Second), 100},
		{"rate of nothing", Rate(5, 0), 0},
		// 1,000 orders/s × 5 round trips each against 10,000 raw round trips/s.
		{"efficiency", EfficiencyRatio(1000, 5, 10000), 0.5},
		{"efficiency without a raw figure", EfficiencyRatio(1000, 5, 0), 0},
		{"per thousand", PerThousand(3, 1500), 2},
		{"per thousand of none", PerThousand(3, 0), 0},
		{"bytes per item", BytesPerItem(10<<20, 20<<20, 2048), 5120},
		{"bytes per item, shrunk", BytesPerItem(20<<20, 10<<20, 2048), 0},
		{"bytes per item, no items", BytesPerItem(0, 10, 0), 0},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis; utime 250 and stime 50 ticks.
	stat := []byte("4242 (podium (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 1000000 2000 18446744073709551615")
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatalf("parseStatCPU: %v", err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseStatCPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"4242 podium S 1", "4242 (p) S 1 2 3", "4242 (p) S 1 2 3 4 5 6 7 8 9 10 x 5 6"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q): got nil, want an error", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := []byte("Name:\tpodium\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n")
	got, err := parseStatusRSS(status)
	if err != nil {
		t.Fatalf("parseStatusRSS: %v", err)
	}
	if want := int64(50 << 20); got != want {
		t.Errorf("parseStatusRSS = %d, want %d", got, want)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("parseStatusRSS without VmRSS: got nil, want an error")
	}
}

func TestParseLoadAvg(t *testing.T) {
	got, err := parseLoadAvg([]byte("0.52 1.10 2.05 2/345 6789\n"))
	if err != nil {
		t.Fatalf("parseLoadAvg: %v", err)
	}
	if want := (LoadAvg{0.52, 1.10, 2.05}); got != want {
		t.Errorf("parseLoadAvg = %v, want %v", got, want)
	}
	if _, err := parseLoadAvg([]byte("1 2")); err == nil {
		t.Error("parseLoadAvg of two numbers: got nil, want an error")
	}
}

func TestMetricSum(t *testing.T) {
	text := `# HELP podium_orchestrator_sagas Sagas held in memory by this instance.
# TYPE podium_orchestrator_sagas gauge
podium_orchestrator_sagas 1234
podium_orchestrator_sagas_total 99
podium_worker_owned_partitions{worker="payment"} 6
podium_worker_owned_partitions{worker="payment",x="}"} 4
podium_worker_owned_partitions_extra{worker="payment"} 100
`
	tests := []struct {
		name  string
		want  float64
		found bool
	}{
		{"podium_orchestrator_sagas", 1234, true},
		{"podium_worker_owned_partitions", 10, true},
		{"podium_missing", 0, false},
	}
	for _, tc := range tests {
		got, found := metricSum(text, tc.name)
		if got != tc.want || found != tc.found {
			t.Errorf("metricSum(%s) = %v, %v; want %v, %v", tc.name, got, found, tc.want, tc.found)
		}
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"default: open loop at 1,000/s", Config{}, []string{"open loop, 1000 orders/s, 1 orchestrator(s)"}},
		{"closed loop", Config{InFlight: 256}, []string{"closed loop, 256 in flight, 1 orchestrator(s)"}},
		{"both and a scaling curve", Config{Rate: 1000, InFlight: 512, Scaling: []int{3, 1, 2}}, []string{
			"open loop, 1000 orders/s, 1 orchestrator(s)",
			"closed loop, 512 in flight, 1 orchestrator(s)",
			"closed loop, 512 in flight, 2 orchestrator(s)",
			"closed loop, 512 in flight, 3 orchestrator(s)",
		}},
		{"restore alone", Config{Restore: 1000}, nil},
		{"a soak runs alone", Config{Soak: 30 * time.Minute, Rate: 800}, []string{"soak, open loop at 800 orders/s, 1 orchestrator(s)"}},
		{"scaling alone defaults to 1,024 in flight", Config{Rate: 100, Scaling: []int{2}}, []string{
			"open loop, 100 orders/s, 1 orchestrator(s)",
			"closed loop, 1024 in flight, 2 orchestrator(s)",
		}},
	}
	for _, tc := range tests {
		var got []string
		for _, r := range tc.cfg.withDefaults().plan() {
			got = append(got, r.String())
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: run %d is %q, want %q", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Binary: "/bin/true"}).Validate(); err != nil {
		t.Errorf("default config: got %v, want nil", err)
	}
	bad := Config{Binary: "/bin/true", Partitions: 4, Orchestrators: 5, Scaling: []int{0}, Mix: "odd", Rate: -1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config: got nil, want errors")
	}
	for _, want := range []string{"orchestrators must be 1..4", "scaling", "mix must be", "must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bad config: error %q does not mention %q", err, want)
		}
	}
	soaks := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"a soak", Config{Soak: 30 * time.Minute, Rate: 800, Retention: 2 * time.Minute, DedupeWindow: 5 * time.Minute}, ""},
		{"a soak with a closed loop", Config{Soak: time.Minute, InFlight: 10}, "a soak runs alone"},
		{"a soak with a restore", Config{Soak: time.Minute, Restore: 10}, "a soak runs alone"},
		{"a soak of one window", Config{Soak: 15 * time.Second}, "at least two windows"},
		{"a negative retention", Config{Retention: -time.Second}, "must not be negative"},
	}
	for _, tc := range soaks {
		tc.cfg.Binary = "/bin/true"
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: got %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	if c := (Config{Soak: time.Minute}).withDefaults(); !c.NoHop || c.SoakInterval != 10*time.Second {
		t.Errorf("soak defaults: got no-hop %v and interval %s, want true and 10s", c.NoHop, c.SoakInterval)
	}
}

func TestWindowArgs(t *testing.T) {
	cfg := Config{Retention: 2 * time.Minute, DedupeWindow: 5 * time.Minute}
	tests := []struct {
		cfg  Config
		role string
		want string
	}{
		{cfg, "orchestrator", "--retention 2m0s --dedupe-window 5m0s"},
		{cfg, "worker", "--processed-retention 5m0s"},
		{cfg, "api", "--retention 2m0s"},
		{cfg, "broker", ""},
		{Config{}, "orchestrator", ""},
		{Config{DedupeWindow: time.Hour}, "orchestrator", "--dedupe-window 1h0m0s"},
	}
	for _, tc := range tests {
		if got := strings.Join(windowArgs(tc.cfg, tc.role), " "); got != tc.want {
			t.Errorf("windowArgs(%s) = %q, want %q", tc.role, got, tc.want)
		}
	}
}
