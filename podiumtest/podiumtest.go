// Package podiumtest runs a whole podium inside a test: an embedded Kafka-protocol broker
// (franz-go's kfake, in memory), the topics of the given saga types, an orchestrator and one
// worker per handler, all as goroutines of the test process and all speaking the real Kafka
// protocol. It is for the tests of programs that define their own sagas and workers:
//
//	stack := podiumtest.Start(t, podiumtest.Config{
//		Sagas:   []orchestrator.SagaType{trip.Saga()},
//		Workers: map[string]workers.Handler{"flights": flights, "hotels": hotels},
//	})
//	stack.Client().Start(ctx, "trips.requested", "trip.requested.v1", "trip-1", req)
//	outcome, err := stack.Await(ctx, "trip-1")
//
// Start stops everything when the test ends (t.Cleanup). A Stack is safe for concurrent use.
package podiumtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	iclient "github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/devbroker"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/kafkaconf"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/workers"
)

// Config configures Start.
type Config struct {
	// Sagas are the saga types the orchestrator runs. Required.
	Sagas []orchestrator.SagaType
	// Workers are the handlers of the workers, by worker name. Every worker that a
	// definition of Sagas uses needs one.
	Workers map[string]workers.Handler
	// Partitions is the partition count of every topic. Default: 4.
	Partitions int
	// Orchestrator, when set, adjusts the orchestrator's configuration after Start filled it
	// in (Kafka, Sagas, Partitions, a short session timeout, Logger).
	Orchestrator func(*orchestrator.Config)
	// Worker, when set, adjusts each worker's configuration the same way.
	Worker func(*workers.Config)
	// Logger receives the logs of every component. Default: warnings and errors to the
	// test's log.
	Logger *zerolog.Logger
}

// Outcome is how a saga ended, as its lifecycle event on orders.events says.
type Outcome struct {
	SagaID string
	// Event is events.LifecycleCompleted, LifecycleCompensated or LifecycleFailed.
	Event string
	// Status is the saga's final status as its definition labels it ("completed",
	// "cancelled", "refunded", ...).
	Status string
	// Reason and Step say why a saga compensated or failed.
	Reason, Step string
}

// Stack is a running podium. Make one with Start.
type Stack struct {
	kafka  kafkaconf.Config
	client *client.Client

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever an outcome arrives
	outcomes map[string]Outcome
}

// Start starts a broker, creates the topics, and runs the orchestrator and the workers until
// the test ends. It fails the test at once when something cannot start.
func Start(t testing.TB, cfg Config) *Stack {
	t.Helper()
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	var starts, names []string
	for _, st := range cfg.Sagas {
		if !slices.Contains(starts, st.Topic) {
			starts = append(starts, st.Topic)
		}
		if st.Definition == nil {
			t.Fatalf("podiumtest: saga type %s has no definition", st.Start)
		}
		for _, w := range st.Definition.Workers {
			if !slices.Contains(names, w) {
				names = append(names, w)
			}
		}
	}
	var missing []string
	for _, w := range names {
		if cfg.Workers[w] == nil {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("podiumtest: no handler for worker(s) %v", missing)
	}

	ctx, cancel := context.WithCancel(context.Background())
	broker, err := devbroker.Start(ctx, devbroker.Config{
		Addr: "127.0.0.1:0", InMemory: true, Partitions: cfg.Partitions, MinSessionTimeout: time.Second,
		Topics: pkafka.SagaTopics(cfg.Partitions, starts, names), Logger: log.With().Str("component", "broker").Logger(),
	})
	if err != nil {
		cancel()
		t.Fatalf("podiumtest: starting the broker: %v", err)
	}
	s := &Stack{
		kafka:    kafkaconf.Config{Brokers: []string{broker.Addr()}, ClientID: "podiumtest"},
		changed:  make(chan struct{}),
		outcomes: map[string]Outcome{},
	}
	if s.client, err = client.New(s.kafka); err != nil {
		cancel()
		_ = broker.Close()
		t.Fatalf("podiumtest: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(names)+2)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = s.client.Close()
		_ = broker.Close()
		close(errs)
		for err := range errs {
			t.Errorf("podiumtest: %v", err)
		}
	})

	ocfg := orchestrator.Config{
		Kafka: s.kafka, Sagas: cfg.Sagas, Partitions: cfg.Partitions, SessionTimeout: 2 * time.Second,
		Logger: log.With().Str("component", "orchestrator").Logger(),
	}
	if cfg.Orchestrator != nil {
		cfg.Orchestrator(&ocfg)
	}
	run("orchestrator", func(ctx context.Context) error { return orchestrator.Run(ctx, ocfg) })
	for _, w := range names {
		wcfg := workers.Config{Worker: w, Kafka: s.kafka, Partitions: cfg.Partitions,
			Logger: log.With().Str("component", "worker-"+w).Logger()}
		if cfg.Worker != nil {
			cfg.Worker(&wcfg)
		}
		h := cfg.Workers[w]
		run("worker "+w, func(ctx context.Context) error { return workers.Run(ctx, wcfg, h) })
	}
	run("lifecycle follower", func(ctx context.Context) error {
		return iclient.Follow(ctx, s.kafka, events.TopicOrdersEvents, nil, func(_ kafkago.Message, env events.Envelope, err error) {
			if err == nil {
				s.observe(env)
			}
		})
	})
	return s
}

// Kafka is the configuration that reaches the stack's broker.
func (s *Stack) Kafka() kafkaconf.Config { return s.kafka }

// Client publishes to the stack: starts sagas, sends cancels and retries. Do not close it.
func (s *Stack) Client() *client.Client { return s.client }

// Await waits until the saga sagaID has finished (completed, compensated or failed) and
// returns how. It returns ctx's error if the saga does not finish before ctx ends.
func (s *Stack) Await(ctx context.Context, sagaID string) (Outcome, error) {
	for {
		s.mu.Lock()
		o, ok := s.outcomes[sagaID]
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return o, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Outcome{}, fmt.Errorf("awaiting saga %s: %w", sagaID, context.Cause(ctx))
		}
	}
}

// Outcomes returns the outcome of every saga that finished so far, by saga ID.
func (s *Stack) Outcomes() map[string]Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Outcome, len(s.outcomes))
	for id, o := range s.outcomes {
		out[id] = o
	}
	return out
}

// observe notes the final lifecycle events: podium.saga.lifecycle.v1 of any saga type and
// the order saga's podium.order.*.v1.
func (s *Stack) observe(env events.Envelope) {
	var o Outcome
	switch env.Type {
	case events.TypeSagaLifecycle:
		var l events.SagaLifecycle
		if env.DecodeData(&l) != nil || l.Event == events.LifecycleMilestone {
			return
		}
		o = Outcome{SagaID: l.SagaID, Event: l.Event, Status: l.Status, Reason: l.Reason, Step: l.Step}
	case events.TypeOrderCompleted, events.TypeOrderCancelled, events.TypeOrderFailed:
		var l events.OrderLifecycle
		if env.DecodeData(&l) != nil {
			return
		}
		o = Outcome{SagaID: l.OrderID, Status: l.Status, Reason: l.Reason, Step: l.Step}
		o.Event = map[string]string{events.TypeOrderCompleted: events.LifecycleCompleted,
			events.TypeOrderCancelled: events.LifecycleCompensated, events.TypeOrderFailed: events.LifecycleFailed}[env.Type]
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[o.SagaID] = o
	close(s.changed)
	s.changed = make(chan struct{})
}
