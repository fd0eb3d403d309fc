package workers

import (
	"context"

	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/tracing"
)

// tracerName is the instrumentation scope of the worker runtime's spans.
const tracerName = "github.com/podiumhq/podium/workers"

// startHandle starts the span of command rec (tracing.SpanWorkerHandle), a child of the
// command's traceparent, and returns ctx carrying it (the handler's spans are its children)
// and the traceparent its reply carries. The span ends when the batch is written
// (endSpans).
func (p *processor) startHandle(ctx context.Context, rec kafkago.Message, env events.Envelope) (context.Context, trace.Span, string) {
	span, traceparent := tracing.Start(ctx, p.tracer, tracing.SpanWorkerHandle, trace.SpanKindConsumer, env.TraceParent)
	p.spans = append(p.spans, span)
	if span.IsRecording() {
		tracing.Record(span, rec.Topic, rec.Partition, rec.Offset, env.ID)
		span.SetAttributes(
			tracing.AttrWorker.String(p.worker),
			tracing.AttrSagaID.String(env.SagaID),
			tracing.AttrStep.String(env.Step),
			tracing.AttrAttempt.Int(env.Attempt),
			tracing.AttrIdempotency.String(env.IdempotencyKey),
			tracing.AttrCommandID.String(env.ID),
		)
	}
	return trace.ContextWithSpan(ctx, span), span, traceparent
}

// handled records on span the reply sent for its command.
func handled(span trace.Span, reply events.Envelope, replayed bool) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(tracing.AttrOutcome.String(reply.Outcome), tracing.AttrReplayed.Bool(replayed))
	if reply.Outcome == events.OutcomeSuccess {
		return
	}
	var r events.Reply
	if err := reply.DecodeData(&r); err == nil && r.Reason != "" {
		span.SetAttributes(tracing.AttrReason.String(r.Reason))
	}
	if reply.Outcome == events.OutcomeError {
		span.SetStatus(codes.Error, r.Reason) // retried by the orchestrator
	}
}

// endSpans ends the spans of the batch's commands once its records are written (err nil)
// or not (err: the batch is handled again).
func (p *processor) endSpans(err error) {
	for _, span := range p.spans {
		if err != nil && span.IsRecording() {
			span.RecordError(err)
			span.SetStatus(codes.Error, "writing the batch")
		}
		span.End()
	}
	clear(p.spans)
	p.spans = p.spans[:0]
}
