package orchestrator

import (
	"encoding/json"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/internal/tracing/tracingtest"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

const (
	producerTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	operatorTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
)

// TestApplySpans follows one saga through the processor's spans without a broker: the
// start is a child of the producer's span and its commands carry its context; the timers
// fire in a child of the saga's stored context (the start's span) and the retries carry
// theirs; a cancel from another trace is a child of that trace, linked to the order's; a
// control record without a traceparent continues the order's trace.
func TestApplySpans(t *testing.T) {
	rec := tracingtest.Record(t)

	const id = "ord-trace-1"
	cfg := Config{Sagas: []SagaType{orderSaga(order.Options{})}, Kafka: pkafka.Config{Brokers: []string{"unused:9092"}}}.withDefaults()
	home := pkafka.HomePartition([]byte(id), cfg.Partitions)
	p := newProcessor(cfg, nil, pkafka.Assignment{Partition: home})
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// The start.
	placed := input(t, events.TopicOrdersPlaced, home, 1, events.TypeOrderPlaced, id, orderOf(id), producerTrace)
	out := newBatchOutput()
	p.handle(placed, now, out)
	start := onlySpan(t, out, rec)
	producer := tracing.SpanContext(producerTrace)
	if start.Parent().SpanID() != producer.SpanID() || start.SpanContext().TraceID() != producer.TraceID() {
		t.Errorf("start span: parent %s in trace %s, want the producer's %s in %s",
			start.Parent().SpanID(), start.SpanContext().TraceID(), producer.SpanID(), producer.TraceID())
	}
	checkAttr(t, start, tracing.AttrInputKind, "start")
	checkAttr(t, start, tracing.AttrSagaTransition, "->running")
	checkAttr(t, start, tracing.AttrCommands, "2")
	checkCommands(t, out, start, 2)
	if got := tracing.SpanContext(p.sagas[id].TraceParent); got.SpanID() != start.SpanContext().SpanID() {
		t.Errorf("the saga's stored context is span %s, want its start's %s", got.SpanID(), start.SpanContext().SpanID())
	}

	// The first attempts time out, then their retries are due: the timers' spans (as
	// process starts them) send the retries.
	for i, commands := range []int{0, 2} {
		out = newBatchOutput()
		s := p.sagas[id]
		p.startApply(nil, nil, id, s, saga.TimerInput(), out)
		p.apply(nil, id, s, saga.TimerInput(), "", now.Add(time.Duration(i+1)*time.Hour), out)
		timer := onlySpan(t, out, rec)
		if timer.Parent().SpanID() != start.SpanContext().SpanID() || timer.SpanKind() != trace.SpanKindInternal {
			t.Errorf("timer span: parent %s kind %v, want the start span %s, internal", timer.Parent().SpanID(), timer.SpanKind(), start.SpanContext().SpanID())
		}
		checkAttr(t, timer, tracing.AttrInputKind, "timer")
		checkAttr(t, timer, tracing.AttrStep, order.StepReserveInventory)
		checkCommands(t, out, timer, commands)
	}

	// A cancel traced by the operator's tool: its own trace, linked to the order's.
	out = newBatchOutput()
	cancel := input(t, events.TopicOrdersControl, home, 2, events.TypeOrderCancel, id,
		events.ControlRequest{OrderID: id, Reason: "test", RequestedBy: "test"}, operatorTrace)
	p.handle(cancel, now.Add(time.Hour), out)
	cancelled := onlySpan(t, out, rec)
	operator := tracing.SpanContext(operatorTrace)
	if cancelled.Parent().SpanID() != operator.SpanID() {
		t.Errorf("cancel span: parent %s, want the operator's %s", cancelled.Parent().SpanID(), operator.SpanID())
	}
	if links := cancelled.Links(); len(links) != 1 || links[0].SpanContext.TraceID() != producer.TraceID() {
		t.Errorf("cancel span links %v, want one to the order's trace %s", links, producer.TraceID())
	}
	checkAttr(t, cancelled, tracing.AttrSagaTransition, "running->compensating")

	// A control record without a traceparent continues the order's trace.
	out = newBatchOutput()
	p.handle(input(t, events.TopicOrdersControl, home, 3, events.TypeOrderRetry, id,
		events.ControlRequest{OrderID: id, Reason: "test", RequestedBy: "test"}, ""), now.Add(time.Hour), out)
	retried := onlySpan(t, out, rec)
	if retried.Parent().SpanID() != start.SpanContext().SpanID() || retried.SpanContext().TraceID() != producer.TraceID() {
		t.Errorf("retry span: parent %s in trace %s, want the start span %s in %s",
			retried.Parent().SpanID(), retried.SpanContext().TraceID(), start.SpanContext().SpanID(), producer.TraceID())
	}
}

// newBatchOutput is an empty batch output as process makes it.
func newBatchOutput() *batchOutput {
	return &batchOutput{dirty: make(map[string]bool), timeline: make(map[string][]saga.HistoryEntry),
		base: make(map[string]uint64), applied: make(map[string][]string)}
}

// onlySpan ends the batch's spans and returns its one span.
func onlySpan(t *testing.T, out *batchOutput, rec *tracetest.SpanRecorder) sdktrace.ReadOnlySpan {
	t.Helper()
	if len(out.spans) != 1 {
		t.Fatalf("the batch started %d spans, want 1", len(out.spans))
	}
	before := len(rec.Ended())
	out.endSpans(nil)
	ended := rec.Ended()
	if len(ended) != before+1 {
		t.Fatalf("%d spans ended, want 1", len(ended)-before)
	}
	sp := ended[len(ended)-1]
	if sp.Name() != tracing.SpanSagaApply {
		t.Errorf("span name %q, want %q", sp.Name(), tracing.SpanSagaApply)
	}
	checkAttr(t, sp, tracing.AttrSagaDefinition, "order")
	return sp
}

// checkCommands checks that the batch holds n commands, each carrying span's context.
func checkCommands(t *testing.T, out *batchOutput, span sdktrace.ReadOnlySpan, n int) {
	t.Helper()
	got := 0
	for _, m := range out.messages {
		env, err := events.Decode(toRecord(m))
		if err != nil {
			t.Fatalf("decoding %s: %v", m.Topic, err)
		}
		if env.IdempotencyKey == "" {
			continue // not a command
		}
		got++
		if sc := tracing.SpanContext(env.TraceParent); !sc.Equal(span.SpanContext().WithRemote(true)) {
			t.Errorf("command %s carries %q, want the context of span %s", env.IdempotencyKey, env.TraceParent, span.SpanContext().SpanID())
		}
	}
	if got != n {
		t.Errorf("%d commands, want %d", got, n)
	}
}

func checkAttr(t *testing.T, sp sdktrace.ReadOnlySpan, key attribute.Key, want string) {
	t.Helper()
	for _, kv := range sp.Attributes() {
		if kv.Key == key {
			if got := kv.Value.Emit(); got != want {
				t.Errorf("span attribute %s = %q, want %q", key, got, want)
			}
			return
		}
	}
	t.Errorf("span has no attribute %s, want %q", key, want)
}

// input encodes an event of type typ about order id as a record of topic.
func input(t *testing.T, topic string, partition int, offset int64, typ, id string, data any, traceparent string) kafkago.Message {
	t.Helper()
	env, err := events.NewEvent(typ, id, data)
	if err != nil {
		t.Fatal(err)
	}
	env.TraceParent = traceparent
	value, headers, err := events.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	return kafkago.Message{Topic: topic, Partition: partition, Offset: offset, Key: []byte(id), Value: value, Headers: toKafkaHeaders(headers)}
}

func orderOf(id string) json.RawMessage {
	return json.RawMessage(`{"order_id":"` + id + `","customer":{"id":"cus-7","email":"ada@example.com"},"seller_id":"sel-3",` +
		`"currency":"EUR","items":[{"sku":"SKU-RED-1","quantity":2,"unit_price":1999}],"total":3998,` +
		`"payment":{"token":"tok_visa"},"shipping_address":{"name":"Ada L.","line1":"1 Main St","city":"Berlin",` +
		`"postal_code":"10115","country":"DE"}}`)
}
