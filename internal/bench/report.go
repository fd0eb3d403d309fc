package bench

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RunResult is one saga run.
type RunResult struct {
	Mode          string  `json:"mode"` // "open" (at Rate), "closed" (InFlight outstanding) or "soak" (open, sampled: see Report.Soak)
	Rate          float64 `json:"rate,omitempty"`
	InFlight      int     `json:"in_flight,omitempty"`
	Orchestrators int     `json:"orchestrators"`
	Partitions    int     `json:"partitions"`
	Mix           string  `json:"mix"`

	Seconds      float64     `json:"seconds"` // the measured window
	Placed       int64       `json:"placed"`
	Terminal     int64       `json:"terminal"`
	Unfinished   int64       `json:"unfinished"` // not terminal after the drain
	Mismatches   []string    `json:"mismatches,omitempty"`
	OrdersPerSec float64     `json:"orders_per_sec"` // orders that ended within the window, per second
	Latency      Percentiles `json:"latency"`        // OrderPlaced written → terminal event read (a soak keeps them per window only)

	CommandsPerOrder float64          `json:"commands_per_order"` // command round trips per order
	RecordsPerOrder  float64          `json:"records_per_order"`  // records written to every podium topic, per order
	RecordsByTopic   map[string]int64 `json:"records_by_topic"`

	// BytesPerOrder is the bytes of the record batches written to every podium topic during
	// the measured window, as sent to Kafka after compression (what the broker stores), per
	// order that ended in the window; RecordBytesPerOrder the same of key + value + headers
	// before compression. Both sum the podium_kafka_produced_*bytes_total counters of every
	// podium process and of the load generator; 0 when no process exports them (BytesNote).
	BytesPerOrder       float64               `json:"bytes_per_order"`
	RecordBytesPerOrder float64               `json:"record_bytes_per_order"`
	BytesByTopic        map[string]TopicBytes `json:"bytes_by_topic,omitempty"`
	BytesSources        []string              `json:"bytes_sources,omitempty"` // processes whose counters were read
	BytesNote           string                `json:"bytes_note,omitempty"`

	Processes       []ProcResult `json:"processes"`
	SagasInMemory   int64        `json:"sagas_in_memory"`
	OrchestratorRSS int64        `json:"orchestrator_rss_bytes"`
	BytesPerSaga    float64      `json:"rss_bytes_per_saga"`

	HopIsolated *HopResult     `json:"hop_isolated,omitempty"` // raw hop, one request every HopPace
	HopSingle   *HopResult     `json:"hop_single,omitempty"`   // raw hop, one in flight
	Hop         *HopResult     `json:"hop,omitempty"`          // raw hop at the run's concurrency
	Produce     *ProduceResult `json:"produce,omitempty"`
	Efficiency  float64        `json:"efficiency_ratio"`

	Profiles  []string `json:"profiles,omitempty"`
	LoadStart LoadAvg  `json:"loadavg_start"`
	LoadEnd   LoadAvg  `json:"loadavg_end"`

	soak *SoakResult // a soak's samples and verdict, moved to Report.Soak
}

// bytesNote says what is missing from the bytes per order, given the processes whose byte
// counters were read ("" when the load generator's and at least one other's were).
func bytesNote(exported []string) string {
	switch {
	case len(exported) == 0:
		return "not measured: no podium process exports " + metricProducedBytes
	case !slices.Contains(exported, selfName):
		return "without the load generator's own writes (orders.placed): its process does not export " + metricProducedBytes
	case len(exported) == 1:
		return "the load generator's writes only: no child process exports " + metricProducedBytes
	}
	return ""
}

// ProcResult is one process's resource use during the measured window of a run.
type ProcResult struct {
	Name               string  `json:"name"`
	Role               string  `json:"role"`
	CPUSeconds         float64 `json:"cpu_seconds"`
	CPUSecondsPer1000  float64 `json:"cpu_seconds_per_1000_orders"`
	Cores              float64 `json:"cores"` // CPU seconds per second of the window
	CPUSecondsBaseline float64 `json:"cpu_seconds_before_load"`
	RSSStart           int64   `json:"rss_start_bytes"`
	RSSEnd             int64   `json:"rss_end_bytes"`
	// Kafka requests sent in the window per order (podium_kafka_produce_requests_total,
	// _fetch_requests_total); 0 for a process that does not export them.
	ProduceRequestsPerOrder float64 `json:"produce_requests_per_order"`
	FetchRequestsPerOrder   float64 `json:"fetch_requests_per_order"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemTotal  string `json:"mem_total"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
}

// Target is one of issue 7's targets and whether the report meets it.
type Target struct {
	Name    string `json:"name"`
	Want    string `json:"want"`
	Got     string `json:"got"`
	Met     bool   `json:"met"`
	Present bool   `json:"measured"`
}

// Report is everything one `podium bench` measured.
type Report struct {
	Started   time.Time      `json:"started"`
	Finished  time.Time      `json:"finished"`
	Command   string         `json:"command"`
	Machine   Machine        `json:"machine"`
	LoadStart LoadAvg        `json:"loadavg_start"`
	LoadEnd   LoadAvg        `json:"loadavg_end"`
	Runs      []RunResult    `json:"runs"`
	Restore   *RestoreResult `json:"restore,omitempty"`
	Soak      *SoakResult    `json:"soak,omitempty"`
	Targets   []Target       `json:"targets"`
}

func newReport(cfg Config) *Report {
	r := &Report{Started: time.Now().UTC(), Command: strings.Join(os.Args, " "), Machine: readMachine()}
	r.LoadStart, _ = ReadLoadAvg()
	return r
}

func (r *Report) finish() {
	r.Finished = time.Now().UTC()
	r.LoadEnd, _ = ReadLoadAvg()
	r.Targets = r.targets()
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotal = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// targets checks the report against issue 7's targets. A soak has none: its verdict judges
// it.
func (r *Report) targets() []Target {
	if r.Soak != nil {
		return nil
	}
	var out []Target
	// Sustained throughput with all five steps: the best closed-loop run of happy orders.
	best := -1.0
	for _, run := range r.Runs {
		if run.Mix == MixHappy && run.OrdersPerSec > best {
			best = run.OrdersPerSec
		}
	}
	out = append(out, Target{Name: "sustained orders/s, all five steps", Want: "≥ 2,000",
		Got: fmt.Sprintf("%.0f", best), Met: best >= 2000, Present: best >= 0})
	// Latency at 1,000 orders/s: the open-loop run.
	for _, run := range r.Runs {
		if run.Mode != "open" || run.Rate < 1000 {
			continue
		}
		out = append(out,
			Target{Name: fmt.Sprintf("p50 at %.0f orders/s", run.Rate), Want: "≤ 15 ms", Got: fmtDur(run.Latency.P50),
				Met: run.Latency.Count > 0 && run.Latency.P50 <= 15*time.Millisecond, Present: true},
			Target{Name: fmt.Sprintf("p99 at %.0f orders/s", run.Rate), Want: "≤ 100 ms", Got: fmtDur(run.Latency.P99),
				Met: run.Latency.Count > 0 && run.Latency.P99 <= 100*time.Millisecond, Present: true})
		break
	}
	// Efficiency ratio: the best closed-loop run (the open-loop ratio is capped by its rate).
	eff, found := 0.0, false
	for _, run := range r.Runs {
		if run.Mode == "closed" && run.Hop != nil {
			eff, found = max(eff, run.Efficiency), true
		}
	}
	if !found {
		for _, run := range r.Runs {
			if run.Hop != nil {
				eff, found = max(eff, run.Efficiency), true
			}
		}
	}
	out = append(out, Target{Name: "efficiency ratio", Want: "≥ 0.5", Got: fmt.Sprintf("%.2f", eff), Met: eff >= 0.5, Present: found})
	if r.Restore != nil {
		out = append(out, Target{Name: "restore speed", Want: "≥ 50,000 sagas/s",
			Got: fmt.Sprintf("%.0f sagas/s", r.Restore.SagasPerSec), Met: r.Restore.SagasPerSec >= 50000, Present: true})
	}
	// Memory per saga: the largest figure measured (runs and restore).
	worst, found := 0.0, false
	for _, run := range r.Runs {
		if run.SagasInMemory >= 1000 {
			worst, found = max(worst, run.BytesPerSaga), true
		}
	}
	if r.Restore != nil && r.Restore.BytesPerSaga > 0 {
		worst, found = max(worst, r.Restore.BytesPerSaga), true
	}
	out = append(out, Target{Name: "resident memory per active saga", Want: "≤ 5 KB",
		Got: fmt.Sprintf("%.1f KB", worst/1024), Met: found && worst <= 5*1024, Present: found})
	return out
}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Markdown renders the report as Markdown tables.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("### podium bench — %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	p("Machine: %d CPUs (%s), %s RAM, Linux %s, %s. Load average at start %s, at end %s.\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemTotal, r.Machine.Kernel, r.Machine.GoVersion, r.LoadStart, r.LoadEnd)
	p("Command: `%s`\n\n", r.Command)

	if len(r.Targets) > 0 {
		p("| target | want | got | met |\n|---|---|---|---|\n")
		for _, t := range r.Targets {
			met := "yes"
			switch {
			case !t.Present:
				met = "not measured"
			case !t.Met:
				met = "**no**"
			}
			p("| %s | %s | %s | %s |\n", t.Name, t.Want, t.Got, met)
		}
		p("\n")
	}

	if len(r.Runs) > 0 {
		p("#### Sagas (OrderPlaced written → terminal event read)\n\n")
		p("| run | orch. | orders/s | p50 | p90 | p99 | p99.9 | max | cmds/order | records/order | bytes/order | record bytes/order | raw hop rt/s | efficiency | sagas in memory | RSS/saga | load (start→end) |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, run := range r.Runs {
			hop := "-"
			if run.Hop != nil {
				hop = fmt.Sprintf("%.0f @%d", run.Hop.RoundTripsSec, run.Hop.InFlight)
			}
			p("| %s | %d | %.0f | %s | %s | %s | %s | %s | %.2f | %.1f | %s | %s | %s | %.2f | %d | %.1f KB | %.2f→%.2f |\n",
				run.label(), run.Orchestrators, run.OrdersPerSec, fmtDur(run.Latency.P50), fmtDur(run.Latency.P90),
				fmtDur(run.Latency.P99), fmtDur(run.Latency.P999), fmtDur(run.Latency.Max), run.CommandsPerOrder,
				run.RecordsPerOrder, fmtPerOrder(run.BytesPerOrder), fmtPerOrder(run.RecordBytesPerOrder), hop,
				run.Efficiency, run.SagasInMemory, run.BytesPerSaga/1024, run.LoadStart[0], run.LoadEnd[0])
		}
		p("\n")
		for _, run := range r.Runs {
			if run.Unfinished > 0 || len(run.Mismatches) > 0 {
				p("- %s: %d orders unfinished after the drain, %d outcome mismatches %v\n", run.label(), run.Unfinished, len(run.Mismatches), run.Mismatches)
			}
			if run.BytesNote != "" {
				p("- %s: bytes per order %s\n", run.label(), run.BytesNote)
			}
		}
		p("\n")

		p("#### Bytes written per order, by topic (measured window)\n\n")
		p("Record batches as sent to Kafka (after compression: what the broker stores) and records' key + value + headers (before compression), per order that ended in the window.\n\n")
		for _, run := range r.Runs {
			if len(run.BytesByTopic) == 0 {
				continue
			}
			p("%s:\n\n| topic | bytes/order | record bytes/order |\n|---|---:|---:|\n", run.label())
			for _, t := range slices.Sorted(maps.Keys(run.BytesByTopic)) {
				tb := run.BytesByTopic[t]
				p("| %s | %s | %s |\n", t, fmtPerOrder(tb.BytesPerOrder), fmtPerOrder(tb.RecordBytesPerOrder))
			}
			p("| **all** | %s | %s |\n\n", fmtPerOrder(run.BytesPerOrder), fmtPerOrder(run.RecordBytesPerOrder))
		}

		hops := slices.ContainsFunc(r.Runs, func(run RunResult) bool { return run.Hop != nil && run.HopSingle != nil })
		if hops {
			p("#### Raw command/reply hop and raw produce (same broker, same writer settings)\n\n")
			p("CPU per round trip: the broker's, the echo's and the requester's CPU time in the window, per round trip.\n\n")
			p("| run | requests in flight | rt/s | p50 | p99 | CPU/rt | raw produce records/s |\n|---|---|---:|---:|---:|---:|---:|\n")
		}
		for _, run := range r.Runs {
			if run.Hop == nil || run.HopSingle == nil {
				continue
			}
			prod := "-"
			if run.Produce != nil {
				prod = fmt.Sprintf("%.0f", run.Produce.RecordsSec)
			}
			row := func(h *HopResult, inFlight, prod string) {
				p("| %s | %s | %.0f | %s | %s | %s | %s |\n", run.label(), inFlight, h.RoundTripsSec,
					fmtDur(h.Latency.P50), fmtDur(h.Latency.P99), fmtDur(h.CPUPerRoundTrip), prod)
			}
			if h := run.HopIsolated; h != nil {
				row(h, fmt.Sprintf("1, one every %s (idle between)", fmtDur(h.Pace)), "")
			}
			row(run.HopSingle, "1", "")
			row(run.Hop, strconv.Itoa(run.Hop.InFlight), prod)
		}
		if hops {
			p("\n")
		}

		p("#### CPU per process (measured window)\n\n")
		p("CPU seconds per 1,000 orders, cores busy (CPU seconds per second), and Kafka produce and fetch requests sent per order (fewer: larger batches).\n\n")
		for _, run := range r.Runs {
			p("%s:\n\n| process | CPU s / 1,000 orders | cores | produce req/order | fetch req/order | RSS start → end |\n|---|---:|---:|---:|---:|---|\n", run.label())
			procs := append([]ProcResult(nil), run.Processes...)
			sort.SliceStable(procs, func(i, j int) bool { return procs[i].Cores > procs[j].Cores })
			var total, produce, fetch float64
			for _, pr := range procs {
				total += pr.Cores
				produce += pr.ProduceRequestsPerOrder
				fetch += pr.FetchRequestsPerOrder
				p("| %s | %.3f | %.2f | %s | %s | %s → %s |\n", pr.Name, pr.CPUSecondsPer1000, pr.Cores,
					fmtRequests(pr.ProduceRequestsPerOrder), fmtRequests(pr.FetchRequestsPerOrder), fmtBytes(pr.RSSStart), fmtBytes(pr.RSSEnd))
			}
			p("| **all** | | %.2f | %s | %s | |\n\n", total, fmtRequests(produce), fmtRequests(fetch))
		}
	}

	if r.Soak != nil {
		p("%s", r.Soak.markdown())
	}

	if rs := r.Restore; rs != nil {
		p("#### Restore\n\n")
		p("| sagas | snapshot | restore (orchestrator) | sagas/s | process start → restored | RSS empty → restored | RSS/saga | load |\n|---:|---:|---:|---:|---:|---|---:|---|\n")
		p("| %d | %d B | %.2f s | %.0f | %.2f s | %s → %s | %.1f KB | %.2f→%.2f |\n\n", rs.Sagas, rs.SnapshotBytes, rs.RestoreSeconds,
			rs.SagasPerSec, rs.StartSeconds, fmtBytes(rs.RSSEmpty), fmtBytes(rs.RSSRestored), rs.BytesPerSaga/1024, rs.LoadStart[0], rs.LoadEnd[0])
	}
	return b.String()
}

// fmtRequests prints requests per order, "-" when none was measured.
func fmtRequests(v float64) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func (r RunResult) label() string {
	switch r.Mode {
	case "open":
		return fmt.Sprintf("open %.0f/s", r.Rate)
	case "soak":
		return fmt.Sprintf("soak %.0f/s", r.Rate)
	}
	return fmt.Sprintf("closed %d in flight", r.InFlight)
}

// fmtPerOrder prints bytes per order ("-" for none).
func fmtPerOrder(b float64) string {
	switch {
	case b <= 0:
		return "-"
	case b >= 10<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
