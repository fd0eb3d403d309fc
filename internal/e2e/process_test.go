package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/devstack"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
)

// podiumBinary builds cmd/podium once per test run and returns its path.
func podiumBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level test: skipped with -short")
	}
	bin, err := devstack.BuildPodium()
	if err != nil {
		t.Fatalf("building podium: %v", err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	devstack.RemoveBuilt()
	os.Exit(code)
}

// TestDevExit runs the README's first command as a user would, with --exit: every order
// and every return terminal, each outcome as the order or return demands, exit status 0.
func TestDevExit(t *testing.T) {
	bin := podiumBinary(t)
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	apiPort, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "dev", "--orders", "120", "--returns", "40", "--exit", "--timeout", "3m",
		"--broker-addr", "127.0.0.1:"+strconv.Itoa(port), "--api-addr", "127.0.0.1:"+strconv.Itoa(apiPort),
		"--orchestrator-metrics-addr", "", "--log-level", "warn")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("podium dev --exit: %v\nstdout:\n%s\nstderr (tail):\n%s", err, stdout.String(), devstack.Tail(stderr.String(), 40))
	}
	out := stdout.String()
	for _, want := range []string{"orders placed: 120, terminal: 120, pending: 0", "completed", "cancelled by reason:",
		"returns requested: 40, terminal: 40, pending: 0", "refunded", "rejected by reason:"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MISMATCHED") {
		t.Errorf("summary reports mismatched outcomes:\n%s", out)
	}
}

// processStack runs the broker, one orchestrator and the five workers as separate
// processes of the built binary.
type processStack struct {
	sup     *devstack.Supervisor
	out     *devstack.Output
	broker  string
	kafka   pkafka.Config
	metrics string // the orchestrator's /metrics URL
}

func startProcessStack(t *testing.T, extra ...string) *processStack {
	t.Helper()
	bin := podiumBinary(t)
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ps := &processStack{out: &devstack.Output{}, broker: "127.0.0.1:" + strconv.Itoa(port)}
	ps.sup = &devstack.Supervisor{Binary: bin, Output: ps.out}
	ps.kafka = pkafka.Config{Brokers: []string{ps.broker}, ClientID: "e2e-process"}
	t.Cleanup(func() {
		ps.sup.StopAll(10 * time.Second)
		if t.Failed() {
			t.Logf("warnings and errors (last 80):\n%s\nprocess output (tail):\n%s", devstack.Trouble(ps.out.String(), 80), devstack.Tail(ps.out.String(), 60))
		}
	})
	// The broker writes its ready file once its topics exist (it listens before).
	ready := filepath.Join(t.TempDir(), "broker.ready")
	proc, err := ps.sup.Start("broker", "broker", "--addr", ps.broker, "--partitions", "12", "--log-level", "warn", "--ready-file", ready)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := devstack.WaitFile(ctx, ready, proc); err != nil {
		t.Fatal(err)
	}
	common := append([]string{"--kafka-brokers", ps.broker, "--log-level", "warn"}, extra...)
	mport, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ps.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	orch := append([]string{"orchestrator", "--metrics-addr", fmt.Sprintf("127.0.0.1:%d", mport)}, common...)
	if _, err := ps.sup.Start("orchestrator", orch...); err != nil {
		t.Fatal(err)
	}
	for _, w := range events.Workers {
		if _, err := ps.sup.Start(w, append([]string{"worker", w}, common...)...); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// TestKcatProducedOrdersComplete produces bare OrderPlaced documents with kcat — with the
// Java client's partitioner, with kcat's default one, and without a key — and every order
// completes: records off their home partition are forwarded.
func TestKcatProducedOrdersComplete(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not installed (apt-get install kcat; .ci/run installs it): skipping the kcat producer test")
	}
	ps := startProcessStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tracking, err := client.Track(ctx, ps.kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer tracking.Close()

	g := sample.NewGenerator("kcat", 9)
	cases := []struct {
		name string
		args []string
		key  bool
	}{
		{"murmur2_random", []string{"-X", "partitioner=murmur2_random"}, true},
		{"kcat default partitioner", nil, true},
		{"no key", nil, false},
	}
	for _, c := range cases {
		var in strings.Builder
		for range 4 {
			o := g.Make(sample.Happy)
			tracking.Tracker.Placed(o, time.Now())
			doc, err := jsonOf(o.Placed)
			if err != nil {
				t.Fatal(err)
			}
			if c.key {
				fmt.Fprintf(&in, "%s|%s\n", o.Placed.OrderID, doc)
			} else {
				fmt.Fprintf(&in, "%s\n", doc)
			}
		}
		args := append([]string{"-P", "-b", ps.broker, "-t", events.TopicOrdersPlaced}, c.args...)
		if c.key {
			args = append(args, "-K", "|")
		}
		cmd := exec.CommandContext(ctx, kcat, args...)
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat (%s): %v\n%s", c.name, err, out)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for tracking.Tracker.Pending() > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	s := tracking.Tracker.Summary()
	if len(s.Pending) > 0 || len(s.Mismatches) > 0 || s.ByStatus["completed"] != 12 {
		t.Fatalf("kcat orders did not all complete:\n%s", s)
	}
}

// TestOrderPlaceWait drives the CLI: `podium order place --count N --mix --wait` places a
// mix covering every outcome and exits 0 once each order ended as it must.
func TestOrderPlaceWait(t *testing.T) {
	ps := startProcessStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, podiumBinary(t), "order", "place", "--kafka-brokers", ps.broker,
		"--count", "40", "--mix", "--wait", "--timeout", "2m", "--prefix", "wait")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podium order place --wait: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "orders placed: 40, terminal: 40, pending: 0") {
		t.Errorf("unexpected output:\n%s", out)
	}

	// The orchestrator's metrics moved with the orders.
	resp, err := http.Get(ps.metrics)
	if err != nil {
		t.Fatalf("GET %s: %v", ps.metrics, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`podium_orchestrator_records_total{topic="orders.placed"} 40`,
		`podium_orchestrator_lifecycle_events_total{type="podium.order.completed.v1"}`,
		`podium_orchestrator_compensations_total`,
		`podium_orchestrator_step_seconds_count{outcome="success",step="reserve-inventory"}`,
		`podium_orchestrator_owned_partitions 12`,
		`podium_orchestrator_consumer_lag{partition=`,
		`podium_orchestrator_restore_seconds_count 12`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func jsonOf(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// lifecycle follows orders.events and hands each order's lifecycle events to waiters.
type lifecycle struct {
	mu     sync.Mutex
	seen   map[string][]events.OrderLifecycle
	change chan struct{} // closed and replaced on every event
}

func followLifecycle(t *testing.T, ctx context.Context, cfg pkafka.Config) *lifecycle {
	t.Helper()
	starts, err := client.EndOffsets(ctx, cfg, events.TopicOrdersEvents)
	if err != nil {
		t.Fatal(err)
	}
	l := &lifecycle{seen: map[string][]events.OrderLifecycle{}, change: make(chan struct{})}
	go func() {
		_ = client.Follow(ctx, cfg, events.TopicOrdersEvents, starts, func(_ kafkago.Message, env events.Envelope, err error) {
			var e events.OrderLifecycle
			if err != nil || env.DecodeData(&e) != nil {
				return
			}
			l.mu.Lock()
			l.seen[e.OrderID] = append(l.seen[e.OrderID], e)
			close(l.change)
			l.change = make(chan struct{})
			l.mu.Unlock()
		})
	}()
	return l
}

// await returns the first lifecycle event of order id with the given status, failing the
// test when none arrives before ctx ends.
func (l *lifecycle) await(t *testing.T, ctx context.Context, id, status string) events.OrderLifecycle {
	t.Helper()
	for {
		l.mu.Lock()
		for _, e := range l.seen[id] {
			if e.Status == status {
				l.mu.Unlock()
				return e
			}
		}
		seen, change := fmt.Sprint(l.seen[id]), l.change
		l.mu.Unlock()
		select {
		case <-change:
		case <-ctx.Done():
			t.Fatalf("order %s never became %s; its lifecycle events: %s", id, status, seen)
		}
	}
}

// TestOrderCancelAndRetryCommands drives operator requests as an operator would, with the
// CLI against processes: `podium order cancel` stops an order that would otherwise
// complete, and `podium order retry` resumes a saga that failed because a worker ignored
// its compensation, once the worker is healthy again.
func TestOrderCancelAndRetryCommands(t *testing.T) {
	ps := startProcessStack(t)
	bin := podiumBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l := followLifecycle(t, ctx, ps.kafka)
	w := pkafka.NewProducer(ps.kafka)
	defer w.Close()
	g := sample.NewGenerator("cli", 5)
	podium := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, append(args, "--kafka-brokers", ps.broker)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podium %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	restart := func(name string, args ...string) {
		t.Helper()
		if err := ps.sup.Stop(name, 10*time.Second); err != nil {
			t.Logf("stopping %s: %v", name, err)
		}
		if _, err := ps.sup.Start(name, append(args, "--kafka-brokers", ps.broker, "--log-level", "warn")...); err != nil {
			t.Fatal(err)
		}
	}

	// Cancel: the seller takes 3s, well inside the step timeout, so without the request the
	// order would complete.
	restart("seller", "worker", "seller", "--latency", "3s")
	a := g.Make(sample.Happy).Placed
	if err := client.PlaceOrders(ctx, w, []events.OrderPlaced{a}, 1, nil); err != nil {
		t.Fatal(err)
	}
	l.await(t, ctx, a.OrderID, "approved")
	if out := podium("order", "cancel", a.OrderID, "--reason", "customer called"); !strings.Contains(out, "cancel applied to "+a.OrderID) {
		t.Errorf("podium order cancel printed %q", out)
	}
	if e := l.await(t, ctx, a.OrderID, "cancelled"); !strings.Contains(e.Reason, "customer called") {
		t.Errorf("cancelled with reason %q, want the operator's", e.Reason)
	}

	// Retry: shipping drops every reply, so assign-delivery times out, its compensation too,
	// and the saga fails; once shipping answers again, a retry finishes the compensation.
	restart("seller", "worker", "seller")
	restart("shipping", "worker", "shipping", "--drop-rate", "1")
	restart("orchestrator", "orchestrator", "--step-timeout", "500ms", "--max-attempts", "2",
		"--compensation-timeout", "500ms", "--compensation-max-attempts", "2", "--backoff-initial", "50ms", "--backoff-max", "100ms")
	b := g.Make(sample.Happy).Placed
	if err := client.PlaceOrders(ctx, w, []events.OrderPlaced{b}, 1, nil); err != nil {
		t.Fatal(err)
	}
	l.await(t, ctx, b.OrderID, "failed")
	restart("shipping", "worker", "shipping")
	if out := podium("order", "retry", b.OrderID); !strings.Contains(out, "retry applied to "+b.OrderID) {
		t.Errorf("podium order retry printed %q", out)
	}
	l.await(t, ctx, b.OrderID, "cancelled")
}
