package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/devstack"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// SagaOptions are the orchestrator's timing flags. Short timeouts make a chaos run move;
// generous attempt budgets keep an order from failing because a worker was down for a while;
// short windows make finished sagas expire during a run.
type SagaOptions struct {
	SessionTimeout          time.Duration
	StepTimeout             time.Duration
	MaxAttempts             int
	BackoffInitial          time.Duration
	BackoffMax              time.Duration
	CompensationTimeout     time.Duration
	CompensationMaxAttempts int
	// Retention and DedupeWindow are --retention and --dedupe-window. Zero: the
	// orchestrator's defaults (a day and a week: nothing expires during a run).
	Retention    time.Duration
	DedupeWindow time.Duration
}

// args renders the options as orchestrator flags.
func (o SagaOptions) args() []string {
	args := []string{
		"--session-timeout", o.SessionTimeout.String(),
		"--step-timeout", o.StepTimeout.String(),
		"--max-attempts", itoa(o.MaxAttempts),
		"--backoff-initial", o.BackoffInitial.String(),
		"--backoff-max", o.BackoffMax.String(),
		"--compensation-timeout", o.CompensationTimeout.String(),
		"--compensation-max-attempts", itoa(o.CompensationMaxAttempts),
	}
	if o.Retention > 0 {
		args = append(args, "--retention", o.Retention.String())
	}
	if o.DedupeWindow > 0 {
		args = append(args, "--dedupe-window", o.DedupeWindow.String())
	}
	return args
}

// ClusterConfig configures StartCluster.
type ClusterConfig struct {
	// Binary is the built podium binary. Required.
	Binary string
	// Dir holds the broker's data, the workers' effect files and the processes' log. Required.
	Dir string
	// Partitions of every podium topic. Default: 12.
	Partitions int
	// Saga are the orchestrator's timing flags.
	Saga SagaOptions
	// ProcessedRetention is the workers' --processed-retention. Zero: their default (a day).
	ProcessedRetention time.Duration
	// TombstoneRetention is delete.retention.ms of the compacted topics (the broker's
	// environment PODIUM_TOPIC_DELETE_RETENTION, the fallback of its --delete-retention):
	// how long a tombstone stays readable after compaction. The checker tells a saga
	// whose state was tombstoned after its retention from one whose state was lost by
	// the tombstone, so every tombstone of a run must still be there when it is
	// collected. Default: 6h.
	TombstoneRetention time.Duration
	// MinSessionTimeout is the broker's smallest accepted session timeout. Default: 1s.
	MinSessionTimeout time.Duration
	// Logger receives the harness's own messages.
	Logger zerolog.Logger
}

// Cluster is a podium whose every part is a separate process of the built binary: the
// broker (with a data directory, behind a Network), orchestrator instances and worker
// instances. Process names are free-form; by convention "orch-N" and "<worker>-N".
// Safe for concurrent use.
type Cluster struct {
	cfg ClusterConfig
	// Net is the fault network every process reaches the broker through.
	Net *Network
	// Kafka is the test's own client configuration: it reaches the broker directly.
	Kafka pkafka.Config
	// BrokerAddr is where the broker listens; processes are told Net.Addr() instead.
	BrokerAddr string

	sup  *devstack.Supervisor
	logs *logHub

	mu         sync.Mutex
	args       map[string][]string // last arguments of each process name
	expected   map[string]bool     // exits we caused
	paused     map[string]bool
	unexpected []string
}

// StartCluster starts the network and the broker and waits until every topic exists.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Partitions == 0 {
		cfg.Partitions = events.DefaultPartitions
	}
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = time.Second
	}
	if cfg.TombstoneRetention == 0 {
		cfg.TombstoneRetention = 6 * time.Hour
	}
	logs, err := newLogHub(filepath.Join(cfg.Dir, "processes.log"))
	if err != nil {
		return nil, err
	}
	port, err := devstack.FreePort()
	if err != nil {
		return nil, fmt.Errorf("finding a port for the broker: %w", err)
	}
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", port)
	nw, err := NewNetwork(brokerAddr, cfg.Logger)
	if err != nil {
		logs.close()
		return nil, err
	}
	sup := &devstack.Supervisor{Binary: cfg.Binary, Output: logs,
		Env: []string{"PODIUM_TOPIC_DELETE_RETENTION=" + cfg.TombstoneRetention.String()}}
	c := &Cluster{
		cfg:        cfg,
		Net:        nw,
		BrokerAddr: brokerAddr,
		Kafka:      pkafka.Config{Brokers: []string{nw.Addr()}, ClientID: "podium-chaos", Dial: DirectDial(nw.Addr(), brokerAddr)},
		sup:        sup,
		logs:       logs,
		args:       map[string][]string{},
		expected:   map[string]bool{},
		paused:     map[string]bool{},
	}
	if err := c.StartBroker(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// StartBroker starts (or restarts) the broker process and waits until it serves every topic.
func (c *Cluster) StartBroker(ctx context.Context) error {
	if err := c.start("broker", "broker", "--addr", c.BrokerAddr, "--advertise", c.Net.Addr(),
		"--data-dir", filepath.Join(c.cfg.Dir, "broker"), "--partitions", itoa(c.cfg.Partitions),
		"--min-session-timeout", c.cfg.MinSessionTimeout.String(), "--log-level", "warn"); err != nil {
		return err
	}
	topics := []string{events.TopicOrdersPlaced, events.TopicOrdersEvents, events.TopicSagaState}
	for _, w := range events.Workers {
		topics = append(topics, events.CommandsTopic(w), events.ProcessedTopic(w), events.DLQTopic(w))
	}
	return poll(ctx, 2*time.Minute, "the broker to serve every topic", func() (bool, string) {
		counts, err := pkafka.PartitionCounts(ctx, c.Kafka, topics)
		if err != nil {
			return false, err.Error()
		}
		for _, t := range topics {
			if counts[t] == 0 {
				return false, "topic " + t + " missing"
			}
		}
		return true, ""
	})
}

// RestartBroker kills the broker with SIGKILL and starts it again on the same address and
// data directory.
func (c *Cluster) RestartBroker(ctx context.Context, down time.Duration) error {
	if err := c.Kill("broker"); err != nil {
		return err
	}
	if err := sleep(ctx, down); err != nil {
		return err
	}
	return c.StartBroker(ctx)
}

// StartOrchestrator starts an orchestrator instance.
func (c *Cluster) StartOrchestrator(name string) error {
	args := append([]string{"orchestrator", "--kafka-brokers", c.Net.Addr(), "--partitions", itoa(c.cfg.Partitions),
		"--log-level", "info"}, c.cfg.Saga.args()...)
	return c.start(name, args...)
}

// StartWorker starts an instance of a reference worker; every instance of one worker shares
// one effects file, as a real service's instances share their database.
func (c *Cluster) StartWorker(worker, name string) error {
	args := []string{"worker", worker, "--kafka-brokers", c.Net.Addr(), "--partitions", itoa(c.cfg.Partitions),
		"--effects-file", c.EffectsFile(worker), "--log-level", "info"}
	if c.cfg.ProcessedRetention > 0 {
		args = append(args, "--processed-retention", c.cfg.ProcessedRetention.String())
	}
	return c.start(name, args...)
}

// EffectsFile is the effects file of a worker.
func (c *Cluster) EffectsFile(worker string) string {
	return filepath.Join(c.cfg.Dir, "effects-"+worker+".jsonl")
}

// EffectsFiles are the effects files of every reference worker.
func (c *Cluster) EffectsFiles() []string {
	out := make([]string, len(events.Workers))
	for i, w := range events.Workers {
		out[i] = c.EffectsFile(w)
	}
	return out
}

// Restart starts a process again with its last arguments.
func (c *Cluster) Restart(name string) error {
	c.mu.Lock()
	args, ok := c.args[name]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("process %s was never started", name)
	}
	return c.start(name, args...)
}

func (c *Cluster) start(name string, args ...string) error {
	c.mu.Lock()
	c.args[name] = args
	c.expected[name] = false
	c.paused[name] = false
	c.mu.Unlock()
	p, err := c.sup.Start(name, args...)
	if err != nil {
		return err
	}
	go func() {
		<-p.Done()
		tail := c.logs.tail(name, 30) // before c.mu: log callbacks take c.mu under the hub's lock
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.sup.Get(name) == p && !c.expected[name] {
			c.unexpected = append(c.unexpected, fmt.Sprintf("%s exited on its own: %v\n%s", name, p.Err(), tail))
		}
	}()
	return nil
}

// Kill sends SIGKILL to a process and waits for it to exit.
func (c *Cluster) Kill(name string) error {
	c.expect(name)
	return c.sup.Kill(name)
}

// KillNow sends SIGKILL without waiting (safe inside a log callback).
func (c *Cluster) KillNow(name string) error {
	p := c.sup.Get(name)
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	c.expect(name)
	return p.Signal(syscall.SIGKILL)
}

// Wait waits for a process to exit.
func (c *Cluster) Wait(ctx context.Context, name string) error {
	p := c.sup.Get(name)
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	select {
	case <-p.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop stops a process with SIGTERM, waiting up to grace before killing it.
func (c *Cluster) Stop(name string, grace time.Duration) error {
	c.expect(name)
	return c.sup.Stop(name, grace)
}

func (c *Cluster) expect(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expected[name] = true
	if c.paused[name] {
		// A stopped process cannot handle SIGTERM; SIGKILL works either way.
		if p := c.sup.Get(name); p != nil {
			_ = p.Signal(syscall.SIGCONT)
		}
		c.paused[name] = false
	}
}

// Pause stops a process with SIGSTOP: it keeps its sockets but does nothing.
func (c *Cluster) Pause(name string) error {
	p := c.sup.Get(name)
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	c.mu.Lock()
	c.paused[name] = true
	c.mu.Unlock()
	return p.Signal(syscall.SIGSTOP)
}

// Resume continues a paused process with SIGCONT.
func (c *Cluster) Resume(name string) error {
	p := c.sup.Get(name)
	if p == nil {
		return fmt.Errorf("no process %s", name)
	}
	c.mu.Lock()
	c.paused[name] = false
	c.mu.Unlock()
	return p.Signal(syscall.SIGCONT)
}

// Running returns the names of running processes starting with prefix, sorted.
func (c *Cluster) Running(prefix string) []string {
	c.mu.Lock()
	names := make([]string, 0, len(c.args))
	for n := range c.args {
		names = append(names, n)
	}
	c.mu.Unlock()
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		if p := c.sup.Get(n); p != nil {
			select {
			case <-p.Done():
			default:
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Unexpected lists the processes that exited without being told to, with their last lines.
func (c *Cluster) Unexpected() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.unexpected...)
}

// OnLine calls fn for every output line of every process (without the name prefix) until
// the returned function is called. fn runs on the process's output goroutine: it must not
// block and must not wait for a process to exit.
func (c *Cluster) OnLine(fn func(name string, line []byte)) (stop func()) {
	return c.logs.subscribe(fn)
}

// Tail returns the last n output lines of a process.
func (c *Cluster) Tail(name string, n int) string { return c.logs.tail(name, n) }

// LogPath is the file holding every process's output.
func (c *Cluster) LogPath() string { return c.logs.path }

// Close stops every process (resuming paused ones first) and the network.
func (c *Cluster) Close() {
	c.mu.Lock()
	for n := range c.args {
		c.expected[n] = true
		if c.paused[n] {
			if p := c.sup.Get(n); p != nil {
				_ = p.Signal(syscall.SIGCONT)
			}
		}
	}
	c.mu.Unlock()
	c.sup.StopAll(10 * time.Second)
	c.Net.Close()
	c.logs.close()
}

// logHub receives the supervisor's output ("[name] line\n" per Write), keeps it in a file
// and the last lines of each process in memory, and feeds subscribers.
type logHub struct {
	path string
	mu   sync.Mutex
	f    *os.File
	last map[string][]string
	subs map[int]func(string, []byte)
	next int
}

const tailLines = 200

func newLogHub(path string) (*logHub, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the process log: %w", err)
	}
	return &logHub{path: path, f: f, last: map[string][]string{}, subs: map[int]func(string, []byte){}}, nil
}

func (h *logHub) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, _ = h.f.Write(p)
	line := bytes.TrimRight(p, "\n")
	name := ""
	if len(line) > 0 && line[0] == '[' {
		if i := bytes.IndexByte(line, ']'); i > 0 {
			name = string(line[1:i])
			line = bytes.TrimPrefix(line[i+1:], []byte(" "))
		}
	}
	t := append(h.last[name], string(line))
	if len(t) > tailLines {
		t = t[len(t)-tailLines:]
	}
	h.last[name] = t
	for _, fn := range h.subs {
		fn(name, line)
	}
	return len(p), nil
}

func (h *logHub) subscribe(fn func(string, []byte)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.subs[id] = fn
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, id)
	}
}

func (h *logHub) tail(name string, n int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.last[name]
	if len(t) > n {
		t = t[len(t)-n:]
	}
	return strings.Join(t, "\n")
}

func (h *logHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	_ = h.f.Close()
}

// poll checks cond every 100ms until it holds, ctx ends or timeout passes; the error says
// what was last seen.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) error {
	return pollEvery(ctx, timeout, 100*time.Millisecond, what, cond)
}

// pollEvery is poll with another interval, for conditions that are costly to check.
func pollEvery(ctx context.Context, timeout, every time.Duration, what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting %s for %s; last seen: %s", timeout, what, seen)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("waiting for %s; last seen: %s", what, seen), ctx.Err())
		case <-tick.C:
		}
	}
}

// sleep waits d or until ctx ends: the length of a fault, never a synchronisation.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
