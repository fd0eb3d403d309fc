package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/devbroker"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/sagas"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/inventory"
	"github.com/podiumhq/podium/workers/notification"
	"github.com/podiumhq/podium/workers/payment"
	"github.com/podiumhq/podium/workers/seller"
	"github.com/podiumhq/podium/workers/shipping"
)

// testPartitions keeps the tests light: every mechanism works the same with 4 partitions.
const testPartitions = 4

// stack is a whole podium on an in-process embedded broker: orchestrator instances and the
// five reference workers run as goroutines, talking the real Kafka protocol.
type stack struct {
	t       *testing.T
	ctx     context.Context
	broker  *devbroker.Broker
	kafka   pkafka.Config
	saga    order.Options
	tracker *sample.Tracker
	gen     *sample.Generator
	writer  *pkafka.Producer
	log     zerolog.Logger

	mu        sync.Mutex
	procs     map[string]*running
	effects   map[string]*workers.MemoryEffects
	timelines map[string][]events.SagaTimeline // the timeline records read, by order
	outcomes  map[string][]controlOutcome      // answers to operator requests read, by order
	skew      atomic.Int64                     // added to the orchestrators' clock (see advance)
	metrics   *orchestrator.Metrics            // shared by every orchestrator instance of the stack
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

// fastSaga makes timeouts and backoffs short, so that retry paths finish in seconds.
func fastSaga() order.Options {
	return order.Options{
		Timeout:             2 * time.Second,
		Retry:               saga.RetryPolicy{MaxAttempts: 3, Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		CompensationTimeout: 2 * time.Second,
		CompensationRetry:   saga.RetryPolicy{MaxAttempts: 3, Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
	}
}

func newStack(t *testing.T, opts order.Options) *stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test on the embedded broker: skipped with -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	b, err := devbroker.Start(ctx, devbroker.Config{Addr: "127.0.0.1:0", Partitions: testPartitions, MinSessionTimeout: time.Second})
	if err != nil {
		t.Fatalf("starting the embedded broker: %v", err)
	}
	s := &stack{
		t: t, ctx: ctx, broker: b, saga: opts, log: log,
		kafka:     pkafka.Config{Brokers: []string{b.Addr()}, ClientID: "e2e"},
		tracker:   sample.NewTracker(),
		gen:       sample.NewGenerator(strings.ReplaceAll(t.Name(), "/", "-"), 42),
		procs:     map[string]*running{},
		effects:   map[string]*workers.MemoryEffects{},
		timelines: map[string][]events.SagaTimeline{},
		outcomes:  map[string][]controlOutcome{},
		metrics:   orchestrator.NewMetrics(nil),
	}
	s.writer = pkafka.NewProducer(s.kafka)
	t.Cleanup(func() {
		s.stopAll()
		_ = s.writer.Close()
		cancel()
		_ = b.Close()
	})
	go func() {
		err := client.Follow(ctx, s.kafka, events.TopicOrdersEvents, nil, func(_ kafkago.Message, env events.Envelope, err error) {
			if err != nil {
				t.Errorf("undecodable lifecycle event: %v", err)
				return
			}
			if env.Type == events.TypeSagaTimeline {
				var tl events.SagaTimeline
				if err := env.DecodeData(&tl); err != nil {
					t.Errorf("timeline data: %v", err)
					return
				}
				s.mu.Lock()
				s.timelines[tl.SagaID] = append(s.timelines[tl.SagaID], tl)
				s.mu.Unlock()
				return
			}
			if events.IsControlOutcomeType(env.Type) {
				var o events.ControlOutcome
				if err := env.DecodeData(&o); err != nil {
					t.Errorf("control outcome data: %v", err)
					return
				}
				s.mu.Lock()
				s.outcomes[env.Subject] = append(s.outcomes[env.Subject], controlOutcome{Type: env.Type, ControlOutcome: o})
				s.mu.Unlock()
				return
			}
			if env.Type == events.TypeSagaLifecycle {
				var l events.SagaLifecycle
				if err := env.DecodeData(&l); err != nil {
					t.Errorf("saga lifecycle data: %v", err)
					return
				}
				s.tracker.Observe(l.SagaID, l.Status, l.Reason, time.Now())
				return
			}
			if !events.IsLifecycleType(env.Type) {
				t.Errorf("unexpected type %s on %s", env.Type, events.TopicOrdersEvents)
				return
			}
			var l events.OrderLifecycle
			if err := env.DecodeData(&l); err != nil {
				t.Errorf("lifecycle data: %v", err)
				return
			}
			s.tracker.Observe(l.OrderID, l.Status, l.Reason, time.Now())
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("following orders.events: %v", err)
		}
	}()
	return s
}

func (s *stack) start(name string, run func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[name]; ok {
		s.t.Fatalf("%s is already running", name)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &running{cancel: cancel, done: make(chan error, 1)}
	s.procs[name] = r
	go func() { r.done <- run(ctx) }()
}

// stop cancels a process and waits for it to return cleanly.
func (s *stack) stop(name string) {
	s.t.Helper()
	s.mu.Lock()
	r, ok := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if !ok {
		s.t.Fatalf("%s is not running", name)
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			s.t.Errorf("%s stopped with an error: %v", name, err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatalf("%s did not stop within 30s", name)
	}
}

func (s *stack) stopAll() {
	s.mu.Lock()
	names := make([]string, 0, len(s.procs))
	for n := range s.procs {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		s.stop(n)
	}
}

// startOrchestrator starts an orchestrator instance named name.
// now is the orchestrators' clock: the wall clock moved on by advance.
func (s *stack) now() time.Time { return time.Now().Add(time.Duration(s.skew.Load())) }

// advance moves the orchestrators' clock forward by d (retention and dedupe windows pass
// without waiting for them; steps in flight time out as they would).
func (s *stack) advance(d time.Duration) { s.skew.Add(int64(d)) }

func (s *stack) startOrchestrator(name string) {
	s.start(name, func(ctx context.Context) error { return orchestrator.Run(ctx, s.orchestratorConfig(name)) })
}

// orchestratorConfig is the configuration of the stack's orchestrator instance name.
func (s *stack) orchestratorConfig(name string) orchestrator.Config {
	return orchestrator.Config{
		Kafka:          s.kafka,
		Sagas:          []orchestrator.SagaType{sagas.Order(s.saga)},
		Partitions:     testPartitions,
		SessionTimeout: 2 * time.Second,
		Retention:      orchestrator.MinRetention,
		DedupeWindow:   time.Hour,
		Now:            s.now,
		Logger:         s.log.With().Str("component", name).Logger(),
		Metrics:        s.metrics,
	}
}

var handlers = map[string]func(workers.EffectLog) workers.Handler{
	"inventory":    func(l workers.EffectLog) workers.Handler { return inventory.New(l) },
	"payment":      func(l workers.EffectLog) workers.Handler { return payment.New(l) },
	"seller":       func(l workers.EffectLog) workers.Handler { return seller.New(l) },
	"shipping":     func(l workers.EffectLog) workers.Handler { return shipping.New(l) },
	"notification": func(l workers.EffectLog) workers.Handler { return notification.New(l) },
}

// startWorker starts a reference worker. Its effect log outlives restarts, as a real
// service's database would.
func (s *stack) startWorker(name string, faults workers.Faults) {
	s.mu.Lock()
	eff, ok := s.effects[name]
	if !ok {
		eff = workers.NewMemoryEffects()
		s.effects[name] = eff
	}
	s.mu.Unlock()
	cfg := workers.Config{
		Worker:     name,
		Kafka:      s.kafka,
		Partitions: testPartitions,
		Faults:     faults,
		Logger:     s.log.With().Str("component", "worker-"+name).Logger(),
	}
	h := handlers[name](eff)
	s.start("worker-"+name, func(ctx context.Context) error { return workers.Run(ctx, cfg, h) })
}

func (s *stack) startWorkers() {
	for _, w := range events.Workers {
		s.startWorker(w, workers.Faults{})
	}
}

// place writes orders and tracks them.
func (s *stack) place(orders ...sample.Order) {
	s.t.Helper()
	ps := make([]events.OrderPlaced, len(orders))
	for i, o := range orders {
		s.tracker.Placed(o, time.Now())
		ps[i] = o.Placed
	}
	if err := client.PlaceOrders(s.ctx, s.writer, ps, 500, nil); err != nil {
		s.t.Fatalf("placing orders: %v", err)
	}
}

// mix returns n orders of the sample mix (the first ones cover every kind).
func (s *stack) mix(n int) []sample.Order {
	out := make([]sample.Order, n)
	for i := range out {
		out[i] = s.gen.Next()
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes, then fails with what it saw.
func (s *stack) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting %s for %s; saw: %s", timeout, what, seen)
		}
		<-tick.C
	}
}

// waitTerminal waits until every placed order is terminal and checks every outcome.
func (s *stack) waitTerminal(timeout time.Duration) sample.Summary {
	s.t.Helper()
	s.waitFor(timeout, "every order to be terminal", func() (bool, string) {
		sum := s.tracker.Summary()
		return len(sum.Pending) == 0, sum.String()
	})
	sum := s.tracker.Summary()
	if len(sum.Mismatches) > 0 {
		s.t.Errorf("outcomes differ from what the orders must produce:\n%s", sum)
	}
	return sum
}

// states reads the saga changelog: the latest snapshot of every saga.
// history is an order's timeline as read so far from orders.events: the entries of every
// timeline record, in order, a redelivered version once.
func (s *stack) history(id string) []events.TimelineEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.TimelineEntry
	var last uint64
	for _, tl := range s.timelines[id] {
		if tl.Version <= last {
			continue
		}
		last = tl.Version
		out = append(out, tl.Entries...)
	}
	return out
}

// states reads the last snapshot of every saga in podium.saga-state (finished sagas: their
// marker, until the retention tombstones it).
func (s *stack) states() map[string]*saga.State {
	s.t.Helper()
	out := map[string]*saga.State{}
	for p := range testPartitions {
		_, err := pkafka.ReadPartition(s.ctx, s.kafka, events.TopicSagaState, p, func(m kafkago.Message) error {
			if strings.HasPrefix(string(m.Key), orchestrator.IndexKeyPrefix) {
				return nil
			}
			if m.Value == nil {
				delete(out, string(m.Key))
				return nil
			}
			st, err := saga.DecodeState(m.Value)
			if err != nil {
				return fmt.Errorf("snapshot of %s: %w", m.Key, err)
			}
			if cur, ok := out[st.SagaID]; !ok || st.Version >= cur.Version {
				out[st.SagaID] = st
			}
			return nil
		})
		if err != nil {
			s.t.Fatalf("reading the saga changelog: %v", err)
		}
	}
	return out
}

// records reads every record of a topic (all partitions) up to its current end.
func (s *stack) records(topic string, partitions int) []kafkago.Message {
	s.t.Helper()
	var out []kafkago.Message
	for p := range partitions {
		_, err := pkafka.ReadPartition(s.ctx, s.kafka, topic, p, func(m kafkago.Message) error {
			out = append(out, m)
			return nil
		})
		if err != nil {
			s.t.Fatalf("reading %s: %v", topic, err)
		}
	}
	return out
}

func header(m kafkago.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// checkEffects verifies the workers' effects against the sagas' outcomes: each handler ran
// at most once per idempotency key; a completed saga has no compensation and an effect of
// every step with a compensation; a compensated saga has every such effect undone.
func (s *stack) checkEffects() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	byKey := map[string]workers.Effect{}
	for name, eff := range s.effects {
		for _, e := range eff.Effects() {
			if n := eff.Attempts(e.IdempotencyKey); n != 1 {
				s.t.Errorf("%s: handler ran %d times for %s, want 1", name, n, e.IdempotencyKey)
			}
			byKey[e.IdempotencyKey] = e
		}
	}
	for id, st := range s.states() {
		name, _, _ := strings.Cut(st.Definition, "@") // the steps compared here are every version's
		def := sagas.Definition(name)
		if def == nil {
			s.t.Errorf("%s: a saga of definition %q, which no built-in saga type has", id, st.Definition)
			continue
		}
		if st.Status == saga.StatusCompensated && st.FailedStep != "" {
			// A step that exhausted its attempts (OutcomeUnknown) may have acted and is
			// compensated; one answered with a business failure did nothing to undo.
			if f := st.Steps[st.FailedStep]; f != nil && f.Outcome == saga.OutcomeFailure && f.Undo.Attempt != 0 {
				s.t.Errorf("%s: %s failed with a business failure yet was compensated", id, st.FailedStep)
			}
		}
		for _, step := range def.Steps {
			if step.Undo == nil {
				continue
			}
			_, did := byKey[id+"/"+step.Name]
			_, undid := byKey[id+"/"+step.Name+"/undo"]
			switch {
			case st.Status == saga.StatusCompleted && undid:
				s.t.Errorf("%s completed but %s was compensated", id, step.Name)
			case st.Status == saga.StatusCompleted && !did:
				s.t.Errorf("%s completed without an effect of %s", id, step.Name)
			case st.Status == saga.StatusCompensated && did && !undid:
				s.t.Errorf("%s cancelled but the effect of %s was not compensated", id, step.Name)
			}
		}
	}
}
