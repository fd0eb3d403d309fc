package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// TestStartRecording: under the SDK the span is a child of the traceparent (or a root when
// there is none or it is invalid), and the traceparent returned is the span's own.
func TestStartRecording(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tracer := tp.Tracer("test")
	parentSC := SpanContext(parent)
	if !parentSC.IsValid() {
		t.Fatalf("SpanContext(%q) is not valid", parent)
	}
	tests := []struct {
		name, parent string
		child        bool
	}{
		{"child", parent, true},
		{"no parent", "", false},
		{"invalid parent", "00-zz-yy-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span, got := Start(context.Background(), tracer, SpanWorkerHandle, trace.SpanKindConsumer, tt.parent)
			span.End()
			sc := span.SpanContext()
			if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; got != want {
				t.Errorf("traceparent: got %q, want the span's %q", got, want)
			}
			if back := SpanContext(got); !back.Equal(sc.WithRemote(true)) {
				t.Errorf("SpanContext(%q) = %v, want %v", got, back, sc)
			}
			ended := rec.Ended()
			s := ended[len(ended)-1]
			if tt.child {
				if s.Parent().SpanID() != parentSC.SpanID() || sc.TraceID() != parentSC.TraceID() {
					t.Errorf("parent %v in trace %s, want %v in %s", s.Parent().SpanID(), sc.TraceID(), parentSC.SpanID(), parentSC.TraceID())
				}
				if !s.Parent().IsRemote() {
					t.Error("parent is not remote")
				}
			} else if s.Parent().IsValid() {
				t.Errorf("parent %v, want a root span", s.Parent())
			}
			if s.SpanKind() != trace.SpanKindConsumer || s.Name() != SpanWorkerHandle {
				t.Errorf("span %s of kind %v, want %s of kind consumer", s.Name(), s.SpanKind(), SpanWorkerHandle)
			}
		})
	}
}

// TestStartNoop: under a no-op provider the parent's traceparent passes through unchanged,
// and starting a span costs little.
func TestStartNoop(t *testing.T) {
	tracer := noop.NewTracerProvider().Tracer("test")
	for _, p := range []string{parent, "", "not-a-traceparent"} {
		span, got := Start(context.Background(), tracer, SpanSagaApply, trace.SpanKindConsumer, p)
		want := p
		if !SpanContext(p).IsValid() {
			want = ""
		}
		if got != want {
			t.Errorf("Start(%q): got %q, want %q", p, got, want)
		}
		if span.IsRecording() {
			t.Errorf("Start(%q): a recording span under the no-op provider", p)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		span, _ := Start(context.Background(), tracer, SpanSagaApply, trace.SpanKindConsumer, parent)
		span.End()
	})
	// Parsing the traceparent and the contexts holding it: a handful, no formatting.
	t.Logf("Start under the no-op provider: %v allocations", allocs)
	if allocs > 8 {
		t.Errorf("Start under the no-op provider: %v allocations, want at most 8", allocs)
	}
}
