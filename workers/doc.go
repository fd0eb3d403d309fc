// Package workers is podium's worker runtime: it turns a plain Handler into a Kafka consumer
// that answers the orchestrator's commands.
//
// # Pipeline
//
// Run joins the consumer group "podium-worker-<name>" on "<name>.commands" and, for every
// owned partition p, runs one goroutine that loops
//
//	consume → validate → dedupe → handle → reply → commit
//
// The steps:
//
//   - consume: fetch a batch of commands from partition p, starting at the committed offset.
//   - validate: events.Decode checks the CloudEvents envelope and the data against the
//     embedded schemas. A record that fails (an *events.DecodeError, a type this worker does
//     not accept, a missing key or idempotency key) is copied to "<name>.dlq" with its original
//     key, value and headers plus the headers dlq.reason, dlq.topic, dlq.partition and
//     dlq.offset; the partition moves on. One bad record never blocks a partition.
//   - dedupe: on assignment, the goroutine restores the processed store from
//     "<name>.processed" partition p (a compacted topic: idempotency key → the reply already
//     sent). A command whose idempotency key is in the store is answered with the stored
//     reply and the handler is not run. The re-sent reply gets the incoming command's ID as
//     its correlationid and causationid, its attempt and its traceparent, so the
//     orchestrator can correlate it with the attempt it has in flight; everything else
//     (outcome, reason, result) is the stored answer. Its CloudEvents id is derived from the
//     command ID, so a re-delivered command yields the same reply id.
//   - handle: the Handler runs with a per-command deadline (Config.HandlerTimeout).
//     A success or failure outcome is final: it is stored (the processed record, keyed by the
//     idempotency key, lands on the order's home partition, which is p) and replied. An error
//     outcome is retryable: it is replied but not stored, so a retry runs the handler again.
//   - reply: a structured-mode CloudEvent of type events.ReplyType(command type), keyed and
//     subjected by the order ID, on "<name>.replies", with the extensions sagaid, step,
//     attempt, idempotencykey and traceparent copied from the command, correlationid and
//     causationid set to the command ID, and outcome.
//   - commit: the batch's processed records, replies and dead letters are written in one
//     synchronous write (one Produce request, all in-sync replicas acknowledge), and only then
//     is the batch's offset committed. The commit is not waited for (Assignment.CommitAsync):
//     the next batch is fetched at once, and a commit that is lost only redelivers commands
//     whose replies are stored.
//
// # Delivery guarantees
//
// At-least-once with idempotent effects. A crash between any two steps causes redelivery,
// never loss: a missing processed record means the handler runs again (handlers keep their
// own effects idempotent by idempotency key, see EffectLog), and a missing reply is re-sent
// from the store when the orchestrator retries. Replies may be duplicated; the orchestrator
// ignores replies it already applied. Commands of one partition are handled in offset order,
// so the commands of one order are handled in the order they were sent.
//
// A command that arrives on a partition other than its key's home partition (a producer that
// does not use podium's murmur2 partitioner) is forwarded to its home partition and handled
// there, so the processed record of its idempotency key and its restore stay on one partition.
// The store relies on podium's idempotency keys starting with the order ID
// ("ord-1/reserve-inventory"); a key with another prefix is still deduplicated while the
// partition stays assigned, but its processed record lands on the prefix's home partition.
//
// # Threading
//
// Run blocks until its context ends. Handler.Handle is called from one goroutine per owned
// partition, so a Handler must be safe for concurrent use by several partitions; calls for one
// partition are sequential. When the context is cancelled, each partition goroutine finishes
// the batch in hand (handlers run, writes flushed, offsets committed, waiting up to 5s for
// the commits) and Run returns nil.
//
// # Fault knobs
//
// Config.Faults injects latency, retryable errors, dropped replies and duplicated replies,
// decided by a math/rand/v2 generator seeded from Faults.Seed and the partition, so a run is
// reproducible for tests and benchmarks.
package workers
