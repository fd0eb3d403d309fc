package orchestrator

import (
	"context"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// tracerName is the instrumentation scope of the orchestrator's spans.
const tracerName = "github.com/podiumhq/podium/orchestrator"

// applySpan is the span of one input applied to a saga (tracing.SpanSagaApply): a child of
// the input record's traceparent (an OrderPlaced: its producer's; a reply: the worker's
// span), or of the saga's stored context for a timer or a record without one. Everything
// the input makes the processor publish carries traceparent, the span's context. The span
// ends when the batch it belongs to is written (batchOutput.endSpans).
type applySpan struct {
	span        trace.Span
	traceparent string
	timer       bool // its step and attempt are those of the first timer fired
}

// startApply starts the span of input in for saga id (s: its state, nil before the start),
// read from record m with envelope env (both nil for timers), and makes it the batch's
// current span, which apply takes.
func (p *processor) startApply(m *kafkago.Message, env *events.Envelope, id string, s *saga.State, in saga.Input, out *batchOutput) {
	parent, kind := "", trace.SpanKindInternal
	if env != nil {
		parent, kind = env.TraceParent, trace.SpanKindConsumer
	}
	if parent == "" && s != nil {
		parent = s.TraceParent
	}
	span, tp := tracing.Start(context.Background(), p.tracer, tracing.SpanSagaApply, kind, parent)
	out.spans = append(out.spans, span)
	out.current = applySpan{span: span, traceparent: tp, timer: in.Kind == saga.InputTimer}
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(
		tracing.AttrSagaID.String(id),
		tracing.AttrSagaDefinition.String(p.definitionName(s, env)),
		tracing.AttrInputKind.String(string(in.Kind)),
	)
	if m != nil {
		tracing.Record(span, m.Topic, m.Partition, m.Offset, env.ID)
	}
	if env != nil && env.Step != "" {
		span.SetAttributes(tracing.AttrStep.String(env.Step), tracing.AttrAttempt.Int(env.Attempt))
	}
	if in.Kind == saga.InputReply {
		span.SetAttributes(tracing.AttrOutcome.String(in.Outcome), tracing.AttrCommandID.String(in.CommandID))
		if in.Reason != "" {
			span.SetAttributes(tracing.AttrReason.String(in.Reason))
		}
	}
	if in.Kind == saga.InputControl {
		span.SetAttributes(attribute.String("podium.control.action", in.Action))
	}
	// A record of another trace (an operator's request traced from its HTTP call) still
	// points at the order's trace.
	if s != nil && env != nil && env.TraceParent != "" {
		if sc := tracing.SpanContext(s.TraceParent); sc.IsValid() && sc.TraceID() != span.SpanContext().TraceID() {
			span.AddLink(trace.Link{SpanContext: sc})
		}
	}
}

// takeSpan returns the batch's current span and clears it. Without one (an input applied
// without startApply) it is a span of nothing that propagates the saga's stored context.
func (b *batchOutput) takeSpan() applySpan {
	cur := b.current
	b.current = applySpan{}
	if cur.span == nil {
		cur.span = trace.SpanFromContext(context.Background())
	}
	return cur
}

// traceparentFor is what the outputs of saga s carry: the span's context, or the saga's.
func (a applySpan) traceparentFor(s *saga.State) string {
	if a.traceparent != "" {
		return a.traceparent
	}
	if s != nil {
		return s.TraceParent
	}
	return ""
}

// result records on the span what the input did: result is applied, unchanged or
// ignored; prev and next are the states before and after (prev nil for a start).
func (a applySpan) result(result string, prev, next *saga.State, outputs saga.Outputs, err error) {
	if !a.span.IsRecording() {
		return
	}
	a.span.SetAttributes(tracing.AttrInputResult.String(result))
	if err != nil {
		a.span.SetAttributes(tracing.AttrReason.String(err.Error()))
		return
	}
	if next == nil {
		return
	}
	before := saga.Status("")
	if prev != nil {
		before = prev.Status
	}
	a.span.SetAttributes(tracing.AttrSagaStatus.String(string(next.Status)), tracing.AttrCommands.Int(len(outputs.Commands)))
	if before != next.Status {
		a.span.SetAttributes(tracing.AttrSagaTransition.String(string(before) + "->" + string(next.Status)))
	}
	for _, h := range outputs.History {
		if a.timer && h.Step != "" && (h.Kind == saga.HistoryTimeout || h.Kind == saga.HistoryDispatched || h.Kind == saga.HistoryCompensationSent) {
			a.span.SetAttributes(tracing.AttrStep.String(h.Step), tracing.AttrAttempt.Int(h.Attempt))
			a.timer = false
		}
		attrs := []attribute.KeyValue{attribute.String("podium.history.kind", h.Kind)}
		if h.Step != "" {
			attrs = append(attrs, tracing.AttrStep.String(h.Step), tracing.AttrAttempt.Int(h.Attempt))
		}
		if h.Detail != "" {
			attrs = append(attrs, attribute.String("podium.history.detail", h.Detail))
		}
		a.span.AddEvent(h.Kind, trace.WithAttributes(attrs...))
	}
}

// endSpans ends the spans of the batch's inputs once its records are written (err nil) or
// not (err: the batch is redelivered).
func (b *batchOutput) endSpans(err error) {
	for _, span := range b.spans {
		if err != nil && span.IsRecording() {
			span.RecordError(err)
			span.SetStatus(codes.Error, "writing the batch")
		}
		span.End()
	}
	b.spans = nil
}

// definitionName is the name of the definition s runs on, or for a saga env starts, of its
// saga type's; "" when neither is known.
func (p *processor) definitionName(s *saga.State, env *events.Envelope) string {
	if s != nil {
		if d := p.definition(s); d != nil {
			return d.Name
		}
		return s.Definition
	}
	if env != nil {
		if t := p.types.byStart[env.Type]; t != nil {
			return t.Definition.Name
		}
	}
	return ""
}
