package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	"github.com/podiumhq/podium/internal/devbroker"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/sagas"
)

// TestOrderControlReportsOutcome runs `podium order cancel|retry` against an embedded
// broker and an orchestrator (no workers: a placed order stays pending) and checks what
// each reports: applied, rejected with its reason, unknown order, and no answer.
func TestOrderControlReportsOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded broker and an orchestrator: skipped with -short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const partitions = 4
	b, err := devbroker.Start(ctx, devbroker.Config{Addr: "127.0.0.1:0", Partitions: partitions, MinSessionTimeout: time.Second})
	if err != nil {
		t.Fatalf("starting the embedded broker: %v", err)
	}
	defer b.Close()
	kcfg := pkafka.Config{Brokers: []string{b.Addr()}, ClientID: "cli-test"}

	// Without an orchestrator nobody answers.
	if err := runControl(t, "retry", "ord-nobody", b.Addr(), "1s"); exitCode(err) != exitNoAnswer {
		t.Errorf("no orchestrator: got %v, want exit %d", err, exitNoAnswer)
	}

	orch := make(chan error, 1)
	octx, stop := context.WithCancel(ctx)
	go func() {
		orch <- orchestrator.Run(octx, orchestrator.Config{Kafka: kcfg, Sagas: []orchestrator.SagaType{sagas.Order(order.Options{Timeout: time.Hour})},
			Partitions: partitions, SessionTimeout: 2 * time.Second})
	}()
	defer func() {
		stop()
		if err := <-orch; err != nil {
			t.Errorf("orchestrator: %v", err)
		}
	}()

	err = runControl(t, "retry", "ord-unknown", b.Addr(), "30s")
	if exitCode(err) != exitUnknownOrder || !strings.Contains(err.Error(), "unknown order") {
		t.Errorf("retry of an unknown order: got %v, want exit %d, unknown order", err, exitUnknownOrder)
	}
	err = runControl(t, "cancel", "ord-not-yet", b.Addr(), "30s")
	if exitCode(err) != exitUnknownOrder || !strings.Contains(err.Error(), "held") {
		t.Errorf("cancel of an unknown order: got %v, want exit %d, held", err, exitUnknownOrder)
	}

	o := sample.NewGenerator("cli", 1).Make(sample.Happy).Placed
	w := pkafka.NewProducer(kcfg)
	defer w.Close()
	if err := client.PlaceOrders(ctx, w, []events.OrderPlaced{o}, 1, nil); err != nil {
		t.Fatal(err)
	}
	waitTimeline(t, kcfg, o.OrderID)

	err = runControl(t, "retry", o.OrderID, b.Addr(), "30s")
	if exitCode(err) != exitRejected || !strings.Contains(err.Error(), "invalid_status") || !strings.Contains(err.Error(), "pending") {
		t.Errorf("retry of a pending order: got %v, want exit %d, invalid_status, pending", err, exitRejected)
	}
	var out bytes.Buffer
	if err := runControlTo(t, &out, "cancel", o.OrderID, b.Addr(), "30s"); err != nil {
		t.Errorf("cancel of a pending order: got %v, want applied", err)
	}
	if got := out.String(); !strings.Contains(got, "cancel applied to "+o.OrderID) || !strings.Contains(got, "cancelling") {
		t.Errorf("cancel of a pending order printed %q, want it applied and cancelling", got)
	}
	if err := runControl(t, "cancel", o.OrderID, b.Addr(), "bogus"); err == nil {
		t.Error("--timeout bogus: got no error")
	}
}

func runControl(t *testing.T, action, id, broker, timeout string) error {
	t.Helper()
	return runControlTo(t, &bytes.Buffer{}, action, id, broker, timeout)
}

func runControlTo(t *testing.T, out *bytes.Buffer, action, id, broker, timeout string) error {
	t.Helper()
	cmd := newOrderControlCmd(action)
	cmd.SetArgs([]string{id, "--kafka-brokers", broker, "--timeout", timeout})
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SilenceUsage = true
	return cmd.ExecuteContext(context.Background())
}

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	if err != nil {
		return 1
	}
	return 0
}

// waitTimeline waits for a timeline record of order id on orders.events: its saga exists.
func waitTimeline(t *testing.T, kcfg pkafka.Config, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found := false
	_ = client.Follow(ctx, kcfg, events.TopicOrdersEvents, nil, func(m kafkago.Message, env events.Envelope, err error) {
		if err == nil && env.Type == events.TypeSagaTimeline && string(m.Key) == id {
			found = true
			cancel()
		}
	})
	if !found {
		t.Fatalf("no timeline record of %s within 30s", id)
	}
}
