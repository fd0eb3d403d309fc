package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/internal/sample"
)

func TestWindowStats(t *testing.T) {
	tests := []struct {
		name      string
		latencies []time.Duration
		d         time.Duration
		rate      float64
		p50, p99  time.Duration
	}{
		{"empty window", nil, 10 * time.Second, 0, 0, 0},
		{"one order", []time.Duration{ms(7)}, 10 * time.Second, 0.1, ms(7), ms(7)},
		{"ten orders, unsorted", []time.Duration{ms(10), ms(1), ms(9), ms(2), ms(8), ms(3), ms(7), ms(4), ms(6), ms(5)},
			5 * time.Second, 2, ms(5), ms(10)},
		{"a slow tail", append(repeat(ms(3), 990), repeat(ms(200), 10)...), 10 * time.Second, 100, ms(3), ms(3)},
		{"a slower tail", append(repeat(ms(3), 989), repeat(ms(200), 11)...), 10 * time.Second, 100, ms(3), ms(200)},
	}
	for _, tc := range tests {
		rate, p50, p99 := windowStats(tc.latencies, tc.d)
		if rate != tc.rate || p50 != tc.p50 || p99 != tc.p99 {
			t.Errorf("%s: got %v/s p50 %v p99 %v, want %v/s p50 %v p99 %v", tc.name, rate, p50, p99, tc.rate, tc.p50, tc.p99)
		}
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestMemoryRule(t *testing.T) {
	tests := []struct {
		length          time.Duration
		reference, from time.Duration
		scaled          bool
	}{
		{30 * time.Minute, 10 * time.Minute, 20 * time.Minute, false},
		{20 * time.Minute, 10 * time.Minute, 10 * time.Minute, false},
		{2 * time.Hour, 10 * time.Minute, 110 * time.Minute, false},
		{19 * time.Minute, 19 * time.Minute / 3, 19 * time.Minute / 2, true},
		{60 * time.Second, 20 * time.Second, 30 * time.Second, true},
	}
	for _, tc := range tests {
		ref, from, scaled := memoryRule(tc.length)
		if ref != tc.reference || from != tc.from || scaled != tc.scaled {
			t.Errorf("memoryRule(%s) = %s, %s, %v; want %s, %s, %v", tc.length, ref, from, scaled, tc.reference, tc.from, tc.scaled)
		}
	}
}

// soakSamples makes n samples every interval; rate and rss give each sample's orders/s and
// resident sizes from its time.
func soakSamples(interval time.Duration, n int, rate func(t float64) float64, rss func(t float64) map[string]int64) []SoakSample {
	out := make([]SoakSample, n)
	for i := range out {
		ts := (time.Duration(i+1) * interval).Seconds()
		out[i] = SoakSample{T: ts, OrdersPerSec: rate(ts), Finished: int64(rate(ts) * interval.Seconds()), P50: 10, P99: 40, RSS: rss(ts)}
	}
	return out
}

func steady(float64) float64 { return 800 }

// flatRSS is three processes whose memory grows until minute 5 and is flat afterwards.
func flatRSS(t float64) map[string]int64 {
	grow := min(t/300, 1)
	return map[string]int64{
		"broker":         int64((100 + 50*grow) * (1 << 20)),
		"orchestrator-1": int64((40 + 20*grow) * (1 << 20)),
		"bench":          30 << 20,
	}
}

// with changes process name's resident size after minute `after` by factor.
func with(name string, after, factor float64) func(float64) map[string]int64 {
	return func(t float64) map[string]int64 {
		m := flatRSS(t)
		if t > after {
			m[name] = int64(float64(m[name]) * factor)
		}
		return m
	}
}

func TestVerdict(t *testing.T) {
	const interval = 10 * time.Second
	good := soakInput{length: 30 * time.Minute, interval: interval, rate: 800, placed: 1440000, terminal: 1440000}
	counts := func(placed, terminal, pending, mismatch int64) verdictCase {
		return verdictCase{soakInput: soakInput{placed: placed, terminal: terminal, pending: pending, mismatch: mismatch}}
	}
	rssCase := func(rss func(float64) map[string]int64) verdictCase { return verdictCase{rss: rss} }
	rateCase := func(rate func(float64) float64) verdictCase { return verdictCase{rateAt: rate} }
	tests := []struct {
		name                           string
		c                              verdictCase
		pass, correct, memory, through bool
		failing                        []string // processes that fail the memory check
		lowest                         float64
		scaled                         bool
	}{
		{name: "steady 30 minutes", pass: true, correct: true, memory: true, through: true, lowest: 800},
		{name: "an order unfinished", c: counts(10, 9, 1, 0), memory: true, through: true, lowest: 800},
		{name: "a wrong outcome", c: counts(10, 10, 0, 1), memory: true, through: true, lowest: 800},
		{name: "nothing placed", c: counts(-1, 0, 0, 0), memory: true, through: true, lowest: 800},
		{name: "the orchestrator grows 20 % after minute 25", c: rssCase(with("orchestrator-1", 1500, 1.2)),
			correct: true, through: true, failing: []string{"orchestrator-1"}, lowest: 800},
		{name: "the broker shrinks 16 %", c: rssCase(with("broker", 1500, 0.84)),
			correct: true, through: true, failing: []string{"broker"}, lowest: 800},
		{name: "exactly +15 % passes", c: rssCase(with("bench", 1500, 1.15)),
			pass: true, correct: true, memory: true, through: true, lowest: 800},
		{name: "growth before the reference does not count", c: rssCase(with("bench", 590, 3)),
			pass: true, correct: true, memory: true, through: true, lowest: 800},
		{name: "the API exits at minute 25", c: rssCase(func(t float64) map[string]int64 {
			m := flatRSS(t)
			if t < 1500 {
				m["api"] = 50 << 20
			}
			return m
		}), correct: true, through: true, failing: []string{"api"}, lowest: 800},
		{name: "a slow first window is warm-up", c: rateCase(func(t float64) float64 {
			if t <= 10 {
				return 100
			}
			return 800
		}), pass: true, correct: true, memory: true, through: true, lowest: 800},
		{name: "one window at 85 %", c: rateCase(func(t float64) float64 {
			if t == 500 {
				return 680
			}
			return 800
		}), correct: true, memory: true, lowest: 680},
		{name: "one window at exactly 90 %", c: rateCase(func(t float64) float64 {
			if t == 500 {
				return 720
			}
			return 800
		}), pass: true, correct: true, memory: true, through: true, lowest: 720},
		{name: "a 40-second smoke run is judged scaled", c: verdictCase{soakInput: soakInput{length: 40 * time.Second}},
			pass: true, correct: true, memory: true, through: true, lowest: 800, scaled: true},
		{name: "a 40-second run growing in its last half", c: verdictCase{soakInput: soakInput{length: 40 * time.Second}, rss: with("broker", 15, 1.5)},
			correct: true, through: true, failing: []string{"broker"}, lowest: 800, scaled: true},
	}
	for _, tc := range tests {
		in := tc.c.defaults(good)
		v := verdict(in.soakInput)
		if v.Pass != tc.pass || v.Correctness.Pass != tc.correct || v.Memory.Pass != tc.memory || v.Throughput.Pass != tc.through {
			t.Errorf("%s: got pass=%v correct=%v memory=%v throughput=%v, want %v %v %v %v\n%s", tc.name,
				v.Pass, v.Correctness.Pass, v.Memory.Pass, v.Throughput.Pass, tc.pass, tc.correct, tc.memory, tc.through,
				strings.Join(v.Lines(interval), "\n"))
		}
		var failing []string
		for _, p := range v.Memory.Processes {
			if !p.Pass {
				failing = append(failing, p.Name)
			}
		}
		if strings.Join(failing, ",") != strings.Join(tc.failing, ",") {
			t.Errorf("%s: processes failing the memory check: got %v, want %v", tc.name, failing, tc.failing)
		}
		if v.Throughput.Lowest != tc.lowest {
			t.Errorf("%s: lowest window: got %v, want %v", tc.name, v.Throughput.Lowest, tc.lowest)
		}
		if v.Memory.Scaled != tc.scaled {
			t.Errorf("%s: scaled rule: got %v, want %v", tc.name, v.Memory.Scaled, tc.scaled)
		}
	}
}

// verdictCase describes a soak: counts and lengths (zero fields take the good case's
// values; placed -1 means nothing placed) and the samples' rate and resident sizes as
// functions of time (nil: steady and flatRSS).
type verdictCase struct {
	soakInput
	rateAt func(float64) float64
	rss    func(float64) map[string]int64
}

func (c verdictCase) defaults(good soakInput) verdictCase {
	in := c.soakInput
	if in.length == 0 {
		in.length = good.length
	}
	if in.interval == 0 {
		in.interval = good.interval
	}
	if in.rate == 0 {
		in.rate = good.rate
	}
	switch {
	case in.placed < 0:
		in.placed, in.terminal = 0, 0
	case in.placed == 0:
		in.placed, in.terminal = good.placed, good.terminal
	}
	rate, rss := c.rateAt, c.rss
	if rate == nil {
		rate = steady
	}
	if rss == nil {
		rss = flatRSS
	}
	in.samples = soakSamples(in.interval, int(in.length/in.interval), rate, rss)
	c.soakInput = in
	return c
}

func TestVerdictWithoutSamples(t *testing.T) {
	v := verdict(soakInput{length: 30 * time.Minute, interval: 10 * time.Second, rate: 800, placed: 5, terminal: 5})
	if v.Pass || v.Memory.Pass || v.Throughput.Pass || !v.Correctness.Pass {
		t.Errorf("no samples: got pass=%v memory=%v throughput=%v correct=%v, want false false false true",
			v.Pass, v.Memory.Pass, v.Throughput.Pass, v.Correctness.Pass)
	}
	if !strings.Contains(v.Memory.Problem, "no sample near") {
		t.Errorf("no samples: memory problem %q, want one about the reference sample", v.Memory.Problem)
	}
}

func TestVerdictLines(t *testing.T) {
	in := verdictCase{rss: with("orchestrator-1", 1500, 1.2)}.defaults(soakInput{length: 30 * time.Minute,
		interval: 10 * time.Second, rate: 800, placed: 1440000, terminal: 1440000})
	text := strings.Join(verdict(in.soakInput).Lines(10*time.Second), "\n")
	for _, want := range []string{
		"soak verdict: FAIL",
		"PASS every order terminal and correct: 1440000 placed, 1440000 terminal, 0 unfinished",
		"PASS throughput: no 10s window after the first under 90 % of 800 orders/s (720): 0 of 179 below",
		"FAIL resident memory flat: every sample of the last 10m (t ≥ 20m) within ±15 % of the sample at t ≈ 10m",
		"FAIL orchestrator-1  60.0 MiB at t = 10m; checked 60.0 MiB … 72.0 MiB (+0.0 % … +20.0 %)",
		"PASS broker",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("verdict lines lack %q:\n%s", want, text)
		}
	}
	short := verdictCase{}.defaults(soakInput{length: 40 * time.Second, interval: 10 * time.Second, rate: 200, placed: 8000, terminal: 8000})
	text = strings.Join(verdict(short.soakInput).Lines(10*time.Second), "\n")
	if want := "scaled: the soak is shorter than 20m"; !strings.Contains(text, want) {
		t.Errorf("a short soak's verdict lacks %q:\n%s", want, text)
	}
}

func TestSoakSampler(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSoakSampler(start, 35*time.Second, 10*time.Second)
	if s.n != 4 {
		t.Fatalf("windows of a 35s soak every 10s: got %d, want 4", s.n)
	}
	tests := []struct {
		at  time.Duration
		due bool
	}{
		{9 * time.Second, false}, {10 * time.Second, true}, {10*time.Second + 50*time.Millisecond, true},
	}
	for _, tc := range tests {
		if got := s.due(start.Add(tc.at)); got != tc.due {
			t.Errorf("due at %s with no samples: got %v, want %v", tc.at, got, tc.due)
		}
	}
	s.samples = make([]SoakSample, 3) // as if three windows were taken
	if s.due(start.Add(34 * time.Second)) {
		t.Error("due at 34s after three windows: got true, want false (the last window ends at 35s)")
	}
	if !s.due(start.Add(35 * time.Second)) {
		t.Error("due at 35s after three windows: got false, want true")
	}
	s.samples = make([]SoakSample, 4)
	if s.remaining() || s.due(start.Add(time.Hour)) {
		t.Error("after the last window: got remaining or due, want neither")
	}
}

func TestRecorderSoakModeHoldsOnlyInFlight(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRecorder(start, start.Add(time.Hour), 0, true)
	want := sample.Outcome{Status: "completed"}
	for i := range 1000 {
		id := "o" + string(rune('a'+i%26)) + time.Duration(i).String()
		r.place(id, start, want)
		status := "completed"
		if i == 7 {
			status = "cancelled"
		}
		r.observe(id, status, "", start.Add(ms(float64(i%10+1))))
	}
	r.place("still-open", start, want)
	lat, inFlight := r.takeWindow()
	if len(lat) != 1000 || inFlight != 1 {
		t.Errorf("first window: got %d latencies and %d in flight, want 1000 and 1", len(lat), inFlight)
	}
	if len(r.samples) != 0 || len(r.pending) != 1 {
		t.Errorf("soak mode keeps %d samples and %d pending orders, want 0 and 1", len(r.samples), len(r.pending))
	}
	if r.mismatchCount != 1 || r.terminal != 1000 || r.placed != 1001 {
		t.Errorf("counts: got %d mismatches, %d terminal, %d placed; want 1, 1000, 1001", r.mismatchCount, r.terminal, r.placed)
	}
	if lat, _ := r.takeWindow(); len(lat) != 0 {
		t.Errorf("second window: got %d latencies, want 0", len(lat))
	}
}

func TestSoakJSONNames(t *testing.T) {
	r := &Report{Soak: &SoakResult{Rate: 800, Seconds: 60, IntervalSeconds: 10,
		Samples: []SoakSample{{T: 10, OrdersPerSec: 799.5, P50: 9.5, P99: 41, RSS: map[string]int64{"broker": 1 << 20}}}}}
	js, err := r.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	for _, want := range []string{`"soak": {`, `"samples": [`, `"t_s": 10`, `"orders_per_sec": 799.5`, `"p50_ms": 9.5`,
		`"p99_ms": 41`, `"rss_bytes": {`, `"broker": 1048576`, `"verdict": {`, `"correctness": {`, `"memory": {`, `"throughput": {`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("bench.json lacks %s:\n%s", want, js)
		}
	}
}
