package chaos

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/devbroker"
	pkafka "github.com/podiumhq/podium/internal/kafka"
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

// inProcess is a podium in one process on the embedded broker, for the faults that need a
// dial hook: each orchestrator instance reaches the broker through a toxiproxy proxy of
// its own (pkafka.Config.Dial), so one instance can be cut off while another takes over.
// The workers connect directly and keep their effects in files, like `podium worker
// --effects-file`.
type inProcess struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	broker  *devbroker.Broker
	net     *Network
	kafka   pkafka.Config // direct
	opts    order.Options
	session time.Duration
	load    *Load // the run's load, once started
	log     zerolog.Logger
	// orchLog is the orchestrators' logger: the log file, and watch.
	orchLog zerolog.Logger
	watch   *DuplicateWatch
	// clock is the orchestrators' clock, which a test may advance.
	clock *skewClock
	// snapshotInterval is the orchestrators' Config.SnapshotInterval (0: its default).
	snapshotInterval time.Duration

	mu      sync.Mutex
	running map[string]*goroutine
	effects map[string]*workers.FileEffects
}

type goroutine struct {
	cancel context.CancelFunc
	done   chan error
}

const inProcessPartitions = 4

// The in-process orchestrators' windows: the shortest accepted. Their clock (skewClock)
// lets a test make them pass at once.
const (
	inProcessRetention    = 2 * time.Minute
	inProcessDedupeWindow = 4 * time.Minute
)

// skewClock is the wall clock plus an offset that only grows: advancing it lets the
// orchestrators' retention and dedupe windows pass in an instant. Safe for concurrent use.
type skewClock struct{ offset atomic.Int64 }

func (c *skewClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock d forward.
func (c *skewClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// newInProcess starts the broker and a proxy for each named orchestrator instance.
func newInProcess(t *testing.T, dir string, session time.Duration, opts order.Options, instances ...string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logFile, err := os.Create(filepath.Join(dir, "inprocess.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(logFile).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	b, err := devbroker.Start(ctx, devbroker.Config{Addr: "127.0.0.1:0", Partitions: inProcessPartitions,
		MinSessionTimeout: time.Second, Logger: log.With().Str("component", "broker").Logger()})
	if err != nil {
		t.Fatalf("starting the embedded broker: %v", err)
	}
	nw, err := NewNetwork(b.Addr(), log, instances...)
	if err != nil {
		t.Fatal(err)
	}
	watch := NewDuplicateWatch()
	s := &inProcess{
		t: t, ctx: ctx, dir: dir, broker: b, net: nw, opts: opts, session: session, log: log,
		orchLog: zerolog.New(io.MultiWriter(logFile, watch)).Level(zerolog.InfoLevel).With().Timestamp().Logger(),
		watch:   watch,
		clock:   &skewClock{},
		kafka:   pkafka.Config{Brokers: []string{b.Addr()}, ClientID: "podium-chaos"},
		running: map[string]*goroutine{},
		effects: map[string]*workers.FileEffects{},
	}
	t.Cleanup(func() {
		s.stopAll()
		nw.Close()
		cancel()
		_ = b.Close()
		for _, fe := range s.effects {
			_ = fe.Close()
		}
		_ = logFile.Close()
	})
	return s
}

func (s *inProcess) start(name string, run func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithCancel(s.ctx)
	g := &goroutine{cancel: cancel, done: make(chan error, 1)}
	s.running[name] = g
	go func() { g.done <- run(ctx) }()
}

// stop cancels a component and waits for it to return.
func (s *inProcess) stop(name string) {
	s.t.Helper()
	s.mu.Lock()
	g, ok := s.running[name]
	delete(s.running, name)
	s.mu.Unlock()
	if !ok {
		return
	}
	g.cancel()
	select {
	case err := <-g.done:
		if err != nil {
			s.t.Errorf("%s stopped with an error: %v", name, err)
		}
	case <-time.After(2 * time.Minute):
		s.t.Errorf("%s did not stop within 2 minutes", name)
	}
}

func (s *inProcess) stopAll() {
	s.mu.Lock()
	var names []string
	for n := range s.running {
		names = append(names, n)
	}
	s.mu.Unlock()
	for _, n := range names {
		s.stop(n)
	}
}

// startOrchestrator runs an orchestrator instance behind its own proxy.
func (s *inProcess) startOrchestrator(name string) {
	cfg := orchestrator.Config{
		Kafka: pkafka.Config{Brokers: []string{s.broker.Addr()}, ClientID: "podium-orchestrator",
			Dial: ViaProxy(s.net.ProxyAddr(name))},
		Sagas:            []orchestrator.SagaType{sagas.Order(s.opts)},
		Partitions:       inProcessPartitions,
		SessionTimeout:   s.session,
		SnapshotInterval: s.snapshotInterval,
		Retention:        inProcessRetention,
		DedupeWindow:     inProcessDedupeWindow,
		Now:              s.clock.Now,
		Logger:           s.orchLog.With().Str("component", "orchestrator").Str("instance", name).Logger(),
	}
	s.start(name, func(ctx context.Context) error { return orchestrator.Run(ctx, cfg) })
}

var referenceHandlers = map[string]func(workers.EffectLog) workers.Handler{
	"inventory":    func(l workers.EffectLog) workers.Handler { return inventory.New(l) },
	"payment":      func(l workers.EffectLog) workers.Handler { return payment.New(l) },
	"seller":       func(l workers.EffectLog) workers.Handler { return seller.New(l) },
	"shipping":     func(l workers.EffectLog) workers.Handler { return shipping.New(l) },
	"notification": func(l workers.EffectLog) workers.Handler { return notification.New(l) },
}

// startWorkers runs the five reference workers, connected directly, effects in files.
func (s *inProcess) startWorkers() {
	s.t.Helper()
	for _, w := range events.Workers {
		fe, err := workers.OpenFileEffects(s.effectsFile(w))
		if err != nil {
			s.t.Fatal(err)
		}
		s.mu.Lock()
		s.effects[w] = fe
		s.mu.Unlock()
		cfg := workers.Config{
			Worker:     w,
			Kafka:      pkafka.Config{Brokers: []string{s.broker.Addr()}, ClientID: "podium-worker-" + w},
			Partitions: inProcessPartitions,
			Logger:     s.log.With().Str("component", "worker").Str("worker", w).Logger(),
		}
		h := referenceHandlers[w](fe)
		s.start("worker-"+w, func(ctx context.Context) error { return workers.Run(ctx, cfg, h) })
	}
}

func (s *inProcess) effectsFile(worker string) string {
	return filepath.Join(s.dir, "effects-"+worker+".jsonl")
}

func (s *inProcess) effectsFiles() []string {
	out := make([]string, len(events.Workers))
	for i, w := range events.Workers {
		out[i] = s.effectsFile(w)
	}
	return out
}

// networkSaga keeps steps short and the attempt budget long (25 × 3s), as chaosSaga does.
func networkSaga() order.Options {
	return order.Options{
		Timeout:             3 * time.Second,
		Retry:               saga.RetryPolicy{MaxAttempts: 25, Initial: 200 * time.Millisecond, Max: 2 * time.Second},
		CompensationTimeout: 3 * time.Second,
		CompensationRetry:   saga.RetryPolicy{MaxAttempts: 40, Initial: 200 * time.Millisecond, Max: 2 * time.Second},
	}
}
