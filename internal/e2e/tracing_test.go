package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/internal/tracing/tracingtest"
	"github.com/podiumhq/podium/orchestrator/order"
)

// producerTrace is the traceparent of the producers of the traced orders.
const producerTrace = "00-5a1e0f7e0d6c4b3a9f8e7d6c5b4a3921-7d3c2b1a09f8e7d6-01"

// TestTraceOneOrder runs one order that fails at a late step (no delivery partner: three
// compensations follow) from a traced OrderPlaced to its terminal event, and checks that
// it is one trace: every span in the producer's trace; the saga's start a child of the
// producer's span; each command carrying the context of the apply span that sent it; each
// worker span a child of its command's; each reply applied in a child of the worker span
// that sent it; a worker span per step attempt and per compensation.
func TestTraceOneOrder(t *testing.T) {
	rec := tracingtest.Record(t)
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	o := s.gen.Make(sample.NoDeliveryPartner)
	id := o.Placed.OrderID
	env, err := events.NewEvent(events.TypeOrderPlaced, id, o.Placed)
	if err != nil {
		t.Fatal(err)
	}
	env.TraceParent = producerTrace
	value, headers, err := events.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	s.tracker.Placed(o, time.Now())
	s.write(kafkago.Message{Topic: events.TopicOrdersPlaced, Key: []byte(id), Value: value, Headers: kafkaHeaders(headers)})
	s.waitTerminal(60 * time.Second)

	// What the order's saga sent and received, as written on the topics.
	commands := s.orderRecords(id, events.CommandsTopic)
	replies := s.orderRecords(id, events.RepliesTopic)
	wantKeys := []string{
		id + "/" + order.StepReserveInventory, id + "/" + order.StepAuthorizePayment,
		id + "/" + order.StepPrepareShipment, id + "/" + order.StepAssignDelivery,
		id + "/" + order.StepPrepareShipment + "/undo", id + "/" + order.StepReserveInventory + "/undo",
		id + "/" + order.StepAuthorizePayment + "/undo", id + "/" + order.StepSendCancellationNotice,
	}
	var gotKeys []string
	for _, c := range commands {
		gotKeys = append(gotKeys, c.IdempotencyKey)
	}
	if !sameSet(gotKeys, wantKeys) {
		t.Fatalf("commands sent: got %v, want %v", sorted(gotKeys), sorted(wantKeys))
	}

	// Spans end once their batch is written: wait for every one the order makes.
	var spans traceSpans
	s.waitFor(30*time.Second, "a span per command and per reply", func() (bool, string) {
		spans = spansOf(rec.Ended(), id)
		return len(spans.worker) == len(commands) && len(spans.replies) == len(replies),
			fmt.Sprintf("%d worker spans for %d commands, %d reply spans for %d replies", len(spans.worker), len(commands), len(spans.replies), len(replies))
	})

	t.Logf("the order's trace:\n%s", renderTrace(spans.all))
	want := tracing.SpanContext(producerTrace)
	for _, sp := range spans.all {
		if sp.SpanContext().TraceID() != want.TraceID() {
			t.Errorf("span %s (%s) is in trace %s, want the producer's %s", sp.Name(), attr(sp, tracing.AttrInputKind), sp.SpanContext().TraceID(), want.TraceID())
		}
	}
	if len(spans.start) != 1 {
		t.Fatalf("%d start spans, want 1", len(spans.start))
	}
	if p := spans.start[0].Parent(); p.SpanID() != want.SpanID() || !p.IsRemote() {
		t.Errorf("the saga's start span has parent %s (remote %v), want the producer's %s", p.SpanID(), p.IsRemote(), want.SpanID())
	}

	// Each command carries the context of the apply span that sent it, and is handled in a
	// child of it.
	applyBySpan := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans.apply {
		applyBySpan[sp.SpanContext().SpanID()] = sp
	}
	workerByCommand := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range spans.worker {
		workerByCommand[attr(sp, tracing.AttrCommandID)] = sp
	}
	for _, c := range commands {
		sent := tracing.SpanContext(c.TraceParent)
		sender, ok := applyBySpan[sent.SpanID()]
		if !ok {
			t.Errorf("command %s carries traceparent %q: no apply span of the order has its span ID", c.IdempotencyKey, c.TraceParent)
			continue
		}
		if sender.SpanContext().TraceID() != sent.TraceID() {
			t.Errorf("command %s: trace %s, its sender's %s", c.IdempotencyKey, sent.TraceID(), sender.SpanContext().TraceID())
		}
		// The span that sent it is the one that applied its cause (a timer's has neither).
		if got := attr(sender, semconv.MessagingMessageIDKey); got != c.CausationID {
			t.Errorf("command %s (caused by %q) carries the context of the span applying %q", c.IdempotencyKey, c.CausationID, got)
		}
		handled, ok := workerByCommand[c.ID]
		if !ok {
			t.Errorf("command %s (%s): no worker span", c.ID, c.IdempotencyKey)
			continue
		}
		if handled.Parent().SpanID() != sent.SpanID() {
			t.Errorf("worker span of %s: parent %s, want the sending apply span %s", c.IdempotencyKey, handled.Parent().SpanID(), sent.SpanID())
		}
		if got := attr(handled, tracing.AttrIdempotency); got != c.IdempotencyKey {
			t.Errorf("worker span of command %s: idempotency key %q, want %q", c.ID, got, c.IdempotencyKey)
		}
		if got, want := attr(handled, tracing.AttrAttempt), fmt.Sprint(c.Attempt); got != want {
			t.Errorf("worker span of %s: attempt %s, want %s", c.IdempotencyKey, got, want)
		}
	}

	// Each reply carries the context of the worker span that sent it, and is applied in a
	// child of it.
	workerBySpan := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans.worker {
		workerBySpan[sp.SpanContext().SpanID()] = sp
	}
	for _, r := range replies {
		sent := tracing.SpanContext(r.TraceParent)
		sender, ok := workerBySpan[sent.SpanID()]
		if !ok {
			t.Errorf("reply to %s carries traceparent %q: no worker span has its span ID", r.IdempotencyKey, r.TraceParent)
			continue
		}
		if got := attr(sender, tracing.AttrCommandID); got != r.CorrelationID {
			t.Errorf("reply to %s: sent by the span of command %s, want %s", r.IdempotencyKey, got, r.CorrelationID)
		}
		if got := attr(sender, tracing.AttrOutcome); got != r.Outcome {
			t.Errorf("worker span of %s: outcome %q, the reply's %q", r.IdempotencyKey, got, r.Outcome)
		}
		n := 0
		for _, sp := range spans.replies {
			if sp.Parent().SpanID() == sent.SpanID() {
				n++
				if got := attr(sp, tracing.AttrStep); got != r.Step {
					t.Errorf("apply span of the reply to %s: step %q, want %q", r.IdempotencyKey, got, r.Step)
				}
			}
		}
		if n != 1 {
			t.Errorf("reply to %s: %d apply spans are its children, want 1", r.IdempotencyKey, n)
		}
	}

	// The failure and the end of the saga are recorded on the spans that applied them.
	var transitions []string
	for _, sp := range spans.apply {
		if tr := attr(sp, tracing.AttrSagaTransition); tr != "" {
			transitions = append(transitions, tr)
		}
	}
	for _, want := range []string{"->running", "running->compensating", "compensating->compensated"} {
		if !slices.Contains(transitions, want) {
			t.Errorf("transitions recorded: %v, want %q among them", transitions, want)
		}
	}
}

// TestTraceBareOrderPlaced: a bare OrderPlaced (plain JSON, as kcat writes it) with a W3C
// traceparent Kafka header continues that trace.
func TestTraceBareOrderPlaced(t *testing.T) {
	rec := tracingtest.Record(t)
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startOrchestrator("orchestrator")
	o := s.gen.Make(sample.Happy)
	id := o.Placed.OrderID
	value, err := json.Marshal(o.Placed)
	if err != nil {
		t.Fatal(err)
	}
	s.tracker.Placed(o, time.Now())
	s.write(kafkago.Message{Topic: events.TopicOrdersPlaced, Key: []byte(id), Value: value,
		Headers: []kafkago.Header{{Key: "traceparent", Value: []byte(producerTrace)}}})
	s.waitTerminal(60 * time.Second)

	want := tracing.SpanContext(producerTrace)
	var spans traceSpans
	s.waitFor(30*time.Second, "the spans of the send-confirmation reply", func() (bool, string) {
		spans = spansOf(rec.Ended(), id)
		for _, sp := range spans.replies {
			if attr(sp, tracing.AttrStep) == order.StepSendConfirmation {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d spans", len(spans.all))
	})
	if len(spans.start) != 1 {
		t.Fatalf("%d start spans, want 1", len(spans.start))
	}
	if p := spans.start[0].Parent(); p.TraceID() != want.TraceID() || p.SpanID() != want.SpanID() {
		t.Errorf("the saga's start span has parent %s/%s, want the header's %s/%s", p.TraceID(), p.SpanID(), want.TraceID(), want.SpanID())
	}
	if len(spans.worker) == 0 {
		t.Fatal("no worker span")
	}
	for _, sp := range spans.all {
		if sp.SpanContext().TraceID() != want.TraceID() {
			t.Errorf("span %s is in trace %s, want the header's %s", sp.Name(), sp.SpanContext().TraceID(), want.TraceID())
		}
	}
}

// traceSpans are the ended spans of one order, by role.
type traceSpans struct {
	all, apply, start, replies, worker []sdktrace.ReadOnlySpan
}

func spansOf(ended []sdktrace.ReadOnlySpan, id string) traceSpans {
	var out traceSpans
	for _, sp := range ended {
		if attr(sp, tracing.AttrSagaID) != id {
			continue
		}
		out.all = append(out.all, sp)
		switch sp.Name() {
		case tracing.SpanSagaApply:
			out.apply = append(out.apply, sp)
			switch attr(sp, tracing.AttrInputKind) {
			case "start":
				out.start = append(out.start, sp)
			case "reply":
				out.replies = append(out.replies, sp)
			}
		case tracing.SpanWorkerHandle:
			out.worker = append(out.worker, sp)
		}
	}
	return out
}

// renderTrace draws spans as a tree, children in start order.
func renderTrace(spans []sdktrace.ReadOnlySpan) string {
	ids := map[trace.SpanID]bool{}
	for _, sp := range spans {
		ids[sp.SpanContext().SpanID()] = true
	}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		if p := sp.Parent().SpanID(); ids[p] {
			children[p] = append(children[p], sp)
		} else {
			roots = append(roots, sp)
		}
	}
	var b strings.Builder
	var draw func(sp sdktrace.ReadOnlySpan, depth int)
	draw = func(sp sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(&b, "%s%s %s %s %s#%s %s %s\n", strings.Repeat("  ", depth), sp.Name(), attr(sp, tracing.AttrWorker),
			attr(sp, tracing.AttrInputKind), attr(sp, tracing.AttrStep), attr(sp, tracing.AttrAttempt),
			attr(sp, tracing.AttrOutcome), attr(sp, tracing.AttrSagaTransition))
		kids := children[sp.SpanContext().SpanID()]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTime().Before(kids[j].StartTime()) })
		for _, c := range kids {
			draw(c, depth+1)
		}
	}
	for _, r := range roots {
		draw(r, 0)
	}
	return b.String()
}

func attr(sp sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range sp.Attributes() {
		if kv.Key == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// orderRecords decodes the records of order id on every worker's topic named by topicOf.
func (s *stack) orderRecords(id string, topicOf func(string) string) []events.Envelope {
	s.t.Helper()
	var out []events.Envelope
	for _, w := range events.Workers {
		for _, m := range s.records(topicOf(w), testPartitions) {
			if string(m.Key) != id {
				continue
			}
			env, err := events.Decode(eventsRecord(m))
			if err != nil {
				s.t.Fatalf("decoding %s@%d: %v", m.Topic, m.Offset, err)
			}
			out = append(out, env)
		}
	}
	return out
}

func (s *stack) write(msgs ...kafkago.Message) {
	s.t.Helper()
	if err := s.writer.WriteMessages(s.ctx, msgs...); err != nil {
		s.t.Fatalf("writing: %v", err)
	}
}

func eventsRecord(m kafkago.Message) events.Record {
	r := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, events.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

func kafkaHeaders(hs []events.Header) []kafkago.Header {
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(sorted(a), sorted(b))
}

func sorted(a []string) []string {
	a = slices.Clone(a)
	sort.Strings(a)
	return a
}
