package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/saga"
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
// its content demands, with every invariant intact. Then the orchestrators' clock jumps
// past the retention, finished orders are placed again (they must start nothing), and
// past the dedupe window (see expireWindows).
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
	rep := runNetwork(t, "network faults", steps, minOrders, 20, true)
	checkExpiry(t, rep, expiry{snapshots: 1, indexRecords: 1, indexTombstones: 1, duplicates: 1})
}

// runNetwork drives an in-process stack with two orchestrator instances through steps while
// orders flow, then (with expire) lets the orchestrators' windows pass, and checks every
// invariant.
func runNetwork(t *testing.T, title string, steps []netStep, minOrders int, rate float64, expire bool) Report {
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
	judge := func(title string, dups []Duplicate) Report {
		t.Helper()
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
		obs.IgnoredStarts = s.watch.Counts()
		rep := Evaluate(Expectation{Orders: load.Orders(), Injected: injected, Duplicates: dups}, obs)
		rep.Title, rep.Duration, rep.Faults = "podium "+title, time.Since(start), faults
		fmt.Fprint(os.Stderr, rep.String())
		writeReport(t, dir, rep)
		if !rep.OK() {
			t.Errorf("invariants violated:%s", rep)
		}
		return rep
	}
	if !expire {
		return judge(title, nil)
	}
	// Judged twice: once settled, with the snapshots of every order in place, and once
	// the windows expired, when only tombstones remain of them.
	judge(title+" (settled)", nil)
	dups, err := s.expireWindows(ctx, faults)
	if err != nil {
		t.Errorf("%v", err)
	}
	rep := judge(title+" (windows expired)", dups)
	if err := s.secondSagaSeen(ctx, injected, dups); err != nil {
		t.Errorf("control: %v", err)
	}
	return rep
}

// secondSagaSeen is a control of the checker on a real run: once the dedupe window has
// passed, a duplicate OrderPlaced starts a second saga, as designed, and Evaluate must
// report it — as a second start and as a saga back in flight after its tombstone — and
// nothing else. (A second saga's timeline repeats the first one's versions: only the
// times of its entries tell it apart from a redo.)
func (s *inProcess) secondSagaSeen(ctx context.Context, injected []Injected, dups []Duplicate) error {
	placedAgain := map[string]bool{}
	for _, d := range dups {
		placedAgain[d.OrderID] = true
	}
	done := slices.DeleteFunc(s.load.FinishedBetween(time.Time{}, time.Now()), func(o sample.Order) bool { return placedAgain[o.Placed.OrderID] })
	if len(done) == 0 {
		return errors.New("no finished order left to place again")
	}
	o := done[0]
	id := o.Placed.OrderID
	if _, err := s.load.PlaceAgain(ctx, []sample.Order{o}); err != nil {
		return err
	}
	var obs Observed
	err := pollEvery(ctx, time.Minute, time.Second, "the second saga of "+id+" to finish", func() (bool, string) {
		var err error
		if obs, err = Collect(ctx, CollectConfig{Kafka: s.kafka, EffectsFiles: s.effectsFiles()}); err != nil {
			return false, err.Error()
		}
		tl, snap := obs.Timelines[id], obs.States[id]
		if tl == nil || len(tl.Started) < 2 || snap.State == nil || !snap.State.Finished() {
			return false, fmt.Sprintf("timeline %s, state %s", timelineSummary(tl), stateSummary(snap.State))
		}
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("%w; its records in %s: %s", err, events.TopicSagaState, recordsOf(ctx, s.kafka, id))
	}
	if err := WaitConsumed(ctx, s.kafka, time.Minute); err != nil {
		return err
	}
	obs.IgnoredStarts = s.watch.Counts()
	rep := Evaluate(Expectation{Orders: s.load.Orders(), Injected: injected, Duplicates: dups}, obs)
	var problems []string
	// The timeline's second start is what must be reported. The changelog may show it too
	// (a state in flight after the first saga's tombstone), but only until compaction keeps
	// the key's last record alone — the second saga's marker — which in a full run's
	// minute-long passes it usually has: that invariant may report it, never another order.
	for _, inv := range rep.Invariants {
		required := inv.Name == InvOneSaga
		allowed := required || inv.Name == InvResurrected
		others := slices.DeleteFunc(slices.Clone(inv.Violations), func(v string) bool { return strings.HasPrefix(v, id+":") })
		switch {
		case required && (inv.Failed() == 0 || len(others) > 0):
			problems = append(problems, fmt.Sprintf("%q: %v, want violations of %s alone", inv.Name, inv.Violations, id))
		case allowed && len(others) > 0:
			problems = append(problems, fmt.Sprintf("%q: %v, want none but of %s", inv.Name, inv.Violations, id))
		case !allowed && inv.Failed() > 0:
			problems = append(problems, fmt.Sprintf("%q: %v, want none", inv.Name, inv.Violations))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("a second saga of %s, started after the dedupe window, is not reported as it must be: %s", id, strings.Join(problems, "; "))
	}
	return nil
}

// expireWindows lets the orchestrators' windows pass once the run settled, without
// waiting for them: their clock jumps past the retention, so every finished saga's marker
// is tombstoned; orders that finished in the last 45 seconds (well within the dedupe
// window) are placed again and must be ignored; then the clock jumps past the dedupe
// window, and it waits until every finished-saga index record is tombstoned too. It
// returns the duplicates placed.
func (s *inProcess) expireWindows(ctx context.Context, faults *FaultLog) ([]Duplicate, error) {
	recent := time.Now().Add(-45 * time.Second)
	s.clock.Advance(inProcessRetention + 30*time.Second)
	var picked []sample.Order
	err := pollEvery(ctx, time.Minute, time.Second, "finished orders to have their state tombstoned", func() (bool, string) {
		var err error
		picked, err = s.load.Retired(ctx, recent, time.Now(), 10)
		if err != nil {
			return false, err.Error()
		}
		return len(picked) > 0, fmt.Sprintf("none of the %d orders that finished since %s", len(s.load.FinishedBetween(recent, time.Now())), recent.Format(timeFormat))
	})
	if err != nil {
		return nil, err
	}
	dups, err := s.load.PlaceAgain(ctx, picked)
	if err != nil {
		return nil, err
	}
	faults.Add(FaultDuplicate, "%d orders, their states tombstoned after the retention (clock advanced %s)", len(dups), inProcessRetention+30*time.Second)
	if err := s.watch.Wait(ctx, dups, time.Minute); err != nil {
		return dups, err
	}
	// Committed before the window passes: a redelivery after it would start a saga.
	if err := WaitConsumed(ctx, s.kafka, time.Minute); err != nil {
		return dups, err
	}
	s.clock.Advance(inProcessDedupeWindow)
	err = pollEvery(ctx, time.Minute, time.Second, "every finished-saga index record to be tombstoned", func() (bool, string) {
		live, expired, err := indexKeys(ctx, s.kafka)
		if err != nil {
			return false, err.Error()
		}
		return live == 0 && expired > 0, fmt.Sprintf("%d index records live, %d tombstoned", live, expired)
	})
	return dups, err
}

// recordsOf describes the records of one saga in podium.saga-state, for a post-mortem.
func recordsOf(ctx context.Context, cfg pkafka.Config, id string) string {
	var out []string
	_, err := pkafka.ReadPartition(ctx, cfg, events.TopicSagaState, pkafka.HomePartition([]byte(id), inProcessPartitions), func(m kafkago.Message) error {
		if string(m.Key) != id {
			return nil
		}
		desc := "tombstone"
		if m.Value != nil {
			desc = "undecodable"
			if st, err := saga.DecodeState(m.Value); err == nil {
				desc = stateSummary(st)
			}
		}
		gen := ""
		for _, h := range m.Headers {
			gen += h.Key + "=" + string(h.Value)
		}
		out = append(out, fmt.Sprintf("@%d %s %s %s", m.Offset, m.Time.Format(timeFormat), gen, desc))
		return nil
	})
	if err != nil {
		out = append(out, err.Error())
	}
	return strings.Join(out, ", ")
}

// indexKeys counts the keys of the finished-saga index in podium.saga-state whose last
// record is a record (live) or a tombstone (expired).
func indexKeys(ctx context.Context, cfg pkafka.Config) (live, expired int, err error) {
	counts, err := pkafka.PartitionCounts(ctx, cfg, []string{events.TopicSagaState})
	if err != nil {
		return 0, 0, err
	}
	for p := range counts[events.TopicSagaState] {
		last := map[string]bool{} // key -> tombstoned
		_, err := pkafka.ReadPartition(ctx, cfg, events.TopicSagaState, p, func(m kafkago.Message) error {
			if k := string(m.Key); strings.HasPrefix(k, orchestrator.IndexKeyPrefix) {
				last[k] = m.Value == nil
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
		for _, tombstoned := range last {
			if tombstoned {
				expired++
			} else {
				live++
			}
		}
	}
	return live, expired, nil
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
