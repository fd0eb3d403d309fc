// Package client publishes the inputs of podium's sagas from any Go program: it starts
// sagas (an order placed, a return requested, a saga type of the program's own) and asks the
// orchestrator to cancel or retry them. Its API takes public types only (kafkaconf, events),
// and it writes exactly what the orchestrator reads:
//
//   - every event is a structured-mode CloudEvent (content-type
//     application/cloudevents+json) built with events.NewEvent and events.Encode, its
//     subject the saga ID;
//   - its Kafka key is the saga ID and its partition murmur2(key) mod the topic's partition
//     count, the Java client's default partitioner, so it lands on the partition of the
//     orchestrator instance that owns the saga;
//   - it is validated as the orchestrator will validate it (events.Decode: the envelope, the
//     data against the type's registered JSON Schema, the subject) before it is sent, so a
//     mistake is an error from the call instead of a dead letter on orders.dlq.
//
// # Delivery
//
// Each call writes synchronously and returns once every in-sync replica acknowledged the
// record (acks=all), or with the error that stopped it; retriable broker errors are retried
// (up to 10 attempts, 30s at most) within the caller's context. After an error the record may
// or may not have been written. Calling again with the same saga ID is safe: the orchestrator
// starts one saga per ID (a repeated start within its dedupe window, 7 days by default, is
// ignored), and a repeated cancel or retry is answered like the first. Topics are never
// created: a missing topic is an error (`podium topics create` creates podium's own).
//
// # Concurrency
//
// A Client is safe for concurrent use. Concurrent calls share one connection pool and are
// merged into the same Produce requests, so many goroutines publishing at once cost fewer
// round trips than one at a time. Close releases the connections; call it once the calls
// have returned.
//
// # Tracing
//
// When the context passed to a call carries an OpenTelemetry span, its W3C traceparent is
// written on the event, so the saga's spans (orchestrator, workers) join the caller's trace.
package client
