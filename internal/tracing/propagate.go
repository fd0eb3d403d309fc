package tracing

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Span names.
const (
	// SpanSagaApply is the orchestrator's span of one input applied to a saga (an
	// OrderPlaced, a reply, a control request, the saga's timers firing) and of the
	// commands and events it publishes.
	SpanSagaApply = "podium.saga.apply"
	// SpanWorkerHandle is a worker's span of one command handled (or answered from its
	// processed store) and of the reply it sends.
	SpanWorkerHandle = "podium.worker.handle"
)

// Attributes of podium's spans, besides the messaging.* conventions of [Record].
const (
	AttrSagaID         = attribute.Key("podium.saga.id")
	AttrSagaDefinition = attribute.Key("podium.saga.definition")
	AttrSagaStatus     = attribute.Key("podium.saga.status")
	// AttrSagaTransition is "<status before>-><status after>" when the input changed it.
	AttrSagaTransition = attribute.Key("podium.saga.transition")
	// AttrInputKind is the saga input: start, reply, timer or control.
	AttrInputKind = attribute.Key("podium.input.kind")
	// AttrInputResult is what the input did: applied, unchanged or ignored.
	AttrInputResult = attribute.Key("podium.input.result")
	AttrStep        = attribute.Key("podium.step")
	AttrAttempt     = attribute.Key("podium.attempt")
	AttrCommands    = attribute.Key("podium.commands")
	AttrWorker      = attribute.Key("podium.worker")
	AttrIdempotency = attribute.Key("podium.idempotency_key")
	AttrCommandID   = attribute.Key("podium.command.id")
	// AttrOutcome is a reply's outcome: success, failure or error.
	AttrOutcome = attribute.Key("podium.outcome")
	AttrReason  = attribute.Key("podium.reason")
	// AttrReplayed is true on a worker span whose reply came from the processed store.
	AttrReplayed = attribute.Key("podium.replayed")
)

// propagator reads and writes the W3C traceparent of podium's records.
var propagator = propagation.TraceContext{}

// traceparentKey is the carrier key of the W3C traceparent.
const traceparentKey = "traceparent"

// carrier holds the one trace-context value a podium record carries: its CloudEvents
// traceparent attribute (or, for a record without one, its traceparent Kafka header).
type carrier struct{ traceparent string }

func (c *carrier) Get(key string) string {
	if key == traceparentKey {
		return c.traceparent
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	if key == traceparentKey {
		c.traceparent = value
	}
}

func (c *carrier) Keys() []string { return []string{traceparentKey} }

// Context returns ctx carrying the remote span context of the W3C traceparent value, or
// ctx unchanged when it is empty or invalid.
func Context(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, &carrier{traceparent: traceparent})
}

// SpanContext is the span context of the W3C traceparent value; it is not valid when the
// value is empty or invalid.
func SpanContext(traceparent string) trace.SpanContext {
	return trace.SpanContextFromContext(Context(context.Background(), traceparent))
}

// TraceParent formats the span context of ctx as a W3C traceparent: "" when it has none.
func TraceParent(ctx context.Context) string {
	var c carrier
	propagator.Inject(ctx, &c)
	return c.traceparent
}

// Start starts a span named name, of kind kind, as a child of the W3C traceparent parent
// (a new trace's root when parent is empty or invalid), and returns it with the
// traceparent to write on what it sends. Under the no-op provider the span carries
// parent's context unchanged, and parent itself is returned: nothing is formatted.
// The caller ends the span.
func Start(ctx context.Context, tracer trace.Tracer, name string, kind trace.SpanKind, parent string) (trace.Span, string) {
	pctx := Context(ctx, parent)
	_, span := tracer.Start(pctx, name, trace.WithSpanKind(kind))
	sc := span.SpanContext()
	if !sc.IsValid() {
		return span, ""
	}
	if sc.Equal(trace.SpanContextFromContext(pctx)) {
		return span, parent // a no-op span: pass the parent through
	}
	return span, TraceParent(trace.ContextWithSpanContext(ctx, sc))
}

// Record sets the messaging attributes of a span consuming record topic[partition]@offset
// with CloudEvents id eventID. Call it only on a recording span.
func Record(span trace.Span, topic string, partition int, offset int64, eventID string) {
	span.SetAttributes(
		semconv.MessagingSystemKafka,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingDestinationName(topic),
		semconv.MessagingDestinationPartitionID(strconv.Itoa(partition)),
		semconv.MessagingKafkaOffset(int(offset)),
		semconv.MessagingMessageID(eventID),
	)
}
