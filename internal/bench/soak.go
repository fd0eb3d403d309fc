package bench

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// ErrSoakFailed is returned by Run, with the report, when a soak's verdict is FAIL.
var ErrSoakFailed = errors.New("soak verdict: FAIL")

// The soak verdict's thresholds.
const (
	// soakRSSTolerance is how far a process's resident size may move from its reference
	// sample during the checked part of a soak: ±15 %.
	soakRSSTolerance = 0.15
	// soakMinShare is the share of the offered rate every window but the first must finish.
	soakMinShare = 0.90
	// soakFullRule is the soak length from which the RSS rule is the full one: the last
	// soakCheckLast against the sample at soakReferenceAt. Shorter soaks scale it.
	soakFullRule    = 20 * time.Minute
	soakReferenceAt = 10 * time.Minute
	soakCheckLast   = 10 * time.Minute
)

// SoakResult is what a soak measured: one sample per window and the verdict.
type SoakResult struct {
	Rate            float64      `json:"rate"`             // offered orders/s
	Seconds         float64      `json:"seconds"`          // soak length asked for
	IntervalSeconds float64      `json:"interval_seconds"` // window length
	Retention       string       `json:"retention,omitempty"`
	DedupeWindow    string       `json:"dedupe_window,omitempty"`
	Stopped         string       `json:"stopped,omitempty"` // why the soak ended early
	Samples         []SoakSample `json:"samples"`
	Verdict         SoakVerdict  `json:"verdict"`
}

// SoakSample is one window of a soak, taken at its end.
type SoakSample struct {
	T            float64          `json:"t_s"`            // end of the window, seconds since the soak started
	Finished     int64            `json:"finished"`       // orders that ended in the window
	OrdersPerSec float64          `json:"orders_per_sec"` // Finished / window length
	P50          float64          `json:"p50_ms"`         // end-to-end latency of the orders that ended in the window
	P99          float64          `json:"p99_ms"`
	InFlight     int              `json:"in_flight"`
	RSS          map[string]int64 `json:"rss_bytes"` // process name -> resident set size
}

// windowStats summarises one soak window of length d in which the orders with these
// latencies ended: their rate and nearest-rank p50 and p99 (0 for an empty window). It
// sorts latencies in place.
func windowStats(latencies []time.Duration, d time.Duration) (ordersPerSec float64, p50, p99 time.Duration) {
	slices.Sort(latencies)
	return Rate(int64(len(latencies)), d), Quantile(latencies, 0.50), Quantile(latencies, 0.99)
}

// newSoakSample builds the sample of a window that ended t after the soak started and
// lasted d.
func newSoakSample(t, d time.Duration, latencies []time.Duration, inFlight int, rss map[string]int64) SoakSample {
	rate, p50, p99 := windowStats(latencies, d)
	return SoakSample{T: round(t.Seconds(), 1), Finished: int64(len(latencies)), OrdersPerSec: round(rate, 1),
		P50: durMs(p50), P99: durMs(p99), InFlight: inFlight, RSS: rss}
}

func durMs(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// SoakVerdict is the soak's judgement: PASS when all three criteria pass.
type SoakVerdict struct {
	Pass        bool             `json:"pass"`
	Correctness CorrectnessCheck `json:"correctness"`
	Memory      MemoryCheck      `json:"memory"`
	Throughput  ThroughputCheck  `json:"throughput"`
}

// CorrectnessCheck: every order placed is terminal, with the outcome its inputs call for.
type CorrectnessCheck struct {
	Pass       bool  `json:"pass"`
	Placed     int64 `json:"placed"`
	Terminal   int64 `json:"terminal"`
	Unfinished int64 `json:"unfinished"` // not terminal after the drain
	Mismatches int64 `json:"mismatches"` // terminal with another outcome than expected
}

// MemoryCheck: every process's resident size stays within Tolerance of its reference sample
// in every sample from CheckFrom on.
type MemoryCheck struct {
	Pass bool `json:"pass"`
	// Rule says which samples are compared; Scaled is set for soaks shorter than 20
	// minutes (the last half against the sample at one third, instead of the last 10
	// minutes against the sample at minute 10).
	Rule       string          `json:"rule"`
	Scaled     bool            `json:"scaled"`
	Tolerance  float64         `json:"tolerance"`
	ReferenceT float64         `json:"reference_t_s"`    // the reference sample's time
	CheckFrom  float64         `json:"checked_from_t_s"` // first time checked
	Problem    string          `json:"problem,omitempty"`
	Processes  []MemoryProcess `json:"processes"`
}

// MemoryProcess is one process's part of the memory check.
type MemoryProcess struct {
	Name      string  `json:"name"`
	Pass      bool    `json:"pass"`
	Reference int64   `json:"reference_bytes"`
	Min       int64   `json:"min_bytes"` // over the checked samples
	Max       int64   `json:"max_bytes"`
	MinDev    float64 `json:"min_deviation"` // Min / Reference - 1
	MaxDev    float64 `json:"max_deviation"` // Max / Reference - 1
	Checked   int     `json:"samples_checked"`
	Missing   int     `json:"samples_missing"` // checked samples without this process (it exited)
}

// ThroughputCheck: no window after the first finishes fewer than MinShare × the offered rate.
type ThroughputCheck struct {
	Pass      bool    `json:"pass"`
	Offered   float64 `json:"offered_rate"`
	Threshold float64 `json:"threshold"` // MinShare × Offered
	MinShare  float64 `json:"min_share"`
	Windows   int     `json:"windows_checked"`
	Below     int     `json:"windows_below"`
	Lowest    float64 `json:"lowest_orders_per_sec"`
	LowestAt  float64 `json:"lowest_at_t_s"`
}

// soakInput is what the verdict is computed from.
type soakInput struct {
	samples  []SoakSample
	length   time.Duration // soak length asked for
	interval time.Duration
	rate     float64
	placed   int64
	terminal int64
	pending  int64
	mismatch int64
}

// memoryRule returns, for a soak of length d, the time of the reference sample and the
// start of the checked part: minute 10 and the last 10 minutes from 20 minutes on, else one
// third and the last half.
func memoryRule(d time.Duration) (reference, checkFrom time.Duration, scaled bool) {
	if d >= soakFullRule {
		return soakReferenceAt, d - soakCheckLast, false
	}
	return d / 3, d / 2, true
}

// verdict computes the soak's verdict from its samples and counts. Pure.
func verdict(in soakInput) SoakVerdict {
	v := SoakVerdict{
		Correctness: CorrectnessCheck{Placed: in.placed, Terminal: in.terminal, Unfinished: in.pending, Mismatches: in.mismatch},
		Memory:      memoryCheck(in.samples, in.length, in.interval),
		Throughput:  throughputCheck(in.samples, in.rate),
	}
	c := &v.Correctness
	c.Pass = c.Placed > 0 && c.Unfinished == 0 && c.Mismatches == 0 && c.Terminal == c.Placed
	v.Pass = c.Pass && v.Memory.Pass && v.Throughput.Pass
	return v
}

func memoryCheck(samples []SoakSample, length, interval time.Duration) MemoryCheck {
	refAt, from, scaled := memoryRule(length)
	m := MemoryCheck{Scaled: scaled, Tolerance: soakRSSTolerance, CheckFrom: from.Seconds()}
	pct := fmt.Sprintf("±%.0f %%", soakRSSTolerance*100)
	if scaled {
		m.Rule = fmt.Sprintf("every sample of the last half (t ≥ %s) within %s of the sample at one third (t ≈ %s); scaled: the soak is shorter than %s",
			fmtSeconds(from.Seconds()), pct, fmtSeconds(refAt.Seconds()), fmtMinutes(soakFullRule))
	} else {
		m.Rule = fmt.Sprintf("every sample of the last %s (t ≥ %s) within %s of the sample at t ≈ %s",
			fmtMinutes(soakCheckLast), fmtSeconds(from.Seconds()), pct, fmtMinutes(refAt))
	}
	// The reference: the sample nearest refAt, no further than one window from it.
	ref := -1
	for i, s := range samples {
		if ref < 0 || math.Abs(s.T-refAt.Seconds()) < math.Abs(samples[ref].T-refAt.Seconds()) {
			ref = i
		}
	}
	if ref < 0 || math.Abs(samples[ref].T-refAt.Seconds()) > interval.Seconds() {
		m.Problem = fmt.Sprintf("no sample near t = %s", fmtSeconds(refAt.Seconds()))
		return m
	}
	m.ReferenceT = samples[ref].T
	// The checked samples: from `from` on, allowing half a window of timer jitter.
	var checked []SoakSample
	for _, s := range samples {
		if s.T >= from.Seconds()-interval.Seconds()/2 {
			checked = append(checked, s)
		}
	}
	if len(checked) == 0 {
		m.Problem = fmt.Sprintf("no sample from t = %s on", fmtSeconds(from.Seconds()))
		return m
	}
	names := map[string]bool{}
	for _, s := range samples {
		for n := range s.RSS {
			names[n] = true
		}
	}
	m.Pass = true
	for _, name := range slices.Sorted(maps.Keys(names)) {
		p := MemoryProcess{Name: name, Reference: samples[ref].RSS[name], Pass: true}
		for _, s := range checked {
			rss, ok := s.RSS[name]
			if !ok || rss <= 0 {
				p.Missing++
				continue
			}
			if p.Checked == 0 || rss < p.Min {
				p.Min = rss
			}
			if rss > p.Max {
				p.Max = rss
			}
			p.Checked++
		}
		switch {
		case p.Reference <= 0 || p.Checked == 0:
			p.Pass = false
		default:
			p.MinDev = round(float64(p.Min)/float64(p.Reference)-1, 4)
			p.MaxDev = round(float64(p.Max)/float64(p.Reference)-1, 4)
			p.Pass = p.Missing == 0 && p.MinDev >= -soakRSSTolerance && p.MaxDev <= soakRSSTolerance
		}
		m.Pass = m.Pass && p.Pass
		m.Processes = append(m.Processes, p)
	}
	if len(m.Processes) == 0 {
		m.Pass, m.Problem = false, "no resident sizes sampled"
	}
	return m
}

func throughputCheck(samples []SoakSample, rate float64) ThroughputCheck {
	tc := ThroughputCheck{Offered: rate, MinShare: soakMinShare, Threshold: round(soakMinShare*rate, 3)}
	for i, s := range samples {
		if i == 0 {
			continue // warm-up
		}
		tc.Windows++
		if tc.Windows == 1 || s.OrdersPerSec < tc.Lowest {
			tc.Lowest, tc.LowestAt = s.OrdersPerSec, s.T
		}
		if s.OrdersPerSec < tc.Threshold {
			tc.Below++
		}
	}
	tc.Pass = rate > 0 && tc.Windows > 0 && tc.Below == 0
	return tc
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// Lines renders the verdict as text, one line per criterion (and per process), with the
// numbers behind each.
func (v SoakVerdict) Lines(interval time.Duration) []string {
	c, m, tp := v.Correctness, v.Memory, v.Throughput
	out := []string{
		fmt.Sprintf("soak verdict: %s", passFail(v.Pass)),
		fmt.Sprintf("  %s every order terminal and correct: %d placed, %d terminal, %d unfinished after the drain, %d with the wrong outcome",
			passFail(c.Pass), c.Placed, c.Terminal, c.Unfinished, c.Mismatches),
		fmt.Sprintf("  %s throughput: no %s window after the first under %.0f %% of %g orders/s (%g): %d of %d below, lowest %.1f orders/s at t = %s",
			passFail(tp.Pass), fmtSeconds(interval.Seconds()), tp.MinShare*100, tp.Offered, tp.Threshold, tp.Below, tp.Windows, tp.Lowest, fmtSeconds(tp.LowestAt)),
		fmt.Sprintf("  %s resident memory flat: %s", passFail(m.Pass), m.Rule),
	}
	if m.Problem != "" {
		out = append(out, "       "+m.Problem)
	}
	for _, p := range m.Processes {
		if p.Checked == 0 || p.Reference <= 0 {
			out = append(out, fmt.Sprintf("       %s %-15s not sampled (at the reference: %s; checked samples missing it: %d)",
				passFail(p.Pass), p.Name, fmtBytes(p.Reference), p.Missing))
			continue
		}
		missing := ""
		if p.Missing > 0 {
			missing = fmt.Sprintf(", missing from %d samples (exited?)", p.Missing)
		}
		out = append(out, fmt.Sprintf("       %s %-15s %s at t = %s; checked %s … %s (%+.1f %% … %+.1f %%)%s",
			passFail(p.Pass), p.Name, fmtBytes(p.Reference), fmtSeconds(m.ReferenceT), fmtBytes(p.Min), fmtBytes(p.Max),
			p.MinDev*100, p.MaxDev*100, missing))
	}
	return out
}

// markdown renders the soak section of the report.
func (s *SoakResult) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	interval := time.Duration(s.IntervalSeconds * float64(time.Second))
	p("#### Soak: %g orders/s for %s, one sample every %s\n\n", s.Rate, fmtSeconds(s.Seconds), fmtSeconds(s.IntervalSeconds))
	if s.Retention != "" || s.DedupeWindow != "" {
		p("Windows passed to the processes: retention %s, dedupe window %s.\n\n", orDash(s.Retention), orDash(s.DedupeWindow))
	}
	if s.Stopped != "" {
		p("The soak stopped early: %s.\n\n", s.Stopped)
	}
	p("![soak: throughput, latency and resident memory over time](soak.svg)\n\n")
	p("```\n%s\n```\n\n", strings.Join(s.Verdict.Lines(interval), "\n"))
	if n := len(s.Samples); n > 0 {
		p50s, p99s := make([]float64, 0, n), make([]float64, 0, n)
		for _, x := range s.Samples {
			if x.Finished > 0 {
				p50s = append(p50s, x.P50)
				p99s = append(p99s, x.P99)
			}
		}
		slices.Sort(p50s)
		slices.Sort(p99s)
		if len(p50s) > 0 {
			p("Latency per window: p50 median %.1f ms (worst %.1f ms), p99 median %.1f ms (worst %.1f ms), over %d windows.\n\n",
				p50s[len(p50s)/2], p50s[len(p50s)-1], p99s[len(p99s)/2], p99s[len(p99s)-1], len(p50s))
		}
		last := s.Samples[n-1]
		p("| process | RSS first sample | RSS last sample |\n|---|---:|---:|\n")
		for _, name := range slices.Sorted(maps.Keys(last.RSS)) {
			p("| %s | %s | %s |\n", name, fmtBytes(s.Samples[0].RSS[name]), fmtBytes(last.RSS[name]))
		}
		p("\n")
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtSeconds prints a time in seconds as "45s", "10m" or "12m30s".
func fmtSeconds(sec float64) string {
	d := time.Duration(math.Round(sec)) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	default:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
}

func fmtMinutes(d time.Duration) string { return fmtSeconds(d.Seconds()) }

// soakSampler takes a soak's samples: at the end of every window, the window's throughput
// and latency from the recorder and every process's resident size. Used by one goroutine.
type soakSampler struct {
	start    time.Time
	length   time.Duration
	interval time.Duration
	n        int       // windows in the soak
	last     time.Time // end of the previous window
	samples  []SoakSample
}

func newSoakSampler(start time.Time, length, interval time.Duration) *soakSampler {
	n := int((length + interval - 1) / interval)
	return &soakSampler{start: start, length: length, interval: interval, n: n, last: start,
		samples: make([]SoakSample, 0, n)}
}

// due reports whether the next window has ended at now.
func (s *soakSampler) due(now time.Time) bool {
	next := s.start.Add(min(time.Duration(len(s.samples)+1)*s.interval, s.length))
	return s.remaining() && !now.Before(next)
}

// remaining reports whether windows are left to sample.
func (s *soakSampler) remaining() bool { return len(s.samples) < s.n }

// take ends the current window at now, samples it and prints it to progress.
func (s *soakSampler) take(now time.Time, rec *recorder, st *stack, progress io.Writer) {
	latencies, inFlight := rec.takeWindow()
	procs := st.sample()
	rss := make(map[string]int64, len(procs))
	for name, ps := range procs {
		rss[name] = ps.RSS
	}
	smp := newSoakSample(now.Sub(s.start), now.Sub(s.last), latencies, inFlight, rss)
	s.last = now
	s.samples = append(s.samples, smp)
	rec.setLastP50(time.Duration(smp.P50 * float64(time.Millisecond)))

	var mem strings.Builder
	for _, name := range slices.Sorted(maps.Keys(rss)) {
		fmt.Fprintf(&mem, " %s %.0fM", name, float64(rss[name])/(1<<20))
	}
	fmt.Fprintf(progress, "   t=%-6s %6.0f orders/s  p50 %6.1fms  p99 %7.1fms  in flight %5d  RSS%s\n",
		fmtSeconds(smp.T), smp.OrdersPerSec, smp.P50, smp.P99, inFlight, mem.String())
}

// result is the soak's result from the samples taken and the recorder's counts; stopped,
// when set, says why the soak ended early.
func (s *soakSampler) result(cfg Config, rate float64, rec *recorder, stopped string) *SoakResult {
	rec.mu.Lock()
	in := soakInput{samples: s.samples, length: s.length, interval: s.interval, rate: rate,
		placed: rec.placed, terminal: rec.terminal, pending: int64(len(rec.pending)), mismatch: rec.mismatchCount}
	rec.mu.Unlock()
	r := &SoakResult{Rate: rate, Seconds: s.length.Seconds(), IntervalSeconds: s.interval.Seconds(),
		Stopped: stopped, Samples: s.samples, Verdict: verdict(in)}
	if cfg.Retention > 0 {
		r.Retention = cfg.Retention.String()
	}
	if cfg.DedupeWindow > 0 {
		r.DedupeWindow = cfg.DedupeWindow.String()
	}
	return r
}
