// Package tracing is podium's OpenTelemetry plumbing: it installs the global TracerProvider
// from the standard OTEL_* environment ([Setup]), and propagates W3C trace context through
// the traceparent attribute of podium's CloudEvents ([Start], [TraceParent]).
//
// # Export
//
// Spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set: then Setup installs an OTLP exporter —
// http/protobuf by default, gRPC with OTEL_EXPORTER_OTLP_PROTOCOL=grpc — behind a batch
// span processor, with a resource naming the process
// (podium-orchestrator, podium-worker-<name>, podium-api; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override it). The exporter reads the other standard variables
// itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE, ...), the
// SDK reads OTEL_TRACES_SAMPLER and its argument. Without an endpoint — or with
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none — Setup changes nothing and logs
// nothing: the global provider stays OpenTelemetry's no-op one.
//
// # Propagation
//
// A record's trace context is its CloudEvents traceparent attribute: the JSON member in
// structured mode, the ce_traceparent header in binary mode, and for a record without one
// (a bare OrderPlaced written by kcat or an instrumented client) the plain W3C traceparent
// Kafka header; package events reads all three into Envelope.TraceParent. The
// propagation.TraceContext propagator parses and formats it through a one-value carrier.
// tracestate is not carried: the envelope has no attribute for it.
//
// Under the no-op provider a started span carries its parent's context unchanged, so the
// traceparent podium writes is then the one it read: pass-through, with no span recorded,
// no attribute formatted (callers check Span.IsRecording) and no string built.
//
// Every function is safe for concurrent use.
package tracing
