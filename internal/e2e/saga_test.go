// Package e2e holds podium's integration tests: whole sagas over the real Kafka protocol on
// the embedded broker, in process (this file) and with the built binary as separate
// processes (process_test.go). The package has no non-test code.
package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"
)

// TestEveryOutcome runs one order of every kind (and a mix after them) and checks the
// status, the reason and exactly the right compensations.
func TestEveryOutcome(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	s.place(s.mix(40)...)
	sum := s.waitTerminal(90 * time.Second)
	t.Logf("summary:\n%s", sum)
	for _, k := range sample.Kinds {
		want := sample.Expected(k)
		if want.Status == "cancelled" && sum.ByReason[want.Reason] == 0 {
			t.Errorf("no order was cancelled with reason %s", want.Reason)
		}
	}
	s.checkEffects()

	// The compensations ran in reverse dependency order: for an order whose shipping
	// failed, prepare-shipment was compensated before inventory and payment.
	for id, st := range s.states() {
		if !strings.Contains(st.Reason, "no_delivery_partner") && st.FailedStep != order.StepAssignDelivery {
			continue
		}
		checkReverseOrder(t, id, st, s.history(id))
	}
}

// checkReverseOrder checks in the history that each stage-2 compensation finished before
// any stage-1 compensation was dispatched.
func checkReverseOrder(t *testing.T, id string, st *saga.State, history []events.TimelineEntry) {
	t.Helper()
	lastStage2, firstStage1 := -1, -1
	for i, h := range history {
		if !strings.Contains(h.Kind, "compensat") {
			continue
		}
		switch h.Step {
		case order.StepPrepareShipment, order.StepAssignDelivery:
			lastStage2 = i
		case order.StepReserveInventory, order.StepAuthorizePayment:
			if firstStage1 < 0 {
				firstStage1 = i
			}
		}
	}
	if firstStage1 >= 0 && lastStage2 > firstStage1 && st.Steps[order.StepPrepareShipment] != nil &&
		st.Steps[order.StepPrepareShipment].Status == saga.StepCompensated {
		// A stage-2 compensation entry after a stage-1 one is allowed only for stage-2
		// steps that were never dispatched; prepare-shipment was, so this is wrong.
		t.Errorf("%s: a stage-1 compensation started (history %d) before stage 2 was compensated (history %d)", id, firstStage1, lastStage2)
	}
}

// TestDuplicateOrderPlaced places the same order twice while its saga runs, and again
// after it finished: one saga, one set of effects; the first duplicate is recorded in the
// saga's history, the second (the saga has left memory) recognised by the finished index.
func TestDuplicateOrderPlaced(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	o := s.gen.Make(sample.Happy)
	s.place(o, o)
	s.waitTerminal(60 * time.Second)
	s.waitFor(30*time.Second, "the duplicate in the saga's history", func() (bool, string) {
		h := s.history(o.Placed.OrderID)
		for _, e := range h {
			if strings.Contains(e.Kind, "duplicate") || strings.Contains(e.Detail, "duplicate") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d history entries, none a duplicate", len(h))
	})
	before := testutil.ToFloat64(s.metrics.Ignored.WithLabelValues("duplicate_start"))
	s.place(o)
	s.waitFor(30*time.Second, "the duplicate of a finished order to be ignored", func() (bool, string) {
		got := testutil.ToFloat64(s.metrics.Ignored.WithLabelValues("duplicate_start"))
		return got > before, fmt.Sprintf("%v duplicate starts ignored", got)
	})
	if st := s.states()[o.Placed.OrderID]; order.StatusOf(st) != order.StatusCompleted {
		t.Errorf("status after the duplicate = %s, want completed", order.StatusOf(st))
	}
	s.checkEffects()
}

// TestMalformedRecordsBecomeDeadLetters writes garbage to an input topic, a reply topic and
// a command topic: each becomes a dead letter with its reason, and the orders behind them
// complete.
func TestMalformedRecordsBecomeDeadLetters(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	bad := []kafkago.Message{
		{Topic: events.TopicOrdersPlaced, Key: []byte("bad-1"), Value: []byte(`{"order_id": "bad-1", "items": "not a list"}`)},
		{Topic: events.TopicOrdersPlaced, Key: []byte("bad-2"), Value: []byte(`not json at all`)},
		{Topic: events.RepliesTopic("inventory"), Key: []byte("bad-3"), Value: []byte(`{"specversion":"1.0"}`)},
		{Topic: events.CommandsTopic("payment"), Key: []byte("bad-4"), Value: []byte(`{"oops":`)},
		// As large as a record can be: its dead letter, with the dlq headers added, would not
		// fit a record if it were copied whole, and must not block the partition.
		{Topic: events.TopicOrdersPlaced, Key: []byte("bad-5"), Value: bytes.Repeat([]byte("{"), 1_048_400)},
	}
	if err := s.writer.WriteMessages(s.ctx, bad...); err != nil {
		t.Fatalf("writing malformed records: %v", err)
	}
	s.place(s.mix(8)...)
	s.waitTerminal(60 * time.Second)

	want := map[string]int{events.TopicOrdersDLQ: 4, events.DLQTopic("payment"): 1}
	for topic, n := range want {
		var got []kafkago.Message
		s.waitFor(20*time.Second, "dead letters on "+topic, func() (bool, string) {
			got = s.records(topic, dlqPartitions(t, s, topic))
			return len(got) >= n, fmt.Sprintf("%d records", len(got))
		})
		if len(got) != n {
			t.Errorf("%s holds %d records, want %d", topic, len(got), n)
		}
		for _, m := range got {
			if header(m, events.HeaderDLQReason) == "" || header(m, events.HeaderDLQTopic) == "" ||
				header(m, events.HeaderDLQOffset) == "" || header(m, events.HeaderDLQPartition) == "" {
				t.Errorf("%s record %q lacks dlq headers: %v", topic, m.Key, m.Headers)
			}
		}
	}
}

// TestDuplicateAfterRetention finishes an order, lets its retention pass (the finished
// snapshot is tombstoned) and places it again, before and after an orchestrator restart
// (the index then comes back from its records in podium.saga-state): no second saga.
func TestDuplicateAfterRetention(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	o := s.gen.Make(sample.Happy)
	id := o.Placed.OrderID
	s.place(o)
	s.waitTerminal(60 * time.Second)
	if st := s.states()[id]; st == nil || order.StatusOf(st) != order.StatusCompleted || st.Input != nil {
		t.Fatalf("finished snapshot: got %+v, want a completed marker without input", st)
	}
	var last []byte
	for _, m := range s.records(events.TopicSagaState, testPartitions) {
		if string(m.Key) == id {
			last = m.Value
		}
	}
	if len(last) == 0 || len(last) > 1024 {
		t.Errorf("the newest snapshot of the completed order is %d bytes, want 1..1024", len(last))
	}
	t.Logf("newest snapshot of a completed order: %d bytes", len(last))

	s.advance(orchestrator.MinRetention + 2*time.Minute)
	s.waitFor(30*time.Second, "the finished snapshot to be tombstoned", func() (bool, string) {
		st := s.states()[id]
		return st == nil, fmt.Sprintf("snapshot still there: %v", st != nil)
	})
	dispatched := len(s.history(id))
	for i, restart := range []bool{false, true} {
		if restart {
			s.stop("orchestrator")
			s.startOrchestrator("orchestrator")
		}
		before := testutil.ToFloat64(s.metrics.Ignored.WithLabelValues("duplicate_start"))
		s.place(o)
		s.waitFor(60*time.Second, "the duplicate to be ignored", func() (bool, string) {
			got := testutil.ToFloat64(s.metrics.Ignored.WithLabelValues("duplicate_start"))
			return got > before, fmt.Sprintf("%v duplicate starts ignored", got)
		})
		if st := s.states()[id]; st != nil {
			t.Errorf("duplicate %d started a saga again: %+v", i, st)
		}
		if got := len(s.history(id)); got != dispatched {
			t.Errorf("duplicate %d: timeline grew from %d to %d entries", i, dispatched, got)
		}
	}
	s.checkEffects()
}

// TestOversizedOrderIsDeadLettered places a valid OrderPlaced with a 180 KB unknown field
// between ordinary orders of the same partition: it becomes a dead letter (too_large), the
// others complete.
func TestOversizedOrderIsDeadLettered(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	big := s.gen.Make(sample.Happy)
	doc, err := json.Marshal(big.Placed)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(doc[:len(doc)-1:len(doc)-1], []byte(`,"notes":"`+strings.Repeat("x", 180<<10)+`"}`)...)
	home := pkafka.HomePartition([]byte(big.Placed.OrderID), testPartitions)
	var same []sample.Order // ordinary orders homed on the same partition
	for len(same) < 6 {
		o := s.gen.Make(sample.Happy)
		if pkafka.HomePartition([]byte(o.Placed.OrderID), testPartitions) == home {
			same = append(same, o)
		}
	}
	s.place(same[:3]...)
	if err := s.writer.WriteMessages(s.ctx, kafkago.Message{Topic: events.TopicOrdersPlaced, Key: []byte(big.Placed.OrderID), Value: padded}); err != nil {
		t.Fatalf("writing the oversized order: %v", err)
	}
	s.place(same[3:]...)
	s.waitTerminal(60 * time.Second)
	s.wantOneTooLarge(big.Placed.OrderID)
	if st := s.states()[big.Placed.OrderID]; st != nil {
		t.Errorf("the oversized order started a saga: %s", st.Status)
	}
	s.checkEffects()
}

// wantOneTooLarge waits for the dead letter of order id on orders.dlq and checks it is the
// only one, with reason too_large.
func (s *stack) wantOneTooLarge(id string) {
	s.t.Helper()
	var dead []kafkago.Message
	s.waitFor(20*time.Second, "the dead letter of "+id, func() (bool, string) {
		dead = s.records(events.TopicOrdersDLQ, dlqPartitions(s.t, s, events.TopicOrdersDLQ))
		return len(dead) > 0, fmt.Sprintf("%d dead letters", len(dead))
	})
	if len(dead) != 1 || string(dead[0].Key) != id || !strings.Contains(header(dead[0], events.HeaderDLQReason), orchestrator.RuleTooLarge) {
		s.t.Errorf("dead letters: got %d, first %q reason %q; want one for %s with reason %s",
			len(dead), dead[0].Key, header(dead[0], events.HeaderDLQReason), id, orchestrator.RuleTooLarge)
	}
}

func dlqPartitions(t *testing.T, s *stack, topic string) int {
	t.Helper()
	counts, err := pkafka.PartitionCounts(s.ctx, s.kafka, []string{topic})
	if err != nil || counts[topic] == 0 {
		t.Fatalf("partitions of %s: %v (%v)", topic, err, counts)
	}
	return counts[topic]
}

// TestForeignPartitionIsForwarded writes OrderPlaced records to partitions that are not
// their orders' home: the orchestrator forwards them and they complete.
func TestForeignPartitionIsForwarded(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	w := s.foreignWriter()
	orders := []sample.Order{s.gen.Make(sample.Happy), s.gen.Make(sample.OutOfStock), s.gen.Make(sample.Happy)}
	for _, o := range orders {
		m, err := client.OrderPlacedMessage(o.Placed)
		if err != nil {
			t.Fatal(err)
		}
		s.tracker.Placed(o, time.Now())
		if err := w.WriteMessages(s.ctx, m); err != nil {
			t.Fatalf("writing to a foreign partition: %v", err)
		}
	}
	s.waitTerminal(60 * time.Second)
	forwarded := 0
	for _, m := range s.records(events.TopicOrdersPlaced, testPartitions) {
		if header(m, "podium.forwarded-from") != "" {
			forwarded++
			if home := pkafka.HomePartition(m.Key, testPartitions); home != m.Partition {
				t.Errorf("forwarded %s landed on partition %d, want its home %d", m.Key, m.Partition, home)
			}
		}
	}
	if forwarded != len(orders) {
		t.Errorf("%d records forwarded, want %d", forwarded, len(orders))
	}
}

// TestOversizedForwardIsDeadLettered writes a valid OrderPlaced as large as a record can be
// to a foreign partition: its forward (the record plus a header) is refused by the broker
// for its size. That record alone becomes a dead letter; the orders written before and after
// it complete.
func TestOversizedForwardIsDeadLettered(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	w := s.foreignWriter()
	big := s.gen.Make(sample.Happy)
	doc, err := json.Marshal(big.Placed)
	if err != nil {
		t.Fatal(err)
	}
	// Just under what the broker accepts in one record batch (message.max.bytes 1,048,588,
	// less the batch and record overhead), and incompressible: the forwarding header tips
	// it over.
	noise := make([]byte, 600_000)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(noise)
	pad := hex.EncodeToString(noise)
	prefix := append(doc[:len(doc)-1:len(doc)-1], []byte(`,"notes":"`)...)
	pad = pad[:1_048_588-61-20-len(big.Placed.OrderID)-len(prefix)-2]
	value := append(prefix, []byte(pad+`"}`)...)
	before, after := s.gen.Make(sample.Happy), s.gen.Make(sample.Happy)
	for _, o := range []sample.Order{before, big, after} {
		m := kafkago.Message{Topic: events.TopicOrdersPlaced, Key: []byte(big.Placed.OrderID), Value: value}
		if o.Placed.OrderID != big.Placed.OrderID {
			s.tracker.Placed(o, time.Now())
			if m, err = client.OrderPlacedMessage(o.Placed); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteMessages(s.ctx, m); err != nil {
			t.Fatalf("writing %s to a foreign partition: %v", m.Key, err)
		}
	}
	s.waitTerminal(60 * time.Second)
	s.wantOneTooLarge(big.Placed.OrderID)
	s.checkEffects()
}

// foreignWriter writes every record to the partition after its key's home one, in
// batches of up to 2 MiB (the broker decides what it accepts).
func (s *stack) foreignWriter() *kafkago.Writer {
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(s.kafka.Brokers...),
		Balancer:     offByOne{},
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: time.Millisecond,
		BatchBytes:   2 << 20,
	}
	s.t.Cleanup(func() { _ = w.Close() })
	return w
}

// offByOne puts every record on the partition after its home one.
type offByOne struct{}

func (offByOne) Balance(m kafkago.Message, partitions ...int) int {
	return partitions[(pkafka.HomePartition(m.Key, len(partitions))+1)%len(partitions)]
}

// TestOrchestratorRestartMidFlight stops the orchestrator while orders are in flight and
// starts another: every order completes, and no handler runs twice for one key.
func TestOrchestratorRestartMidFlight(t *testing.T) {
	s := newStack(t, fastSaga())
	for _, w := range events.Workers {
		s.startWorker(w, workers.Faults{Latency: 20 * time.Millisecond})
	}
	s.startOrchestrator("orchestrator-1")
	s.place(s.mix(120)...)
	s.waitFor(60*time.Second, "some orders to finish", func() (bool, string) {
		sum := s.tracker.Summary()
		done := sum.Placed - len(sum.Pending)
		return done >= 10, fmt.Sprintf("%d terminal", done)
	})
	s.stop("orchestrator-1")
	if s.tracker.Pending() == 0 {
		t.Fatal("every order finished before the restart; the test proves nothing")
	}
	s.startOrchestrator("orchestrator-2")
	s.waitTerminal(120 * time.Second)
	s.checkEffects()
}

// TestWorkerRestartMidFlight restarts a worker while orders are in flight: stored replies
// are re-sent and no handler runs twice for one key.
func TestWorkerRestartMidFlight(t *testing.T) {
	s := newStack(t, fastSaga())
	for _, w := range events.Workers {
		s.startWorker(w, workers.Faults{Latency: 20 * time.Millisecond})
	}
	s.startOrchestrator("orchestrator")
	s.place(s.mix(80)...)
	s.waitFor(60*time.Second, "some orders to finish", func() (bool, string) {
		sum := s.tracker.Summary()
		done := sum.Placed - len(sum.Pending)
		return done >= 5, fmt.Sprintf("%d terminal", done)
	})
	s.stop("worker-seller")
	s.startWorker("seller", workers.Faults{})
	s.waitTerminal(120 * time.Second)
	s.checkEffects()
}

// TestRetryableErrorsAreRetried makes the payment worker answer half of its commands with a
// retryable error: the orchestrator retries and every order ends as it must.
func TestRetryableErrorsAreRetried(t *testing.T) {
	opts := fastSaga()
	opts.Retry.MaxAttempts = 12 // with p=0.5, 12 failures in a row is 1 in 4096 per step
	opts.CompensationRetry.MaxAttempts = 12
	s := newStack(t, opts)
	for _, w := range events.Workers {
		f := workers.Faults{}
		if w == "payment" {
			f = workers.Faults{ErrorRate: 0.5, Seed: 7}
		}
		s.startWorker(w, f)
	}
	s.startOrchestrator("orchestrator")
	s.place(s.mix(30)...)
	s.waitTerminal(90 * time.Second)
	retried := 0
	for _, st := range s.states() {
		if ps := st.Steps[order.StepAuthorizePayment]; ps != nil && ps.Do.Attempt > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Error("no payment step was retried: the injected errors did not reach the saga")
	}
	if got := testutil.ToFloat64(s.metrics.Retries); got < float64(retried) {
		t.Errorf("retries metric = %v, want at least %d", got, retried)
	}
	s.checkEffects()
}

// TestDroppedRepliesThenOperatorRetry makes the shipping worker drop every reply: the
// delivery step times out through its attempts, the order compensates, the compensation of
// the delivery (outcome unknown) also times out, and the saga fails. Once the worker is
// healthy again an operator's retry finishes the compensation: the order is cancelled.
func TestDroppedRepliesThenOperatorRetry(t *testing.T) {
	opts := fastSaga()
	opts.Timeout = 300 * time.Millisecond
	opts.CompensationTimeout = 300 * time.Millisecond
	s := newStack(t, opts)
	for _, w := range events.Workers {
		f := workers.Faults{}
		if w == "shipping" {
			f = workers.Faults{DropRate: 1, Seed: 1}
		}
		s.startWorker(w, f)
	}
	s.startOrchestrator("orchestrator")
	o := s.gen.Make(sample.Happy)
	s.tracker.Placed(sample.Order{Kind: o.Kind, Placed: o.Placed, Want: sample.Outcome{Status: "cancelled"}}, time.Now())
	if err := client.PlaceOrders(s.ctx, s.writer, []events.OrderPlaced{o.Placed}, 1, nil); err != nil {
		t.Fatal(err)
	}
	id := o.Placed.OrderID
	s.waitFor(60*time.Second, "the saga to fail", func() (bool, string) {
		st := s.states()[id]
		if st == nil {
			return false, "no saga"
		}
		return order.StatusOf(st) == order.StatusFailed, string(order.StatusOf(st))
	})
	st := s.states()[id]
	if d := st.Steps[order.StepAssignDelivery]; d == nil || d.Do.Attempt != opts.Retry.MaxAttempts {
		t.Errorf("assign-delivery attempts = %+v, want %d", d, opts.Retry.MaxAttempts)
	}
	// Reverse order: prepare-shipment (independent of the delivery) is compensated, while
	// inventory and payment wait behind the delivery's compensation.
	if got := st.Steps[order.StepPrepareShipment].Status; got != saga.StepCompensated {
		t.Errorf("prepare-shipment is %s, want compensated", got)
	}
	for _, step := range []string{order.StepReserveInventory, order.StepAuthorizePayment} {
		if got := st.Steps[step].Status; got != saga.StepSucceeded {
			t.Errorf("%s is %s, want succeeded (its compensation waits for the delivery's)", step, got)
		}
	}

	if got := testutil.ToFloat64(s.metrics.Timeouts); got < float64(opts.Retry.MaxAttempts) {
		t.Errorf("timeouts metric = %v, want at least %d", got, opts.Retry.MaxAttempts)
	}
	if got := testutil.ToFloat64(s.metrics.Compensations); got < 1 {
		t.Errorf("compensations metric = %v, want at least 1", got)
	}
	if got := testutil.CollectAndCount(s.metrics.StepLatency); got == 0 {
		t.Error("no step latency was observed")
	}

	s.stop("worker-shipping")
	s.startWorker("shipping", workers.Faults{})
	m, err := client.ControlMessage(events.TypeOrderRetry, events.ControlRequest{OrderID: id, Reason: "shipping fixed", RequestedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writer.WriteMessages(s.ctx, m); err != nil {
		t.Fatal(err)
	}
	s.waitFor(60*time.Second, "the retried order to be cancelled", func() (bool, string) {
		got := order.StatusOf(s.states()[id])
		return got == order.StatusCancelled, string(got)
	})
	s.waitTerminal(30 * time.Second)
	s.checkEffects()
}

// TestCancelWhileInFlight cancels an approved order whose shipment is slow: what was done
// is compensated and the order is cancelled; a cancel after completion is rejected.
func TestCancelWhileInFlight(t *testing.T) {
	s := newStack(t, fastSaga())
	for _, w := range events.Workers {
		f := workers.Faults{}
		if w == "seller" {
			f = workers.Faults{Latency: 1500 * time.Millisecond}
		}
		s.startWorker(w, f)
	}
	s.startOrchestrator("orchestrator")
	o := s.gen.Make(sample.Happy)
	s.tracker.Placed(sample.Order{Kind: o.Kind, Placed: o.Placed, Want: sample.Outcome{Status: "cancelled"}}, time.Now())
	if err := client.PlaceOrders(s.ctx, s.writer, []events.OrderPlaced{o.Placed}, 1, nil); err != nil {
		t.Fatal(err)
	}
	id := o.Placed.OrderID
	s.waitFor(30*time.Second, "the order to be approved", func() (bool, string) {
		st := s.states()[id]
		if st == nil {
			return false, "no saga"
		}
		return order.StatusOf(st) == order.StatusApproved, string(order.StatusOf(st))
	})
	s.control(events.TypeOrderCancel, id)
	s.waitTerminal(60 * time.Second)
	s.checkEffects()

	done := s.gen.Make(sample.Happy)
	s.place(done)
	s.waitTerminal(60 * time.Second)
	finishedBefore := testutil.ToFloat64(s.metrics.Ignored.WithLabelValues("finished"))
	s.control(events.TypeOrderCancel, done.Placed.OrderID)
	s.waitFor(30*time.Second, "the late cancel to be recorded", func() (bool, string) {
		got := testutil.ToFloat64(s.metrics.Ignored.WithLabelValues("finished"))
		return got > finishedBefore, fmt.Sprintf("%v records for finished orders ignored", got)
	})
	if got := order.StatusOf(s.states()[done.Placed.OrderID]); got != order.StatusCompleted {
		t.Errorf("a cancel after completion changed the status to %s", got)
	}
}

func (s *stack) control(typ, id string) {
	s.t.Helper()
	m, err := client.ControlMessage(typ, events.ControlRequest{OrderID: id, Reason: "test", RequestedBy: "test"})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.writer.WriteMessages(ctx, m); err != nil {
		s.t.Fatal(err)
	}
}
