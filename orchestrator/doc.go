// Package orchestrator is podium's runtime: it joins the orchestrator consumer group, owns
// partitions of the co-partitioned input topics, and drives every saga homed on an owned
// partition with the pure engine in orchestrator/saga.
//
// # Ownership and threading
//
// Partition p of every saga type's start topic (orders.placed, returns.requested, ...),
// orders.control, every <worker>.replies and podium.saga-state is owned by exactly one member of the group (internal/kafka.CoPartitionBalancer). Each
// owned partition is processed by one goroutine, its processor, which is the only writer of
// the sagas homed on p: no locks, no database. A processor lives exactly as long as the
// consumer-group generation that assigned it; when the generation ends (rebalance, shutdown)
// it stops writing, finishes nothing further, and returns.
//
// # Delivery
//
// A processor restores its sagas from podium.saga-state, re-sends every in-flight command,
// then loops: take a batch of input records plus the timers that are due, apply them with
// saga.Apply, write the commands, lifecycle and timeline events, dead letters and forwarded
// records, then the changed snapshots (synchronously, all replicas), and only then commit
// the input offsets. A crash anywhere in between causes redelivery, never loss; redelivery is
// harmless because replies already applied are ignored by correlation and workers dedupe
// commands by idempotency key. The snapshots wait up to Config.SnapshotInterval (100 ms),
// so that a saga changed by several batches is written once (a new saga's first snapshot
// and a finished saga's marker do not wait, nor do held early cancels: a restart never
// starts a finished saga again, and a saga's final state is there as soon as its end),
// encoded before the
// batch whose request takes them along changes anything; they go out in the same request as a
// later batch's commands and events (or alone when no input waits then), so a batch under
// load costs one write round trip, and the order above holds for every batch. Offsets are
// committed asynchronously after them, at most every pkafka.DefaultCommitInterval (100 ms)
// unless the partition is released.
//
// A record that cannot be decoded becomes a dead letter on orders.dlq with its reason, and
// the records behind it are processed. A record whose order is homed on another partition
// (a producer that used another partitioner) is forwarded to its home partition. An
// OrderPlaced whose saga state would exceed Config.MaxStateBytes (128 KiB) is a dead letter
// (too_large); a record the broker refuses for its size is dead-lettered alone, and the
// batch goes on.
//
// # What is kept, where, for how long
//
// What a processor holds depends on the sagas in flight and on two configured windows,
// never on the number of sagas ever run:
//
//   - A saga in flight: its state in memory (input, step bookkeeping; a few KB) and its
//     latest snapshot in podium.saga-state (saga.State.MarshalBinary, about 1 KB for an
//     order; every change writes one).
//   - Its history: not in the state. Each batch publishes the transitions it made as one
//     podium.saga.timeline.v1 record per saga on orders.events, the audit trail from which
//     the API builds each order's timeline (kept as long as that topic's retention).
//   - A finished saga (completed or compensated, nothing awaiting) leaves memory at once.
//     Its last snapshot is a marker (status, steps, reasons; no input, results or command
//     IDs: ~300 bytes), tombstoned Config.Retention (default 24h) after it finished. Until then its
//     ID is held (~40 bytes) to write that tombstone.
//   - For Config.DedupeWindow (default 7 days), a finished saga is remembered by a 16-byte
//     hash and a status (~38 bytes of memory, measured by TestFinishedIndexBoundedMemory),
//     so a duplicate OrderPlaced starts nothing (ignored, reason duplicate_start) and a
//     late reply is ignored (reason finished; a control record too, and it is rejected on
//     orders.events: podium.order.control-rejected.v1). The hashes are persisted
//     in podium.saga-state as one record per minute and partition (17 bytes a saga, keys
//     "~finished.<n>/<minute>/<part>"), written a few seconds after the minute ends and
//     tombstoned when the window ends; finished snapshots are tombstoned only after their
//     minute's record was written, so a restart finds every finished saga of the window
//     in one or the other.
//   - A cancel for an order that has not arrived is held for Config.EarlyCancelWindow
//     (default 5 minutes, at most Config.EarlyCancelMax per partition) as a record
//     "~early.<n>/<order>/<request>" in podium.saga-state, tombstoned when its order
//     arrives (the saga starts cancelled, no command is sent) or when the window ends (the
//     cancel is rejected, reason unknown_order).
//
// Every operator request is answered on orders.events: applied (the saga's next timeline
// record lists the request's ID in applied_requests), deferred (held, above) or rejected.
//
// Restore therefore reads the sagas in flight, the markers of the retention window and
// the index records of the dedupe window: about 1 KB, 300 bytes and 17 bytes per saga.
//
// # Saga types and definition versions
//
// Config.Sagas lists the saga types an instance runs (package sagas has the built-in order
// and returns sagas). Each is started by its own event type on its own topic; every start
// topic is an input of the group, co-partitioned with the others. Control requests of every
// type arrive on orders.control (podium.order.cancel.v1 and retry.v1 for orders, answered
// with podium.order.control-*; podium.saga.cancel.v1 and retry.v1 for any saga, answered
// with podium.saga.control-*), and lifecycle events (SagaType.Lifecycle; by default
// podium.saga.lifecycle.v1), timelines and dead letters of every type share orders.events
// and orders.dlq. Saga IDs must be unique across the types of one orchestrator.
//
// SagaType.Definition starts new sagas; SagaType.Previous lists older versions of it that
// in-flight sagas still run on (a saga's state records its definition's ID, see
// saga.Definition.ID). A restored saga of a version not served stops Run with a
// *MissingDefinitionError (ErrMissingDefinition); a state the engine refuses fails its saga
// with a reason (saga.Unapplicable) instead of leaving it waiting.
//
// # Tracing
//
// Each input applied — an OrderPlaced, a reply, a control request, a saga's timers firing —
// is an OpenTelemetry span, podium.saga.apply, from the global TracerProvider (a no-op one
// unless the process installed one, as `podium orchestrator` does when
// OTEL_EXPORTER_OTLP_ENDPOINT is set). Its parent is the record's traceparent (an
// OrderPlaced: the producer's span; a reply: the worker's); a timer's, or a record's without
// one, is the saga's stored context, the span that started it (saga.State.TraceParent). The
// commands and lifecycle events it publishes carry its context, so one order is one trace.
// It records the saga, the input, the step and attempt, the status transition and one
// event per history entry, and ends once the batch is written. Commands re-sent at restore
// carry the saga's stored context. See internal/tracing.
package orchestrator
