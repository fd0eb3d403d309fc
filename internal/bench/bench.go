package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Mixes of orders a run places.
const (
	// MixHappy: every order succeeds, so every saga runs all five steps.
	MixHappy = "happy"
	// MixSample: the sample mix of internal/sample (60% happy, the rest spread over every
	// failure path, with compensations).
	MixSample = "mix"
)

// Config configures Run. The zero value of every field means its documented default.
type Config struct {
	// Binary is the podium executable started for every process. Default: the running
	// executable.
	Binary string
	// Brokers, when set, are an existing Kafka cluster to measure against instead of an
	// embedded broker started as its own process for every run. Its podium topics are
	// created if missing; state left by earlier runs stays.
	Brokers []string
	// Partitions of every podium topic. Default: 12.
	Partitions int

	// Rate, when positive, adds an open-loop run that places orders at this many per second.
	Rate float64
	// InFlight, when positive, adds a closed-loop run that keeps this many orders outstanding.
	// When none of Rate, InFlight, Scaling and Restore is set, Rate is 1,000.
	InFlight int
	// Orchestrators is the number of orchestrator instances of the open- and closed-loop runs.
	// Default: 1.
	Orchestrators int
	// Scaling adds closed-loop runs (at InFlight, default 1,024) with each of these numbers of
	// orchestrator instances; a count equal to Orchestrators reuses the closed-loop run.
	Scaling []int
	// Duration is the measured part of every run. Default: 20s.
	Duration time.Duration
	// Warmup runs before Duration; its orders are not measured. Default: 3s.
	Warmup time.Duration
	// Drain bounds the wait for outstanding orders after Duration. Default: 30s.
	Drain time.Duration
	// Mix is MixHappy or MixSample. Default: MixHappy.
	Mix string

	// NoHop skips the raw command/reply hop (and with it the efficiency ratio).
	NoHop bool
	// HopInFlight is the concurrency of the raw hop. Default: InFlight of a closed-loop run,
	// 1,024 for an open-loop one.
	HopInFlight int
	// HopDuration is the measured part of each raw hop measurement. Default: 4s.
	HopDuration time.Duration

	// Restore, when positive, adds a run that times the restore of one partition holding
	// this many saga snapshots.
	Restore int

	// Soak, when positive, makes the run a soak instead: one open-loop run at Rate for this
	// long over the broker, the orchestrators, the workers and the API, sampled every
	// SoakInterval (see SoakResult). It runs alone (no InFlight, Scaling or Restore) and
	// without the raw hop; Warmup does not apply (the verdict ignores the first window).
	Soak time.Duration
	// SoakInterval is the length of a soak window: one sample of throughput, latency and
	// resident memory each. Default: 10s.
	SoakInterval time.Duration
	// Retention, when set, is passed to the orchestrators and the API as --retention: how
	// long a finished saga's state stays. Default: unset (the children's own default).
	Retention time.Duration
	// DedupeWindow, when set, is passed to the orchestrators as --dedupe-window and to the
	// workers as --processed-retention. Default: unset (the children's own default).
	DedupeWindow time.Duration

	// ProfileDir, when set, receives CPU and heap profiles of the first orchestrator and of a
	// worker, taken during the measured part of every run.
	ProfileDir string
	// LogLevel of the child processes. Default: "info".
	LogLevel string
	// OrchestratorArgs, WorkerArgs, BrokerArgs and APIArgs are appended to the command lines
	// of those processes (the API runs in a soak only; BrokerArgs apply to the embedded broker).
	OrchestratorArgs, WorkerArgs, BrokerArgs, APIArgs []string
	// Seed of the generated orders. Default: 1.
	Seed uint64

	// Progress receives the progress bar and phase messages. Default: io.Discard.
	Progress io.Writer
	// Log receives the child processes' output. Default: io.Discard.
	Log io.Writer
}

func (c Config) withDefaults() Config {
	if c.Binary == "" {
		if exe, err := os.Executable(); err == nil {
			c.Binary = exe
		}
	}
	if c.Partitions == 0 {
		c.Partitions = events.DefaultPartitions
	}
	if c.Rate == 0 && c.InFlight == 0 && len(c.Scaling) == 0 && c.Restore == 0 {
		c.Rate = 1000
	}
	if c.Orchestrators == 0 {
		c.Orchestrators = 1
	}
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 3 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 30 * time.Second
	}
	if c.Mix == "" {
		c.Mix = MixHappy
	}
	if c.HopDuration == 0 {
		c.HopDuration = 4 * time.Second
	}
	if c.SoakInterval == 0 {
		c.SoakInterval = 10 * time.Second
	}
	if c.Soak > 0 {
		c.NoHop = true
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("bench: the podium executable is unknown"))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("bench: partitions must be at least 1, got %d", c.Partitions))
	}
	if c.Rate < 0 || c.InFlight < 0 {
		errs = append(errs, errors.New("bench: rate and in-flight must not be negative"))
	}
	if c.Orchestrators < 1 || c.Orchestrators > c.Partitions {
		errs = append(errs, fmt.Errorf("bench: orchestrators must be 1..%d (the partitions), got %d", c.Partitions, c.Orchestrators))
	}
	for _, n := range c.Scaling {
		if n < 1 || n > c.Partitions {
			errs = append(errs, fmt.Errorf("bench: scaling: orchestrators must be 1..%d, got %d", c.Partitions, n))
		}
	}
	if c.Duration <= 0 || c.Warmup < 0 || c.Drain <= 0 || c.HopDuration <= 0 {
		errs = append(errs, errors.New("bench: durations must be positive"))
	}
	if c.Mix != MixHappy && c.Mix != MixSample {
		errs = append(errs, fmt.Errorf("bench: mix must be %s or %s, got %q", MixHappy, MixSample, c.Mix))
	}
	if c.HopInFlight < 0 || c.Restore < 0 {
		errs = append(errs, errors.New("bench: hop in-flight and restore must not be negative"))
	}
	if c.Soak < 0 || c.SoakInterval <= 0 || c.Retention < 0 || c.DedupeWindow < 0 {
		errs = append(errs, errors.New("bench: soak, soak interval, retention and dedupe window must not be negative"))
	}
	if c.Soak > 0 {
		if c.InFlight > 0 || len(c.Scaling) > 0 || c.Restore > 0 {
			errs = append(errs, errors.New("bench: a soak runs alone: drop --in-flight, --scaling and --restore"))
		}
		if c.Soak < 2*c.SoakInterval {
			errs = append(errs, fmt.Errorf("bench: a soak needs at least two windows: soak %s, interval %s", c.Soak, c.SoakInterval))
		}
	}
	return errors.Join(errs...)
}

// plan is the list of saga runs c asks for: the open-loop run, then the closed-loop runs in
// increasing orchestrator count.
func (c Config) plan() []runSpec {
	var runs []runSpec
	if c.Soak > 0 {
		return []runSpec{{mode: "soak", rate: c.Rate, orchestrators: c.Orchestrators}}
	}
	if c.Rate > 0 {
		runs = append(runs, runSpec{mode: "open", rate: c.Rate, orchestrators: c.Orchestrators})
	}
	inFlight := c.InFlight
	if inFlight == 0 {
		inFlight = 1024
	}
	var counts []int
	if c.InFlight > 0 {
		counts = append(counts, c.Orchestrators)
	}
	for _, n := range c.Scaling {
		if !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	slices.Sort(counts)
	for _, n := range counts {
		runs = append(runs, runSpec{mode: "closed", inFlight: inFlight, orchestrators: n})
	}
	return runs
}

type runSpec struct {
	mode          string // "open", "closed" or "soak" (open loop, sampled over time)
	rate          float64
	inFlight      int
	orchestrators int
}

func (r runSpec) String() string {
	switch r.mode {
	case "open":
		return fmt.Sprintf("open loop, %g orders/s, %d orchestrator(s)", r.rate, r.orchestrators)
	case "soak":
		return fmt.Sprintf("soak, open loop at %g orders/s, %d orchestrator(s)", r.rate, r.orchestrators)
	}
	return fmt.Sprintf("closed loop, %d in flight, %d orchestrator(s)", r.inFlight, r.orchestrators)
}

// Run performs every measurement cfg asks for and returns the report. Each saga run gets its
// own broker process (unless cfg.Brokers is set), measures the raw hop on it first, then
// starts the orchestrators and workers and places orders.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rep := newReport(cfg)
	for _, spec := range cfg.plan() {
		fmt.Fprintf(cfg.Progress, "== %s\n", spec)
		res, err := runSaga(ctx, cfg, spec)
		rep.Soak = res.soak
		if err != nil {
			rep.finish()
			return rep, fmt.Errorf("%s: %w", spec, err)
		}
		rep.Runs = append(rep.Runs, res)
	}
	if cfg.Restore > 0 {
		fmt.Fprintf(cfg.Progress, "== restore of %d saga snapshots\n", cfg.Restore)
		res, err := runRestore(ctx, cfg)
		if err != nil {
			return rep, fmt.Errorf("restore: %w", err)
		}
		rep.Restore = &res
	}
	rep.finish()
	if rep.Soak != nil && !rep.Soak.Verdict.Pass {
		return rep, ErrSoakFailed
	}
	return rep, nil
}

// runSaga performs one saga run on a fresh stack.
func runSaga(ctx context.Context, cfg Config, spec runSpec) (RunResult, error) {
	res := RunResult{Mode: spec.mode, Rate: spec.rate, InFlight: spec.inFlight, Orchestrators: spec.orchestrators,
		Partitions: cfg.Partitions, Mix: cfg.Mix}
	res.LoadStart, _ = ReadLoadAvg()
	st, err := newStack(ctx, cfg, cfg.Log)
	if err != nil {
		return res, err
	}
	defer st.stop()

	if !cfg.NoHop {
		hopInFlight := cfg.HopInFlight
		if hopInFlight == 0 {
			hopInFlight = spec.inFlight
		}
		if hopInFlight == 0 {
			hopInFlight = 1024
		}
		fmt.Fprintf(cfg.Progress, "   raw command/reply hop (1 and %d in flight)…\n", hopInFlight)
		hops, produce, err := measureHop(ctx, st, cfg, hopInFlight)
		if err != nil {
			return res, err
		}
		res.HopIsolated, res.HopSingle, res.Hop, res.Produce = &hops[0], &hops[1], &hops[2], &produce
	}

	soak := spec.mode == "soak"
	if soak {
		fmt.Fprintf(cfg.Progress, "   starting %d orchestrator(s), %d workers and the API…\n", spec.orchestrators, len(events.Workers))
	} else {
		fmt.Fprintf(cfg.Progress, "   starting %d orchestrator(s) and %d workers…\n", spec.orchestrators, len(events.Workers))
	}
	if err := st.startPodium(ctx, spec.orchestrators, soak); err != nil {
		return res, err
	}
	return measureSagas(ctx, st, cfg, spec, res)
}

// isolatedHopPace spaces the isolated raw hop's requests: long enough for the stack to idle
// between them, as between orders placed one at a time.
const isolatedHopPace = 50 * time.Millisecond

// measureHop runs the raw hop with one request at a time spaced by isolatedHopPace, one in
// flight back to back and inFlight in flight, and raw produce, against an echo process on
// the stack's broker; the echo is stopped afterwards.
func measureHop(ctx context.Context, st *stack, cfg Config, inFlight int) (hops [3]HopResult, produce ProduceResult, err error) {
	if err = EnsureHopTopics(ctx, st.kafka, cfg.Partitions); err != nil {
		return
	}
	echo, err := st.startEcho()
	if err != nil {
		return
	}
	defer func() { _ = st.stopMember(echo) }()
	if err = waitEcho(ctx, st.kafka, echo); err != nil {
		return
	}
	hc := HopConfig{Kafka: st.kafka, Partitions: cfg.Partitions, InFlight: 1, Warmup: 200 * time.Millisecond, Duration: cfg.HopDuration,
		Pace: isolatedHopPace, Sample: st.sample}
	if hops[0], err = Hop(ctx, hc); err != nil {
		return
	}
	hc.Pace, hc.Warmup, hc.Duration = 0, 500*time.Millisecond, cfg.HopDuration/2
	if hops[1], err = Hop(ctx, hc); err != nil {
		return
	}
	hc.InFlight, hc.Warmup, hc.Duration = inFlight, time.Second, cfg.HopDuration
	if hops[2], err = Hop(ctx, hc); err != nil {
		return
	}
	produce, err = RawProduce(ctx, st.kafka, 4, 1000, 2*time.Second)
	return
}

// waitEcho sends probe requests until the echo process answers one.
func waitEcho(ctx context.Context, cfg pkafka.Config, echo *member) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		res, err := Hop(ctx, HopConfig{Kafka: cfg, InFlight: 1, Duration: time.Millisecond, Timeout: 500 * time.Millisecond})
		if err == nil && res.Lost == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the echo process did not answer: %w", errors.Join(ctx.Err(), err))
		case <-echo.proc.Done():
			return fmt.Errorf("the echo process exited: %v", echo.proc.Err())
		default:
		}
	}
}

// measureSagas places orders on a running stack and measures them. A soak that stops on an
// error still returns its samples so far (res.soak).
func measureSagas(ctx context.Context, st *stack, cfg Config, spec runSpec, res RunResult) (out RunResult, err error) {
	soak := spec.mode == "soak"
	warmup, duration := cfg.Warmup, cfg.Duration
	if soak {
		warmup, duration = 0, cfg.Soak
	}
	topics := podiumTopicNames(cfg.Partitions)
	offsetsBefore, err := endOffsets(ctx, st.kafka, topics)
	if err != nil {
		return res, err
	}
	eventStarts, err := client.EndOffsets(ctx, st.kafka, events.TopicOrdersEvents)
	if err != nil {
		return res, err
	}
	baseline := st.sample()

	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+duration)
	rec := newRecorder(from, to, spec.inFlight, soak)
	var sampler *soakSampler
	if soak {
		sampler = newSoakSampler(start, cfg.Soak, cfg.SoakInterval)
		defer func() {
			if err != nil {
				out.soak = sampler.result(cfg, spec.rate, rec, err.Error())
			}
		}()
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	followErr := make(chan error, 1)
	ready := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		followErr <- follow(runCtx, st.kafka, eventStarts, rec, func() { close(ready) })
	}()
	defer func() { cancel(); wg.Wait() }()
	<-ready

	// Orders are written as podium's processes write: with pkafka.Producer, concurrent
	// writes merged into one request.
	w := pkafka.NewProducer(st.kafka)
	defer w.Close()
	lc := loadConfig{kafka: st.kafka, rate: spec.rate, inFlight: spec.inFlight, mix: cfg.Mix,
		prefix: "b" + strconv.FormatInt(time.Now().UnixMilli()%1e9, 36), seed: cfg.Seed, end: to}
	placeErr := make(chan error, 1)
	go func() {
		if spec.mode != "closed" {
			placeErr <- placeOpen(runCtx, lc, w, rec)
		} else {
			placeErr <- placeClosed(runCtx, lc, w, rec)
		}
	}()

	bar := newProgressBar(cfg.Progress, start, from, to)
	var (
		atFrom, atTo map[string]ProcSample
		bytesFrom    producedSnapshot
		profiles     []string
		profWG       sync.WaitGroup
		sagasInMem   int64
	)
	defer profWG.Wait() // profiles are taken with ctx: an early return waits for them
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	placing := true
	for placing {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-followErr:
			if err == nil {
				err = errors.New("stopped")
			}
			return res, fmt.Errorf("following orders.events: %w", err)
		case <-st.brokerDone():
			return res, errors.New("the broker exited")
		case err := <-placeErr:
			if err != nil {
				return res, err
			}
			placing = false
		case now := <-tick.C:
			if atFrom == nil && !now.Before(from) {
				atFrom = st.sample()
				bytesFrom = st.produced(ctx)
				if cfg.ProfileDir != "" {
					profWG.Add(1)
					go func() {
						defer profWG.Done()
						profiles = takeProfiles(ctx, st, cfg, spec, min(cfg.Duration, 30*time.Second))
					}()
				}
			}
			if soak {
				if sampler.due(now) {
					sampler.take(now, rec, st, cfg.Progress)
				}
				continue
			}
			bar.update(now, rec.progress())
		}
	}
	atTo = st.sample()
	bytesTo := st.produced(ctx)
	if soak && sampler.remaining() {
		sampler.take(time.Now(), rec, st, cfg.Progress)
	}
	if cfg.ProfileDir != "" {
		saveMetrics(ctx, st, cfg, spec)
	}
	if atFrom == nil {
		atFrom, bytesFrom = atTo, bytesTo
	}
	sagasInMem = orchestratorSagas(ctx, st)
	res.LoadEnd, _ = ReadLoadAvg()
	if !soak {
		bar.done(time.Now(), rec.progress())
	} else {
		fmt.Fprintf(cfg.Progress, "   draining: %d orders in flight…\n", rec.progress().pending)
	}

	// Drain: wait for every placed order to end.
	drainEnd := time.Now().Add(cfg.Drain)
	for rec.progress().pending > 0 && time.Now().Before(drainEnd) {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	profWG.Wait()
	offsetsAfter, err := endOffsets(ctx, st.kafka, topics)
	if err != nil {
		return res, err
	}
	if soak {
		res.soak = sampler.result(cfg, spec.rate, rec, "")
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	window := to.Sub(from)
	res.Seconds = window.Seconds()
	res.Placed, res.Terminal = rec.placed, rec.terminal
	res.Unfinished = int64(len(rec.pending))
	res.Mismatches = rec.mismatches
	res.OrdersPerSec = Rate(rec.inWindow, window)
	res.Latency = Summarize(rec.samples)
	res.RecordsByTopic = map[string]int64{}
	var records, commands int64
	for t, after := range offsetsAfter {
		d := after - offsetsBefore[t]
		if d == 0 {
			continue
		}
		res.RecordsByTopic[t] = d
		records += d
		if strings.HasSuffix(t, ".commands") {
			commands += d
		}
	}
	if rec.placed > 0 {
		res.RecordsPerOrder = float64(records) / float64(rec.placed)
		res.CommandsPerOrder = float64(commands) / float64(rec.placed)
	}
	res.BytesPerOrder, res.RecordBytesPerOrder, res.BytesByTopic = bytesPerOrder(
		bytesFrom.bytes.only(topics), bytesTo.bytes.only(topics), rec.inWindow)
	res.BytesSources = bytesTo.exported
	res.BytesNote = bytesNote(bytesTo.exported)
	for _, m := range st.members {
		a, b := atFrom[m.name], atTo[m.name]
		cpu := (b.CPU - a.CPU).Seconds()
		res.Processes = append(res.Processes, ProcResult{
			Name: m.name, Role: m.role,
			CPUSeconds:         cpu,
			CPUSecondsPer1000:  PerThousand(cpu, rec.inWindow),
			Cores:              cpu / window.Seconds(),
			RSSStart:           baseline[m.name].RSS,
			RSSEnd:             b.RSS,
			CPUSecondsBaseline: baseline[m.name].CPU.Seconds(),
		})
		res.Processes[len(res.Processes)-1].setRequests(bytesFrom.requests[m.name], bytesTo.requests[m.name], rec.inWindow)
	}
	if a, b := atFrom[selfName], atTo[selfName]; b.CPU > 0 {
		cpu := (b.CPU - a.CPU).Seconds()
		res.Processes = append(res.Processes, ProcResult{
			Name: selfName, Role: "load generator", CPUSeconds: cpu, CPUSecondsPer1000: PerThousand(cpu, rec.inWindow),
			Cores: cpu / window.Seconds(), RSSStart: baseline[selfName].RSS, RSSEnd: b.RSS,
			CPUSecondsBaseline: baseline[selfName].CPU.Seconds(),
		})
		res.Processes[len(res.Processes)-1].setRequests(bytesFrom.requests[selfName], bytesTo.requests[selfName], rec.inWindow)
	}
	res.SagasInMemory = sagasInMem
	var rssBefore, rssAfter int64
	for _, m := range st.byRole("orchestrator") {
		rssBefore += baseline[m.name].RSS
		rssAfter += atTo[m.name].RSS
	}
	res.OrchestratorRSS = rssAfter
	res.BytesPerSaga = BytesPerItem(rssBefore, rssAfter, sagasInMem)
	if res.Hop != nil {
		res.Efficiency = EfficiencyRatio(res.OrdersPerSec, res.CommandsPerOrder, res.Hop.RoundTripsSec)
	}
	res.Profiles = profiles
	return res, nil
}

// orchestratorSagas sums the sagas held in memory by every orchestrator.
func orchestratorSagas(ctx context.Context, st *stack) int64 {
	var n float64
	for _, m := range st.byRole("orchestrator") {
		if text, err := scrape(ctx, m.metrics); err == nil {
			v, _ := metricSum(text, "podium_orchestrator_sagas")
			n += v
		}
	}
	return int64(n)
}

// takeProfiles saves a CPU profile of d and a heap profile of the first orchestrator and of
// the payment worker, and returns the files written.
func takeProfiles(ctx context.Context, st *stack, cfg Config, spec runSpec, d time.Duration) []string {
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return nil
	}
	var targets []*member
	if o := st.byRole("orchestrator"); len(o) > 0 {
		targets = append(targets, o[0])
	}
	for _, m := range st.byRole("worker") {
		if m.name == "payment" {
			targets = append(targets, m)
		}
	}
	tag := fmt.Sprintf("%s-%d", spec.mode, spec.orchestrators)
	var (
		mu    sync.Mutex
		files []string
		wg    sync.WaitGroup
	)
	for _, m := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range []struct{ kind, url string }{
				{"cpu", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.metrics, int(d.Seconds()))},
				{"heap", fmt.Sprintf("http://%s/debug/pprof/heap", m.metrics)},
				{"allocs", fmt.Sprintf("http://%s/debug/pprof/allocs", m.metrics)},
			} {
				b, err := httpGet(ctx, p.url)
				if err != nil {
					continue
				}
				name := filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%s.%s.pprof", tag, m.name, p.kind))
				if os.WriteFile(name, b, 0o644) == nil {
					mu.Lock()
					files = append(files, name)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	slices.Sort(files)
	return files
}

// saveMetrics saves the /metrics text of every orchestrator and worker in cfg.ProfileDir.
func saveMetrics(ctx context.Context, st *stack, cfg Config, spec runSpec) {
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return
	}
	for _, m := range st.members {
		if m.metrics == "" {
			continue
		}
		if text, err := scrape(ctx, m.metrics); err == nil {
			name := filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%d-%s.metrics.txt", spec.mode, spec.orchestrators, m.name))
			_ = os.WriteFile(name, []byte(text), 0o644)
		}
	}
}

func podiumTopicNames(partitions int) []string {
	specs := pkafka.PodiumTopics(partitions)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// endOffsets returns the sum over partitions of the end offset of every topic.
func endOffsets(ctx context.Context, cfg pkafka.Config, topics []string) (map[string]int64, error) {
	counts, err := pkafka.PartitionCounts(ctx, cfg, topics)
	if err != nil {
		return nil, err
	}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, t := range topics {
		for p := range counts[t] {
			req.Topics[t] = append(req.Topics[t], kafkago.LastOffsetOf(p))
		}
	}
	cl := cfg.Client()
	defer func() {
		if t, ok := cl.Transport.(*kafkago.Transport); ok {
			t.CloseIdleConnections()
		}
	}()
	resp, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	out := make(map[string]int64, len(topics))
	for t, parts := range resp.Topics {
		for _, po := range parts {
			if po.Error != nil {
				return nil, fmt.Errorf("listing end offsets of %s[%d]: %w", t, po.Partition, po.Error)
			}
			out[t] += po.LastOffset
		}
	}
	return out, nil
}
