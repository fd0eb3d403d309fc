package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// netSession is the in-process orchestrators' session timeout: the 5s cut stays below it,
// the 45s cut is far beyond it.
const netSession = 6 * time.Second

// netStep is one network fault of the in-process suite.
type netStep struct {
	name  string
	do    func(ctx context.Context, s *inProcess, f *FaultLog) error
	pause time.Duration
}

// TestNetworkFaults runs two orchestrator instances, each behind its own toxiproxy proxy
// (dial hook), under a stream of orders, and cuts instance A off: blackholed for 5s (below
// the session timeout: it keeps its partitions and catches up) and, in the full suite, for
// 45s (its partitions move to B; when the network heals A rejoins as a member of a newer
// generation); then connection resets on both and latency spikes. Every order must end as
// its content demands, with every invariant intact.
func TestNetworkFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite: skipped with -short")
	}
	t.Parallel() // in process, mostly waiting out fault durations
	steps := []netStep{
		{"blackhole orch-a 5s", func(ctx context.Context, s *inProcess, f *FaultLog) error {
			return cutFor(ctx, s.net, "orch-a", 5*time.Second, f, FaultCut5s)
		}, 5 * time.Second},
		{"reset connections of both instances", func(ctx context.Context, s *inProcess, f *FaultLog) error {
			f.Add(FaultReset, "orch-a and orch-b connections reset for 2s")
			errA := make(chan error, 1)
			go func() { errA <- s.net.Reset(ctx, "orch-a", 2*time.Second) }()
			err := s.net.Reset(ctx, "orch-b", 2*time.Second)
			if e := <-errA; e != nil {
				return e
			}
			return err
		}, 5 * time.Second},
		{"latency spike on orch-b", func(ctx context.Context, s *inProcess, f *FaultLog) error {
			stop, err := s.net.Latency("orch-b", 600*time.Millisecond, 300*time.Millisecond)
			if err != nil {
				return err
			}
			f.Add(FaultLatency, "orch-b 600ms±300ms for 8s")
			if err := sleep(ctx, 8*time.Second); err != nil {
				return err
			}
			return stop()
		}, 5 * time.Second},
	}
	if full() {
		steps = append(steps,
			netStep{"blackhole orch-a 45s", func(ctx context.Context, s *inProcess, f *FaultLog) error {
				return cutFor(ctx, s.net, "orch-a", 45*time.Second, f, FaultCut45s)
			}, 10 * time.Second},
			netStep{"blackhole orch-b 45s", func(ctx context.Context, s *inProcess, f *FaultLog) error {
				return cutFor(ctx, s.net, "orch-b", 45*time.Second, f, FaultCut45s)
			}, 10 * time.Second},
			netStep{"latency spike on both", func(ctx context.Context, s *inProcess, f *FaultLog) error {
				stopA, err := s.net.Latency("orch-a", time.Second, 500*time.Millisecond)
				if err != nil {
					return err
				}
				stopB, err := s.net.Latency("orch-b", time.Second, 500*time.Millisecond)
				if err != nil {
					return err
				}
				f.Add(FaultLatency, "orch-a and orch-b 1s±500ms for 15s")
				if err := sleep(ctx, 15*time.Second); err != nil {
					return err
				}
				return errors.Join(stopA(), stopB())
			}, 5 * time.Second},
		)
	}
	minOrders := 600
	if full() {
		minOrders = 4000
	}
	runNetwork(t, "network faults", steps, minOrders, 20)
}

// runNetwork drives an in-process stack with two orchestrator instances through steps while
// orders flow, then checks every invariant.
func runNetwork(t *testing.T, title string, steps []netStep, minOrders int, rate float64) Report {
	t.Helper()
	start := time.Now()
	dir := runDir(t)
	s := newInProcess(t, dir, netSession, networkSaga(), "orch-a", "orch-b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.startWorkers()
	s.startOrchestrator("orch-a")
	s.startOrchestrator("orch-b")
	faults := NewFaultLog(os.Stderr)
	load := NewLoad(ctx, s.kafka, fmt.Sprintf("net%d", time.Now().UnixNano()%100000), uint64(time.Now().UnixNano()), testLogger(t))
	defer load.Close()
	s.load = load

	stepsDone := make(chan struct{})
	loadErr := make(chan error, 1)
	go func() {
		loadErr <- load.Run(ctx, rate, func(placed int) bool {
			select {
			case <-stepsDone:
				return placed < minOrders
			default:
				return true
			}
		})
	}()
	injected, err := InjectMalformed(ctx, load.w, "net", []string{"inventory"})
	if err != nil {
		t.Fatal(err)
	}
	faults.Add(FaultMalformed, "%d records", len(injected))
	if err := sleep(ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if err := st.do(ctx, s, faults); err != nil {
			t.Fatalf("step %q: %v", st.name, err)
		}
		if err := sleep(ctx, st.pause); err != nil {
			t.Fatal(err)
		}
	}
	close(stepsDone)
	if err := <-loadErr; err != nil {
		t.Fatalf("placing orders: %v", err)
	}
	if err := load.WaitTerminal(ctx, 4*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	if err := WaitConsumed(ctx, s.kafka, 2*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	for _, fe := range s.effects {
		if err := fe.Sync(); err != nil {
			t.Errorf("syncing effects: %v", err)
		}
	}
	obs, err := Collect(ctx, CollectConfig{Kafka: s.kafka, EffectsFiles: s.effectsFiles()})
	if err != nil {
		t.Fatalf("collecting the run's traces: %v", err)
	}
	rep := Evaluate(Expectation{Orders: load.Orders(), Injected: injected}, obs)
	rep.Title, rep.Duration, rep.Faults = "podium "+title, time.Since(start), faults
	fmt.Fprint(os.Stderr, rep.String())
	writeReport(t, dir, rep)
	if !rep.OK() {
		t.Errorf("invariants violated:%s", rep)
	}
	return rep
}

// cutFor blackholes a proxy for d.
func cutFor(ctx context.Context, n *Network, name string, d time.Duration, f *FaultLog, kind string) error {
	heal, err := n.Cut(name)
	if err != nil {
		return err
	}
	f.Add(kind, "%s blackholed for %s (session timeout %s)", name, d, netSession)
	if err := sleep(ctx, d); err != nil {
		return err
	}
	return heal()
}
