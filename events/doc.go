// Package events is podium's wire format: the CloudEvents 1.0 envelope in the Kafka protocol
// binding, the event type names, the typed payloads, the topic names, and the codec that
// validates every record against the JSON Schemas of its type and podium's business rules.
//
// podium writes structured mode ([Encode]: one JSON document, header
// content-type: application/cloudevents+json) and reads structured mode, binary mode (ce_*
// headers, JSON data) and, on [TopicOrdersPlaced] only, a bare OrderPlaced JSON document
// ([Decode]). Every problem found while decoding is a *[DecodeError] naming the record, the
// field and the rule: the consumer loops turn it into a dead letter with errors.As. A
// decoded envelope carries its data decoded into the type's payload struct
// ([Envelope.Payload]), so that readers do not decode it again. The data of podium's own
// commands and replies is checked and decoded in one pass by plain code that accepts what
// the type's schema accepts; all other data, what producers and operators send, goes
// through the JSON Schema validator.
//
// # Types
//
// The codec knows a set of types, each an event, a command or a reply ([Kind]) with the
// JSON Schema of its data. Built in are the types of podium's two sagas — the order saga
// (podium.order.*, the order commands) and the returns saga ([TypeReturnRequested] on
// [TopicReturnsRequested], the returns commands) — and the generic saga types, used by
// every saga type but the order saga: [TypeSagaCancel] and [TypeSagaRetry] (control
// requests, data [ControlRequest] with SagaID), [TypeSagaControlRejected] and
// [TypeSagaControlDeferred] (data [ControlOutcome] with SagaID) and [TypeSagaLifecycle]
// (data [SagaLifecycle]), next to [TypeSagaTimeline]. The order saga keeps its own
// podium.order.* control, outcome and lifecycle types, whose data names the order in
// order_id.
//
// Another module that runs its own saga types adds its types with [Register] (or
// [MustRegister]) at program start, as with gob.Register: the start event, each command
// (with the worker that accepts it; its reply type comes along), each with its schema,
// compiled at Register. From then on Decode accepts them like the built-in ones, NewEvent
// sets their dataschema and [CommandTypes] lists the commands. The registry is global to
// the program, safe for concurrent use, and read without a lock on the decode path; types
// are never removed.
//
// Type names end in a version (.v1). Additive changes keep the type; a breaking change is a
// new .vN type with its own schema, registered next to the old one (in types.go for the
// built-in types), and both are accepted while old producers drain.
//
// The package imports no Kafka client: [Record] and [Header] are plain values that the
// Kafka plumbing converts. Every function is safe for concurrent use; the schemas of the
// built-in types are compiled once, on first use.
package events
