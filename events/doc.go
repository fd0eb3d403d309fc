// Package events is podium's wire format: the CloudEvents 1.0 envelope in the Kafka protocol
// binding, the event type names, the typed payloads, the topic names, and the codec that
// validates every record against the JSON Schemas of package schemas and podium's business
// rules.
//
// podium writes structured mode ([Encode]: one JSON document, header
// content-type: application/cloudevents+json) and reads structured mode, binary mode (ce_*
// headers, JSON data) and, on [TopicOrdersPlaced] only, a bare OrderPlaced JSON document
// ([Decode]). Every problem found while decoding is a *[DecodeError] naming the record, the
// field and the rule: the consumer loops turn it into a dead letter with errors.As.
//
// Type names end in a version (.v1). Additive changes keep the type; a breaking change is a
// new .vN type with its own schema, registered next to the old one in types.go, and both are
// accepted while old producers drain.
//
// The package imports no Kafka client: [Record] and [Header] are plain values that the
// Kafka plumbing converts. Every function is safe for concurrent use; the schemas are
// compiled once, on first use.
package events
