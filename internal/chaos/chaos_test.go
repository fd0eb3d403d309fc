package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
)

// chaosSaga are the orchestrator's timings in the process-level suite: failover within a
// few seconds, and an attempt budget (25 × 3s plus backoff, about two minutes) far longer
// than any outage the suite causes, so an order's outcome depends on its content alone.
// The windows are the shortest the orchestrator accepts, so that finished sagas expire
// while faults go on: a finished saga's marker is tombstoned two minutes after it
// finished, and its entry in the finished-saga index (written about a minute after it
// finished) four minutes after that minute.
var chaosSaga = SagaOptions{
	SessionTimeout:          4 * time.Second,
	StepTimeout:             3 * time.Second,
	MaxAttempts:             25,
	BackoffInitial:          200 * time.Millisecond,
	BackoffMax:              2 * time.Second,
	CompensationTimeout:     3 * time.Second,
	CompensationMaxAttempts: 40,
	Retention:               2 * time.Minute,
	DedupeWindow:            4 * time.Minute,
}

// chaosProcessedRetention is the workers' --processed-retention in the process-level
// suite: longer than the longest an orchestrator retries one command (a compensation: 40
// attempts of 3s plus backoff, about three minutes and a quarter), as the workers' contract
// demands, and short enough that the first keys expire within the full run.
const chaosProcessedRetention = 4 * time.Minute

// plan is one chaos run.
type plan struct {
	name       string
	partitions int
	minOrders  int
	rate       float64 // orders per second while faults run
	steps      []step
	// settle bounds the wait, after the last fault, for every order to be terminal.
	settle time.Duration
	// replaceAtEnd is how many finished orders are placed again once the run settled and
	// their retention ended (the run waits for the first retentions to end).
	replaceAtEnd int
	// expiry is what the run's windows must have expired, at least.
	expiry expiry
}

// expiry counts what a run's windows expired (see Retention) and the duplicate
// OrderPlaced records it wrote for finished orders.
type expiry struct {
	snapshots, indexRecords, indexTombstones, processed, duplicates int
}

// step is one fault (or scaling action) followed by a pause that lets the system work.
type step struct {
	name  string
	do    func(ctx context.Context, r *chaosRun) error
	pause time.Duration
}

// chaosRun is the state of a run shared by its steps.
type chaosRun struct {
	t        *testing.T
	c        *Cluster
	load     *Load
	faults   *FaultLog
	rng      *rand.Rand
	mu       sync.Mutex
	injected []Injected
	injects  int
	nextOrch int
	dups     []Duplicate
	// watch counts the duplicate starts the orchestrators ignored, from their logs.
	watch *DuplicateWatch
}

// TestChaos runs podium as separate processes under a stream of orders and injects every
// fault of the suite: kill -9 of orchestrator instances (also while they restore) and of
// workers, a worker down longer than the step timeout, a zombie orchestrator (SIGSTOP
// beyond the session timeout, then SIGCONT), a broker killed and restarted on its data
// directory, orchestrator network cuts of 5s (and 45s), connection resets, latency spikes,
// scaling of orchestrators 1 → 3 → 1 and of a worker, and malformed records — all with
// retention active (chaosSaga, chaosProcessedRetention), and orders placed again once
// their retention ended. Then it checks every invariant and prints the table.
//
// The short version (default) runs in about two minutes and a quarter, half a minute of
// it waiting, once every order settled, for the first retentions to end; PODIUM_CHAOS=full
// (make chaos) runs at least 20,000 orders through 20+ orchestrator kills, 10+ worker
// kills, two broker restarts, both network cuts and two zombies, while finished sagas
// expire.
func TestChaos(t *testing.T) {
	bin := podiumBinary(t)
	p := shortPlan()
	if full() {
		p = fullPlan()
	}
	r := runPlan(t, bin, p)
	checkExpiry(t, r, p.expiry)
	if full() {
		checkFullThresholds(t, r)
	}
}

// checkExpiry fails the run when its windows expired less than the plan demands: the
// invariants held, but with retention less active than the run is meant to prove.
func checkExpiry(t *testing.T, r Report, want expiry) {
	t.Helper()
	checks := []struct {
		what      string
		got, want int
	}{
		{"finished saga states tombstoned after --retention", r.Retention.SnapshotTombstones, want.snapshots},
		{"finished-saga index records written", r.Retention.IndexRecords, want.indexRecords},
		{"finished-saga index records tombstoned after --dedupe-window", r.Retention.IndexTombstones, want.indexTombstones},
		{"processed keys tombstoned after --processed-retention", r.Retention.ProcessedTombstones, want.processed},
		{"duplicate OrderPlaced of finished orders after their retention", r.Duplicates, want.duplicates},
	}
	for _, c := range checks {
		if c.got < c.want {
			t.Errorf("%s: %s = %d, want at least %d", r.Title, c.what, c.got, c.want)
		}
	}
}

var (
	injectStep             = func(ctx context.Context, r *chaosRun) error { return r.inject(ctx) }
	killWhileRestoringStep = func(ctx context.Context, r *chaosRun) error { return r.killWhileRestoring(ctx) }
)

// shortPlan is the chaos run of `make test`: a handful of faults of every process kind.
func shortPlan() plan {
	return plan{
		name:       "chaos (short)",
		partitions: 6,
		minOrders:  1200,
		rate:       15,
		settle:     4 * time.Minute,
		// The run settles some 80 seconds in: it waits the little more it takes for the
		// first orders' retention to end.
		replaceAtEnd: 10,
		expiry:       expiry{snapshots: 1, indexRecords: 1, duplicates: 1},
		steps: []step{
			{"inject malformed records", injectStep, time.Second},
			{"scale orchestrators 1 → 2", func(ctx context.Context, r *chaosRun) error { return r.scaleOrchestrators(ctx, 2) }, 4 * time.Second},
			{"kill -9 an orchestrator", func(ctx context.Context, r *chaosRun) error { return r.killOrchestrator(ctx, time.Second) }, 4 * time.Second},
			{"kill -9 a worker", func(ctx context.Context, r *chaosRun) error {
				return r.killWorker(ctx, "inventory-1", 500*time.Millisecond)
			}, 3 * time.Second},
			{"kill -9 an orchestrator while it restores", killWhileRestoringStep, 4 * time.Second},
			{"zombie orchestrator", func(ctx context.Context, r *chaosRun) error { return r.zombie(ctx, 3*chaosSaga.SessionTimeout) }, 3 * time.Second},
			{"worker down longer than the step timeout", func(ctx context.Context, r *chaosRun) error {
				return r.workerDown(ctx, "payment-1", 3*chaosSaga.StepTimeout)
			}, 3 * time.Second},
			{"broker kill -9 and restart", func(ctx context.Context, r *chaosRun) error { return r.restartBroker(ctx) }, 4 * time.Second},
			{"orchestrator network cut 5s", func(ctx context.Context, r *chaosRun) error {
				return r.cut(ctx, RoleOrchestrator, 5*time.Second, FaultCut5s)
			}, 4 * time.Second},
			{"kill -9 a worker", func(ctx context.Context, r *chaosRun) error { return r.killWorker(ctx, "shipping-1", 0) }, 3 * time.Second},
			{"kill -9 an orchestrator", func(ctx context.Context, r *chaosRun) error { return r.killOrchestrator(ctx, 0) }, 3 * time.Second},
			{"inject malformed records", injectStep, time.Second},
			{"scale orchestrators 2 → 1", func(ctx context.Context, r *chaosRun) error { return r.scaleOrchestrators(ctx, 1) }, 2 * time.Second},
		},
	}
}

// fullPlan is the chaos run of `make chaos`.
func fullPlan() plan {
	var steps []step
	add := func(name string, pause time.Duration, do func(ctx context.Context, r *chaosRun) error) {
		steps = append(steps, step{name, do, pause})
	}
	add("inject malformed records", time.Second, injectStep)
	add("scale orchestrators 1 → 3", 5*time.Second, func(ctx context.Context, r *chaosRun) error { return r.scaleOrchestrators(ctx, 3) })
	add("scale worker payment 1 → 3", 4*time.Second, func(ctx context.Context, r *chaosRun) error { return r.scaleWorker(ctx, "payment", 3) })
	workerNames := events.Workers
	for i := range 24 {
		if i%6 == 5 {
			add("kill -9 an orchestrator while it restores", 4*time.Second, killWhileRestoringStep)
		} else {
			down := time.Duration(i%4) * time.Second
			add("kill -9 an orchestrator", 3*time.Second, func(ctx context.Context, r *chaosRun) error { return r.killOrchestrator(ctx, down) })
		}
		if i%2 == 1 { // 12 worker kills, every worker at least twice
			w := workerNames[(i/2)%len(workerNames)] + "-1"
			add("kill -9 a worker", 2*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.killWorker(ctx, w, time.Duration(i%3)*500*time.Millisecond)
			})
		}
		switch i {
		case 14, 20: // four and five minutes in: orders that finished 2 to 2¾ minutes before are retired
			add("duplicate OrderPlaced of finished orders after their retention", 2*time.Second, func(ctx context.Context, r *chaosRun) error {
				if err := r.replaceRetired(ctx, 25, 30*time.Second); err != nil {
					r.t.Errorf("placing finished orders again: %v", err) // checkExpiry counts them; the run goes on
				}
				return nil
			})
		}
		switch i {
		case 3:
			add("zombie orchestrator", 4*time.Second, func(ctx context.Context, r *chaosRun) error { return r.zombie(ctx, 4*chaosSaga.SessionTimeout) })
		case 5:
			add("worker down longer than the step timeout", 4*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.workerDown(ctx, "seller-1", 4*chaosSaga.StepTimeout)
			})
		case 7:
			add("broker kill -9 and restart", 5*time.Second, func(ctx context.Context, r *chaosRun) error { return r.restartBroker(ctx) })
		case 9:
			add("orchestrator network cut 5s", 5*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.cut(ctx, RoleOrchestrator, 5*time.Second, FaultCut5s)
			})
		case 11:
			add("inject malformed records", time.Second, injectStep)
			add("orchestrator network cut 45s", 8*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.cut(ctx, RoleOrchestrator, 45*time.Second, FaultCut45s)
			})
		case 13:
			add("connection resets", 4*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.reset(ctx, RoleOrchestrator, 2*time.Second)
			})
			add("latency spike", 4*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.latency(ctx, RoleOrchestrator, 700*time.Millisecond, 300*time.Millisecond, 10*time.Second)
			})
		case 15:
			add("workers network cut 10s", 5*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.cut(ctx, RoleWorker, 10*time.Second, FaultWorkerCut)
			})
			add("scale worker payment 3 → 1", 4*time.Second, func(ctx context.Context, r *chaosRun) error { return r.scaleWorker(ctx, "payment", 1) })
		case 17:
			add("zombie orchestrator", 4*time.Second, func(ctx context.Context, r *chaosRun) error { return r.zombie(ctx, 3*chaosSaga.SessionTimeout) })
		case 19:
			add("broker kill -9 and restart", 5*time.Second, func(ctx context.Context, r *chaosRun) error { return r.restartBroker(ctx) })
		case 21:
			add("connection resets", 4*time.Second, func(ctx context.Context, r *chaosRun) error {
				return r.reset(ctx, RoleWorker, 2*time.Second)
			})
		}
	}
	add("inject malformed records", time.Second, injectStep)
	add("scale orchestrators 3 → 1", 3*time.Second, func(ctx context.Context, r *chaosRun) error { return r.scaleOrchestrators(ctx, 1) })
	return plan{name: "chaos (full)", partitions: 12, minOrders: 20000, rate: 55, settle: 8 * time.Minute, steps: steps,
		// Minutes of finished sagas expired: markers tombstoned from the third minute on,
		// index records from the sixth, processed keys from the fifth.
		expiry: expiry{snapshots: 1000, indexRecords: 1, indexTombstones: 1, processed: 1, duplicates: 40}}
}

// checkFullThresholds fails the full run when it injected less than the acceptance demands.
func checkFullThresholds(t *testing.T, r Report) {
	t.Helper()
	f := r.Faults
	checks := []struct {
		what      string
		got, want int
	}{
		{"orders placed", r.Orders.Placed, 20000},
		{"orchestrator kill -9", f.Kills(), 20},
		{"orchestrator kill -9 while restoring", f.Count(FaultOrchestratorKillRest), 1},
		{"worker kill -9", f.Count(FaultWorkerKill) + f.Count(FaultWorkerDown), 10},
		{"broker restarts", f.Count(FaultBrokerRestart), 1},
		{"5s network cuts", f.Count(FaultCut5s), 1},
		{"45s network cuts", f.Count(FaultCut45s), 1},
		{"zombies", f.Count(FaultZombie), 1},
	}
	for _, c := range checks {
		if c.got < c.want {
			t.Errorf("full chaos run: %s = %d, want at least %d", c.what, c.got, c.want)
		}
	}
}

// runPlan starts a cluster, runs the plan's steps while orders flow, waits for the run to
// settle, checks the invariants and fails the test on any violation. It returns the report.
func runPlan(t *testing.T, bin string, p plan) Report {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := runDir(t)
	log := testLogger(t)
	c, err := StartCluster(ctx, ClusterConfig{Binary: bin, Dir: dir, Partitions: p.partitions, Saga: chaosSaga,
		ProcessedRetention: chaosProcessedRetention, Logger: log})
	if err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	defer c.Close()
	t.Logf("run directory %s, process log %s", dir, c.LogPath())

	r := &chaosRun{t: t, c: c, faults: NewFaultLog(os.Stderr), rng: rand.New(rand.NewPCG(1, 2)), watch: NewDuplicateWatch()}
	stopWatch := c.OnLine(func(name string, line []byte) {
		if strings.HasPrefix(name, "orch-") {
			r.watch.Line(line)
		}
	})
	defer stopWatch()
	if err := r.startOrchestrator(); err != nil {
		t.Fatal(err)
	}
	for _, w := range events.Workers {
		if err := c.StartWorker(w, w+"-1"); err != nil {
			t.Fatal(err)
		}
	}
	r.load = NewLoad(ctx, c.Kafka, fmt.Sprintf("chaos%d", time.Now().UnixNano()%100000), uint64(time.Now().UnixNano()), log)
	defer r.load.Close()

	stepsDone := make(chan struct{})
	loadErr := make(chan error, 1)
	go func() {
		loadErr <- r.load.Run(ctx, p.rate, func(placed int) bool {
			select {
			case <-stepsDone:
				return placed < p.minOrders
			default:
				return true
			}
		})
	}()
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-progress.C:
				fmt.Fprintf(os.Stderr, "chaos progress %s: placed %d, not terminal %d, orchestrators %v\n",
					time.Since(start).Round(time.Second), r.load.Placed(), r.load.Tracker.Pending(), c.Running("orch-"))
			}
		}
	}()

	for _, s := range p.steps {
		if err := s.do(ctx, r); err != nil {
			t.Fatalf("step %q: %v", s.name, err)
		}
		if err := sleep(ctx, s.pause); err != nil {
			t.Fatal(err)
		}
	}
	close(stepsDone)
	if err := <-loadErr; err != nil {
		t.Fatalf("placing orders: %v", err)
	}
	fmt.Fprintf(os.Stderr, "chaos: faults done after %s, %d orders placed; waiting for every order to settle\n",
		time.Since(start).Round(time.Second), r.load.Placed())

	if err := r.load.WaitTerminal(ctx, p.settle); err != nil {
		t.Errorf("%v", err)
	}
	if p.replaceAtEnd > 0 {
		fmt.Fprintf(os.Stderr, "chaos: settled after %s; waiting for the first retentions (%s) to end\n",
			time.Since(start).Round(time.Second), chaosSaga.Retention)
		if err := r.replaceRetired(ctx, p.replaceAtEnd, chaosSaga.Retention+time.Minute); err != nil {
			t.Errorf("%v", err)
		}
	}
	if err := WaitConsumed(ctx, c.Kafka, 3*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	obs, err := Collect(ctx, CollectConfig{Kafka: c.Kafka, EffectsFiles: c.EffectsFiles()})
	if err != nil {
		t.Fatalf("collecting the run's traces: %v", err)
	}
	obs.IgnoredStarts = r.watch.Counts()
	rep := Evaluate(Expectation{Orders: r.load.Orders(), Injected: r.allInjected(), Duplicates: r.allDuplicates()}, obs)
	rep.Title, rep.Duration, rep.Faults = "podium "+p.name, time.Since(start), r.faults
	fmt.Fprint(os.Stderr, rep.String())
	writeReport(t, dir, rep)
	if !rep.OK() {
		t.Errorf("chaos invariants violated:%s", rep)
	}
	for _, u := range c.Unexpected() {
		t.Errorf("process exited unexpectedly: %s", u)
	}
	return rep
}

// writeReport appends the report to the run directory's report.txt and, when set, to the
// file PODIUM_CHAOS_REPORT names.
func writeReport(t *testing.T, dir string, rep Report) {
	t.Helper()
	for _, path := range []string{dir + "/report.txt", os.Getenv("PODIUM_CHAOS_REPORT")} {
		if path == "" {
			continue
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Logf("writing the report: %v", err)
			continue
		}
		_, _ = f.WriteString(rep.String())
		_ = f.Close()
	}
}

func (r *chaosRun) allDuplicates() []Duplicate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Duplicate(nil), r.dups...)
}

// replaceRetired writes the OrderPlaced of up to n finished orders again once their
// retention ended — their state is tombstoned, and only the orchestrators' finished-saga
// index still knows them — and waits until the orchestrators ignored them. It picks
// orders that finished well within the dedupe window, so that the duplicates are applied
// before it ends even if a fault follows, and looks for them for up to wait.
func (r *chaosRun) replaceRetired(ctx context.Context, n int, wait time.Duration) error {
	var picked []sample.Order
	what := fmt.Sprintf("an order that finished %s to %s ago to have its state tombstoned", chaosSaga.Retention, chaosSaga.DedupeWindow-75*time.Second)
	err := pollEvery(ctx, wait, 2*time.Second, what, func() (bool, string) {
		now := time.Now()
		var err error
		picked, err = r.load.Retired(ctx, now.Add(-(chaosSaga.DedupeWindow - 75*time.Second)), now.Add(-chaosSaga.Retention), n)
		if err != nil {
			return false, err.Error()
		}
		return len(picked) > 0, "none yet"
	})
	if err != nil {
		return err
	}
	dups, err := r.load.PlaceAgain(ctx, picked)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.dups = append(r.dups, dups...)
	r.mu.Unlock()
	r.faults.Add(FaultDuplicate, "%d orders, their states tombstoned after the retention (%s)", len(dups), chaosSaga.Retention)
	// The checker judges them; waiting only keeps the duplicates clear of the next fault.
	if err := r.watch.Wait(ctx, dups, time.Minute); err != nil {
		r.t.Logf("%v", err)
	}
	return nil
}

func (r *chaosRun) allInjected() []Injected {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Injected(nil), r.injected...)
}

// inject writes a batch of malformed records.
func (r *chaosRun) inject(ctx context.Context) error {
	r.mu.Lock()
	r.injects++
	tag := fmt.Sprint(r.injects)
	r.mu.Unlock()
	in, err := InjectMalformed(ctx, r.load.w, tag, events.Workers)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.injected = append(r.injected, in...)
	r.mu.Unlock()
	r.faults.Add(FaultMalformed, "%d records (batch %s)", len(in), tag)
	return nil
}

func (r *chaosRun) startOrchestrator() error {
	r.mu.Lock()
	r.nextOrch++
	name := fmt.Sprintf("orch-%d", r.nextOrch)
	r.mu.Unlock()
	return r.c.StartOrchestrator(name)
}

// scaleOrchestrators starts or gracefully stops instances until n run.
func (r *chaosRun) scaleOrchestrators(ctx context.Context, n int) error {
	running := r.c.Running("orch-")
	from := len(running)
	for i := len(running); i < n; i++ {
		if err := r.startOrchestrator(); err != nil {
			return err
		}
	}
	for i := n; i < len(running); i++ {
		if err := r.c.Stop(running[i], 30*time.Second); err != nil {
			return fmt.Errorf("stopping %s: %w", running[i], err)
		}
	}
	r.faults.Add(FaultScaleOrchestrators, "%d → %d instances", from, n)
	return nil
}

// scaleWorker starts or gracefully stops instances of a worker until n run.
func (r *chaosRun) scaleWorker(ctx context.Context, worker string, n int) error {
	running := r.c.Running(worker + "-")
	from := len(running)
	for i := len(running); i < n; i++ {
		if err := r.c.StartWorker(worker, fmt.Sprintf("%s-%d", worker, i+1)); err != nil {
			return err
		}
	}
	for i := n; i < len(running); i++ {
		if err := r.c.Stop(running[i], 30*time.Second); err != nil {
			return fmt.Errorf("stopping %s: %w", running[i], err)
		}
	}
	r.faults.Add(FaultScaleWorker, "%s: %d → %d instances", worker, from, n)
	return nil
}

// pickOrchestrator returns a running orchestrator instance, at random.
func (r *chaosRun) pickOrchestrator() (string, error) {
	running := r.c.Running("orch-")
	if len(running) == 0 {
		return "", fmt.Errorf("no orchestrator is running")
	}
	return running[r.rng.IntN(len(running))], nil
}

// killOrchestrator kills a running instance with SIGKILL and restarts it after down.
func (r *chaosRun) killOrchestrator(ctx context.Context, down time.Duration) error {
	name, err := r.pickOrchestrator()
	if err != nil {
		return err
	}
	if err := r.c.Kill(name); err != nil {
		return err
	}
	r.faults.Add(FaultOrchestratorKill, "%s, restarted after %s", name, down)
	if err := sleep(ctx, down); err != nil {
		return err
	}
	return r.c.Restart(name)
}

var (
	msgGeneration = []byte(`"message":"consumer group generation started"`)
	msgRestored   = []byte(`"message":"partition restored"`)
)

// killWhileRestoring makes the orchestrator group rebalance (an instance is killed and
// restarted), then kills, the moment it logs its new generation, the first instance that
// starts restoring partitions — before it finished restoring them.
func (r *chaosRun) killWhileRestoring(ctx context.Context) error {
	type victim struct {
		name       string
		partitions int
	}
	var (
		mu       sync.Mutex
		picked   *victim
		restored int
	)
	found := make(chan victim, 1)
	stop := r.c.OnLine(func(name string, line []byte) {
		if !strings.HasPrefix(name, "orch-") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if picked != nil {
			if name == picked.name && bytes.Contains(line, msgRestored) {
				restored++
			}
			return
		}
		if !bytes.Contains(line, msgGeneration) {
			return
		}
		var l struct {
			Partitions []int `json:"partitions"`
		}
		if json.Unmarshal(line, &l) != nil || len(l.Partitions) == 0 {
			return
		}
		if r.c.KillNow(name) != nil {
			return
		}
		picked = &victim{name, len(l.Partitions)}
		found <- *picked
	})
	defer stop()

	if err := r.killOrchestrator(ctx, 0); err != nil { // the rebalance
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var v victim
	select {
	case v = <-found:
	case <-wctx.Done():
		return fmt.Errorf("no orchestrator started a generation within 2 minutes")
	}
	if err := r.c.Wait(wctx, v.name); err != nil {
		return err
	}
	mu.Lock()
	done := restored
	mu.Unlock()
	if done < v.partitions {
		r.faults.Add(FaultOrchestratorKillRest, "%s, %d of %d partitions restored", v.name, done, v.partitions)
	} else {
		r.faults.Add(FaultOrchestratorKill, "%s, just after restoring %d partitions", v.name, v.partitions)
	}
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	return r.c.Restart(v.name)
}

// killWorker kills a worker instance with SIGKILL and restarts it after down.
func (r *chaosRun) killWorker(ctx context.Context, name string, down time.Duration) error {
	if err := r.c.Kill(name); err != nil {
		return err
	}
	r.faults.Add(FaultWorkerKill, "%s, restarted after %s", name, down)
	if err := sleep(ctx, down); err != nil {
		return err
	}
	return r.c.Restart(name)
}

// workerDown kills a worker instance and keeps it down for d.
func (r *chaosRun) workerDown(ctx context.Context, name string, d time.Duration) error {
	if err := r.c.Kill(name); err != nil {
		return err
	}
	r.faults.Add(FaultWorkerDown, "%s down for %s (step timeout %s)", name, d, chaosSaga.StepTimeout)
	if err := sleep(ctx, d); err != nil {
		return err
	}
	return r.c.Restart(name)
}

// zombie pauses an orchestrator instance (SIGSTOP) for d, longer than the session timeout,
// while another instance runs, then lets it continue (SIGCONT): it wakes up believing it
// still owns partitions that moved.
func (r *chaosRun) zombie(ctx context.Context, d time.Duration) error {
	if len(r.c.Running("orch-")) < 2 {
		if err := r.scaleOrchestrators(ctx, 2); err != nil {
			return err
		}
		if err := sleep(ctx, 2*chaosSaga.SessionTimeout); err != nil {
			return err
		}
	}
	name, err := r.pickOrchestrator()
	if err != nil {
		return err
	}
	if err := r.c.Pause(name); err != nil {
		return err
	}
	r.faults.Add(FaultZombie, "%s stopped for %s (session timeout %s)", name, d, chaosSaga.SessionTimeout)
	if err := sleep(ctx, d); err != nil {
		return err
	}
	return r.c.Resume(name)
}

// restartBroker kills the broker with SIGKILL and restarts it on its address and data.
func (r *chaosRun) restartBroker(ctx context.Context) error {
	start := time.Now()
	if err := r.c.RestartBroker(ctx, time.Second); err != nil {
		return err
	}
	r.faults.Add(FaultBrokerRestart, "back after %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// cut blackholes a role's network for d.
func (r *chaosRun) cut(ctx context.Context, role string, d time.Duration, kind string) error {
	heal, err := r.c.Net.Cut(role)
	if err != nil {
		return err
	}
	r.faults.Add(kind, "%s traffic dropped for %s", role, d)
	if err := sleep(ctx, d); err != nil {
		return err
	}
	return heal()
}

// reset resets a role's connections for d.
func (r *chaosRun) reset(ctx context.Context, role string, d time.Duration) error {
	r.faults.Add(FaultReset, "%s connections reset for %s", role, d)
	return r.c.Net.Reset(ctx, role, d)
}

// latency adds latency to a role's traffic for d.
func (r *chaosRun) latency(ctx context.Context, role string, lat, jitter, d time.Duration) error {
	stop, err := r.c.Net.Latency(role, lat, jitter)
	if err != nil {
		return err
	}
	r.faults.Add(FaultLatency, "%s %s±%s for %s", role, lat, jitter, d)
	if err := sleep(ctx, d); err != nil {
		return err
	}
	return stop()
}
