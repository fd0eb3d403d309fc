package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/sagas"
)

// heldBuilder wraps a step's payload builder so that its first call blocks until release:
// a test double for a slow batch, which holds the processor inside process, between taking
// its input and writing its outputs. Every later call builds at once. Safe for concurrent
// use.
type heldBuilder struct {
	calls    atomic.Int64
	blocked  chan struct{} // closed when the first call starts waiting
	release  chan struct{} // closed by let
	returned chan struct{} // closed when the first call has returned its payload
	once     sync.Once
}

func newHeldBuilder() *heldBuilder {
	return &heldBuilder{blocked: make(chan struct{}), release: make(chan struct{}), returned: make(chan struct{})}
}

// wrap returns b, held on its first call.
func (h *heldBuilder) wrap(b saga.Builder) saga.Builder {
	return func(bc saga.BuildContext) (json.RawMessage, error) {
		if h.calls.Add(1) == 1 {
			close(h.blocked)
			<-h.release
			defer close(h.returned)
		}
		return b(bc)
	}
}

// let releases the held call. Safe to call more than once.
func (h *heldBuilder) let() { h.once.Do(func() { close(h.release) }) }

// heldOrderSaga is the order saga whose reserve-inventory builder is held by h.
func heldOrderSaga(o order.Options, h *heldBuilder) orchestrator.SagaType {
	t := sagas.Order(o)
	for i := range t.Definition.Steps {
		if st := &t.Definition.Steps[i]; st.Name == order.StepReserveInventory {
			st.Do.Build = h.wrap(st.Do.Build)
		}
	}
	return t
}

// generationTap is a zerolog writer that records the consumer-group generations an
// orchestrator instance started (from its "consumer group generation started" lines) and
// passes its warnings and errors on to the test log. Safe for concurrent use.
type generationTap struct {
	t    *testing.T
	mu   sync.Mutex
	gens map[int32]bool
}

func (g *generationTap) Write(p []byte) (int, error) {
	var line struct {
		Level      string `json:"level"`
		Message    string `json:"message"`
		Generation *int32 `json:"generation"`
	}
	if err := json.Unmarshal(p, &line); err != nil {
		return 0, fmt.Errorf("decoding a log line: %w", err)
	}
	if line.Message == "consumer group generation started" && line.Generation != nil {
		g.mu.Lock()
		g.gens[*line.Generation] = true
		g.mu.Unlock()
	}
	if line.Level == "warn" || line.Level == "error" {
		g.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// generations are the generations seen so far, as the podium.generation header writes them.
func (g *generationTap) generations() map[string]bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]bool, len(g.gens))
	for id := range g.gens {
		out[strconv.FormatInt(int64(id), 10)] = true
	}
	return out
}

// An orchestrator whose batch is held past a rebalance writes nothing of it after its
// generation ended: instance A takes an order's start and is held building its first
// command; B joins, A's generation ends, B takes the partition over and runs the saga to
// completion; only then is A's batch let go. A must have written nothing of it — no
// command, no lifecycle or timeline event, no snapshot — and B's run is the only one.
func TestHeldOrchestratorBatchWritesNothingAfterItsGeneration(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	held := newHeldBuilder()
	sagaType := heldOrderSaga(s.saga, held)

	// Instance A runs outside the stack: it is stopped in a set order below, and its own
	// metrics and log tell its processors and generations apart from B's.
	tap := &generationTap{t: t, gens: map[int32]bool{}}
	cfgA := s.orchestratorConfig("orch-a")
	cfgA.Sagas = []orchestrator.SagaType{sagaType}
	cfgA.Metrics = orchestrator.NewMetrics(nil)
	cfgA.Logger = zerolog.New(tap).Level(zerolog.InfoLevel).With().Timestamp().Str("component", "orch-a").Logger()
	ctxA, stopA := context.WithCancel(s.ctx)
	var errA error
	doneA := make(chan struct{}) // closed once Run returned errA
	go func() {
		defer close(doneA)
		errA = orchestrator.Run(ctxA, cfgA)
	}()
	t.Cleanup(func() { // on an early failure: A's held call must not outlive the test
		stopA()
		held.let()
		select {
		case <-doneA:
		case <-time.After(30 * time.Second):
			t.Errorf("orch-a did not stop within 30s")
		}
	})

	o := s.gen.Make(sample.Happy)
	id := o.Placed.OrderID
	s.place(o)
	select {
	case <-held.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("orch-a never built the order's first command")
	}
	s.waitFor(30*time.Second, "orch-a to run every partition", func() (bool, string) {
		n := testutil.ToFloat64(cfgA.Metrics.OwnedPartitions)
		return n == testPartitions, fmt.Sprintf("orch-a runs %v partition processors", n)
	})
	gensA := tap.generations()
	if len(gensA) == 0 {
		t.Fatal("orch-a logged no generation")
	}

	// B joins. A's generation ends: its idle processors return, the held one cannot.
	s.start("orch-b", func(ctx context.Context) error {
		cfg := s.orchestratorConfig("orch-b")
		cfg.Sagas = []orchestrator.SagaType{sagaType}
		return orchestrator.Run(ctx, cfg)
	})
	s.waitFor(30*time.Second, "orch-a's generation to end", func() (bool, string) {
		n := testutil.ToFloat64(cfgA.Metrics.OwnedPartitions)
		return n == 1, fmt.Sprintf("orch-a still runs %v partition processors", n)
	})
	// The group moves on without A (A cannot rejoin before its held processor returns): B
	// restores the partition, applies the start again and runs the saga to its end.
	s.waitTerminal(60 * time.Second)
	if n := held.calls.Load(); n < 2 {
		t.Fatalf("the reserve-inventory builder ran %d times, want A's held call and B's", n)
	}

	// A leaves before its batch is let go, so that it never owns the partition again, then
	// finishes the batch of its ended generation. Cancelling Run does not end the held
	// processor's context (RunGroup detaches it from Run's): that ended with the generation.
	stopA()
	held.let()
	select {
	case <-held.returned:
	case <-time.After(30 * time.Second):
		t.Fatal("orch-a's held call never returned")
	}
	select {
	case <-doneA:
		if errA != nil {
			t.Errorf("orch-a stopped with an error: %v", errA)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("orch-a did not stop within 30s")
	}
	// Everything A would have written is on the wire by now: Run returns after its processors
	// and its producer are done.
	checkNothingFrom(t, s, id, gensA)
	s.checkEffects()
}

// checkNothingFrom checks that the saga id ran once, and that none of its records was
// written in one of the generations gensA: its reserve-inventory command is on
// inventory.commands once, no event on orders.events was written twice, no timeline
// record and no snapshot in podium.saga-state carries one of gensA.
func checkNothingFrom(t *testing.T, s *stack, id string, gensA map[string]bool) {
	t.Helper()
	commands := 0
	for _, m := range s.records(events.CommandsTopic("inventory"), testPartitions) {
		if string(m.Key) != id {
			continue
		}
		env, err := events.Decode(eventsRecord(m))
		if err != nil {
			t.Errorf("inventory.commands@%d: %v", m.Offset, err)
			continue
		}
		if env.Step == order.StepReserveInventory {
			commands++
		}
	}
	if commands != 1 {
		t.Errorf("%d %s commands of %s on inventory.commands, want 1: the held batch wrote after its generation", commands, order.StepReserveInventory, id)
	}

	seen := map[string]int{}
	for _, m := range s.records(events.TopicOrdersEvents, testPartitions) {
		if string(m.Key) != id {
			continue
		}
		env, err := events.Decode(eventsRecord(m))
		if err != nil {
			t.Errorf("orders.events@%d: %v", m.Offset, err)
			continue
		}
		seen[env.ID]++
		if n := seen[env.ID]; n == 2 {
			t.Errorf("event %s (%s) of %s written twice: the held batch wrote after its generation", env.ID, env.Type, id)
		}
		if env.Type != events.TypeSagaTimeline {
			continue
		}
		var tl events.SagaTimeline
		if err := env.DecodeData(&tl); err != nil {
			t.Errorf("timeline data: %v", err)
			continue
		}
		if gen := strconv.FormatInt(int64(tl.Generation), 10); gensA[gen] {
			t.Errorf("a timeline record of %s (version %d) written in orch-a's generation %s", id, tl.Version, gen)
		}
	}
	if len(seen) == 0 {
		t.Errorf("no event of %s on orders.events", id)
	}

	snapshots := 0
	for _, m := range s.records(events.TopicSagaState, testPartitions) {
		if string(m.Key) != id {
			continue
		}
		snapshots++
		if gen := header(m, orchestrator.HeaderGeneration); gensA[gen] {
			t.Errorf("a snapshot of %s at podium.saga-state@%d written in orch-a's generation %s", id, m.Offset, gen)
		}
	}
	if snapshots == 0 {
		t.Errorf("no snapshot of %s in podium.saga-state", id)
	}
}
