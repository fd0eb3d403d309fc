package workers

import (
	"context"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/internal/tracing/tracingtest"
)

// spanningHandler starts a span of its own from the context it is given.
type spanningHandler struct{ res Result }

func (h spanningHandler) Handle(ctx context.Context, _ Command) Result {
	_, span := otel.Tracer("test-handler").Start(ctx, "handler.work")
	span.End()
	return h.res
}

// TestProcessTracing: a command is handled in a span that is a child of its traceparent,
// the handler's spans are its children, the reply carries the span's context, the span
// ends once the batch is written; a repeat answered from the processed store is marked
// replayed; a batch that is not written ends its spans with an error.
func TestProcessTracing(t *testing.T) {
	rec := tracingtest.Record(t)

	p := newTestProcessor(t, spanningHandler{res: Success(map[string]string{"reservation_id": "res-1"})}, Faults{})
	cmd := reserveCommand(t, "ord-1", "cmd-1", 1, "SKU-1")
	parent := tracing.SpanContext(testTraceParent)

	out := byTopic(processAll(p, []kafkago.Message{record(t, cmd, home("ord-1"), 7)}))
	if n := countNamed(rec.Ended(), tracing.SpanWorkerHandle); n != 0 {
		t.Fatalf("%d worker spans ended before the batch was written, want 0", n)
	}
	p.commitPending()
	first := lastNamed(t, rec.Ended(), tracing.SpanWorkerHandle)
	if first.Parent().SpanID() != parent.SpanID() || first.SpanContext().TraceID() != parent.TraceID() {
		t.Errorf("worker span: parent %s in trace %s, want the command's %s in %s",
			first.Parent().SpanID(), first.SpanContext().TraceID(), parent.SpanID(), parent.TraceID())
	}
	if got := lastNamed(t, rec.Ended(), "handler.work").Parent().SpanID(); got != first.SpanContext().SpanID() {
		t.Errorf("the handler's span has parent %s, want the worker span %s", got, first.SpanContext().SpanID())
	}
	reply, _ := decodeReply(t, out["inventory.replies"][0])
	if got := tracing.SpanContext(reply.TraceParent); !got.Equal(first.SpanContext().WithRemote(true)) {
		t.Errorf("reply traceparent %q, want the worker span's context %v", reply.TraceParent, first.SpanContext())
	}
	wantAttrs := map[attribute.Key]string{
		tracing.AttrWorker: "inventory", tracing.AttrStep: "reserve-inventory", tracing.AttrAttempt: "1",
		tracing.AttrIdempotency: "ord-1/reserve-inventory", tracing.AttrOutcome: "success", tracing.AttrReplayed: "false",
		"messaging.system": "kafka", "messaging.destination.name": "inventory.commands", "messaging.kafka.offset": "7",
	}
	checkAttrs(t, first, wantAttrs)

	// The same command again: answered from the store.
	cmd.ID, cmd.Attempt = "cmd-2", 2
	processAll(p, []kafkago.Message{record(t, cmd, home("ord-1"), 8)})
	p.commitPending()
	wantAttrs[tracing.AttrReplayed], wantAttrs[tracing.AttrAttempt], wantAttrs["messaging.kafka.offset"] = "true", "2", "8"
	checkAttrs(t, lastNamed(t, rec.Ended(), tracing.SpanWorkerHandle), wantAttrs)

	// A batch that is not written.
	processAll(p, []kafkago.Message{record(t, reserveCommand(t, "ord-1", "cmd-3", 3, "SKU-1"), home("ord-1"), 9)})
	p.discardPending()
	if got := lastNamed(t, rec.Ended(), tracing.SpanWorkerHandle).Status().Code; got != codes.Error {
		t.Errorf("span of a batch not written: status %v, want Error", got)
	}
}

func countNamed(spans []sdktrace.ReadOnlySpan, name string) int {
	n := 0
	for _, s := range spans {
		if s.Name() == name {
			n++
		}
	}
	return n
}

func lastNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for i := len(spans) - 1; i >= 0; i-- {
		if spans[i].Name() == name {
			return spans[i]
		}
	}
	t.Fatalf("no span %s among %d", name, len(spans))
	return nil
}

func checkAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]string) {
	t.Helper()
	got := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		got[kv.Key] = kv.Value.Emit()
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("span %s: attribute %s = %q, want %q", s.Name(), k, got[k], w)
		}
	}
	if s.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("span %s: kind %v, want consumer", s.Name(), s.SpanKind())
	}
}
