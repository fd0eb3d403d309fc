package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/devbroker"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/sagas"
	"github.com/podiumhq/podium/workers"
)

// testStack is an embedded broker, an orchestrator running every built-in saga type and,
// if asked, the five reference workers, all in this process.
type testStack struct {
	broker string
	kafka  pkafka.Config
}

// startTestStack starts a testStack; t.Cleanup stops it and reports the errors of its
// parts.
func startTestStack(t *testing.T, withWorkers bool) *testStack {
	t.Helper()
	if testing.Short() {
		t.Skip("runs an embedded broker and an orchestrator: skipped with -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	const partitions = 4
	b, err := devbroker.Start(ctx, devbroker.Config{Addr: "127.0.0.1:0", Partitions: partitions, MinSessionTimeout: time.Second})
	if err != nil {
		cancel()
		t.Fatalf("starting the embedded broker: %v", err)
	}
	s := &testStack{broker: b.Addr(), kafka: pkafka.Config{Brokers: []string{b.Addr()}, ClientID: "cli-test"}}
	type part struct {
		name string
		done chan error
	}
	var parts []part
	start := func(name string, run func(context.Context) error) {
		p := part{name: name, done: make(chan error, 1)}
		go func() { p.done <- run(ctx) }()
		parts = append(parts, p)
	}
	t.Cleanup(func() {
		cancel()
		for _, p := range parts {
			if err := <-p.done; err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		}
		b.Close()
	})
	start("orchestrator", func(ctx context.Context) error {
		return orchestrator.Run(ctx, orchestrator.Config{Kafka: s.kafka, Sagas: sagas.BuiltinWith(order.Options{Timeout: time.Hour}),
			Partitions: partitions, SessionTimeout: 2 * time.Second})
	})
	groups := []string{"podium-orchestrator"}
	if withWorkers {
		for _, w := range events.Workers {
			h := referenceWorkers[w](workers.NewMemoryEffects())
			start(w, func(ctx context.Context) error {
				return workers.Run(ctx, workers.Config{Worker: w, Kafka: s.kafka, Partitions: partitions}, h)
			})
			groups = append(groups, workers.GroupIDFor(w))
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := client.WaitForGroups(wctx, s.kafka, groups); err != nil {
		t.Fatal(err)
	}
	return s
}

// runCLI runs `podium args...` in this process with stdin, and returns its output
// (stdout and stderr) and error.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&out)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// TestReturnRequestWait requests a mix of returns covering every outcome with `podium
// return request --mix --wait` on a stack with the reference workers: each return ends as
// it must, the summary says so, and the exit status is 0. A return read from stdin is
// refunded too.
func TestReturnRequestWait(t *testing.T) {
	s := startTestStack(t, true)
	n := 2 * len(sample.ReturnKinds)
	out, err := runCLI(t, "", "return", "request", "--kafka-brokers", s.broker, "--count", fmt.Sprint(n), "--mix", "--wait",
		"--timeout", "2m", "--prefix", "wait")
	if err != nil {
		t.Fatalf("podium return request --wait: %v\n%s", err, out)
	}
	for _, want := range []string{
		fmt.Sprintf("requested %d returns (wait-ret-000001 … wait-ret-%06d)", n, n),
		fmt.Sprintf("returns requested: %d, terminal: %d, pending: 0", n, n),
		"refunded", "rejected by reason:", "no_pickup_partner", "not_restockable", "refund_declined", "amount_exceeds_limit",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MISMATCHED") || strings.Contains(out, "orders placed") {
		t.Errorf("output reports mismatches or orders:\n%s", out)
	}

	doc, err := json.Marshal(sample.NewGenerator("stdin", 2).MakeReturn(sample.ReturnHappy).Requested)
	if err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, string(doc), "return", "request", "--kafka-brokers", s.broker, "--file", "-", "--wait", "--timeout", "1m")
	if err != nil {
		t.Fatalf("podium return request --file - --wait: %v\n%s", err, out)
	}
	for _, want := range []string{"requested stdin-ret-000001", "returns requested: 1, terminal: 1, pending: 0", "refunded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestReturnRequestValidates checks that a document from --file is validated before
// anything is sent (the broker address answers nothing), and the flags refused.
func TestReturnRequestValidates(t *testing.T) {
	valid := sample.NewGenerator("file", 1).MakeReturn(sample.ReturnHappy).Requested
	edit := func(f func(r *events.ReturnRequested)) string {
		r := valid
		r.Items = append([]events.Item(nil), valid.Items...)
		f(&r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		doc  string
		args []string
		want string
	}{
		{name: "refund not the sum", doc: edit(func(r *events.ReturnRequested) { r.Refund++ }), want: "refund"},
		{name: "no items", doc: edit(func(r *events.ReturnRequested) { r.Items = nil }), want: "items"},
		{name: "no return ID", doc: edit(func(r *events.ReturnRequested) { r.ReturnID = "" }), want: "return_id"},
		{name: "bad currency", doc: edit(func(r *events.ReturnRequested) { r.Currency = "euro" }), want: "currency"},
		{name: "not JSON", doc: "{", want: "decoding the document"},
		{name: "file and count", doc: edit(func(*events.ReturnRequested) {}), args: []string{"--count", "2"}, want: "exclude each other"},
		{name: "negative count", args: []string{"--count", "-1"}, want: "--count: want 0 or more"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"return", "request", "--kafka-brokers", "127.0.0.1:1"}
			if tt.doc != "" {
				path := filepath.Join(dir, fmt.Sprintf("return-%d.json", i))
				if err := os.WriteFile(path, []byte(tt.doc), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--file", path)
			}
			out, err := runCLI(t, "", append(args, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v (output %q), want an error containing %q", err, out, tt.want)
			}
		})
	}
}

// TestSagaControlReportsOutcome runs `podium saga cancel|retry` on returns against an
// orchestrator without workers (a requested return stays requested) and checks what each
// reports: applied (in the returns saga's words), rejected with its reason, unknown saga.
// It also cancels an order with the generic command.
func TestSagaControlReportsOutcome(t *testing.T) {
	s := startTestStack(t, false)
	ctx := context.Background()

	out, err := runCLI(t, "", "saga", "retry", "ret-unknown", "--kafka-brokers", s.broker, "--timeout", "30s")
	if exitCode(err) != exitUnknownOrder || !strings.Contains(err.Error(), "unknown saga") {
		t.Errorf("retry of an unknown saga: got %v (%q), want exit %d, unknown saga", err, out, exitUnknownOrder)
	}
	out, err = runCLI(t, "", "saga", "cancel", "ret-not-yet", "--kafka-brokers", s.broker, "--timeout", "30s")
	if exitCode(err) != exitUnknownOrder || !strings.Contains(err.Error(), "held") {
		t.Errorf("cancel of an unknown saga: got %v (%q), want exit %d, held", err, out, exitUnknownOrder)
	}

	g := sample.NewGenerator("sagactl", 1)
	o := g.Make(sample.Happy).Placed
	r := g.MakeReturn(sample.ReturnHappy).Requested
	w := pkafka.NewProducer(s.kafka)
	defer w.Close()
	if err := client.PlaceOrders(ctx, w, []events.OrderPlaced{o}, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := client.WriteReturns(ctx, w, []events.ReturnRequested{r}, 1, nil); err != nil {
		t.Fatal(err)
	}
	waitTimeline(t, s.kafka, o.OrderID)
	waitTimeline(t, s.kafka, r.ReturnID)

	out, err = runCLI(t, "", "saga", "retry", r.ReturnID, "--kafka-brokers", s.broker, "--timeout", "30s")
	if exitCode(err) != exitRejected || !strings.Contains(err.Error(), "invalid_status") || !strings.Contains(err.Error(), "requested") {
		t.Errorf("retry of a requested return: got %v (%q), want exit %d, invalid_status, requested", err, out, exitRejected)
	}
	out, err = runCLI(t, "", "saga", "cancel", r.ReturnID, "--kafka-brokers", s.broker, "--timeout", "30s")
	if err != nil {
		t.Errorf("cancel of a requested return: got %v, want applied", err)
	}
	if want := "cancel applied to " + r.ReturnID + ": the returns saga is rejecting"; !strings.Contains(out, want) {
		t.Errorf("cancel of a requested return printed %q, want %q", out, want)
	}
	out, err = runCLI(t, "", "saga", "cancel", o.OrderID, "--kafka-brokers", s.broker, "--timeout", "30s")
	if want := "cancel applied to " + o.OrderID + ": the order saga is cancelling"; err != nil || !strings.Contains(out, want) {
		t.Errorf("saga cancel of a pending order: got %v, %q; want %q", err, out, want)
	}
}
