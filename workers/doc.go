// Package workers is podium's worker runtime: it turns a plain Handler into a Kafka consumer
// that answers the orchestrator's commands.
//
// # Handlers
//
// A Handler answers one command with a Result (Success, Failure, Retryable). Most workers
// register typed functions on a Mux instead of switching on type strings:
//
//	m := workers.NewMux()
//	workers.Handle(m, "trip.flight.book.v1", func(ctx context.Context, cmd workers.Command, b BookFlight) workers.Result {
//		return workers.Success(map[string]string{"booking_id": workers.StableID("flights", cmd.IdempotencyKey())})
//	})
//	err := workers.Run(ctx, workers.Config{Worker: "flights", Kafka: kafkaconf.Config{Brokers: brokers}, Types: m.Types()}, m)
//
// Command types of other modules are registered with events.Register (with their JSON
// Schemas) before Run; the runtime validates every command against its schema before the
// handler sees it.
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
//     "<name>.processed" partition p (a compacted topic: idempotency key → the answer of the
//     reply already sent, see Processed records), keeping the replies stored within
//     Config.ProcessedRetention (see Processed store). A command whose idempotency key is in
//     the store is answered with the stored reply and the handler is not run. The re-sent
//     reply is the stored answer (type, outcome, and data: reason, message, result) addressed
//     to the incoming command: its subject, sagaid, step, idempotencykey, attempt and
//     traceparent, with the command's ID as its correlationid and causationid, so the
//     orchestrator can correlate it with the attempt it has in flight. Its CloudEvents id is derived from the command ID, so a
//     re-delivered command yields the same reply id.
//   - handle: the Handler runs with a per-command deadline (Config.HandlerTimeout).
//     A success or failure outcome is final: it is stored (the processed record, keyed by the
//     idempotency key, lands on the order's home partition, which is p) and replied. An error
//     outcome is retryable: it is replied but not stored, so a retry runs the handler again.
//   - reply: a structured-mode CloudEvent of type events.ReplyType(command type), keyed and
//     subjected by the order ID, on "<name>.replies", with the extensions sagaid, step,
//     attempt, idempotencykey and traceparent copied from the command, correlationid and
//     causationid set to the command ID, and outcome.
//   - commit: the batch's processed records, replies and dead letters, preceded by the
//     tombstones of expired keys, are written in one synchronous write (one Produce request,
//     all in-sync replicas acknowledge), and only then is the batch's offset committed. The commit is not waited for (Assignment.CommitAsync):
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
// # Processed store
//
// What a partition keeps depends on the retention window and the rate of commands, never on
// the number of commands ever handled. A success or failure reply is kept for
// Config.ProcessedRetention (default 24h, flag --processed-retention) from when it was
// stored: a repeat of its command within the window gets the stored reply; after it the key
// is forgotten and a repeat runs the handler again (the handler's effect log still keeps the
// effect single, for as long as the log keeps the key). Choose the window longer than the
// longest an orchestrator may retry a step, compensations and operator retries included.
//
// In memory, a key costs its string, the reply's data (reason, message, result JSON), a
// 32-byte entry with the stored-at time, a type index and the outcome, and a 24-byte entry
// of a FIFO queue of (stored-at, key): replies are stored in time order, so expiring is
// popping the front of the queue, no scan. Measured for the inventory worker's reserve
// replies (TestStoreMemoryPerKey, 100,000 keys): about 215 bytes per key, map and queue
// included. A worker that stores R replies a second holds about R × ProcessedRetention keys
// over its partitions and instances: at 100 a second, 8.6 million keys (1.9 GB) for the
// default one-day window, 60 million (13 GB) for 7 days; size the window accordingly.
//
// Expiry runs before every batch and, on a partition whose fetches come back empty, once a
// second. An expired key leaves memory at once and owes a tombstone (the key with no value)
// on "<name>.processed", written on the same partition as its record with the next write —
// the next batch's or the idle partition's own — at most 10 × Config.BatchSize per write,
// and only while the partition's generation lives: after it ends, the next owner finds the
// record expired on restore and tombstones it. A write that fails leaves the tombstones
// owed, to be written with a later one. A key stored again before its tombstone is written
// needs none: its new record replaces the old one.
//
// # Processed records
//
// A processed record holds only what re-sending the reply and expiring its key need: the
// reply's type, outcome and data, and the stored-at time. Its key is the idempotency key;
// its value (format 2) is one small JSON document, with no headers, readable with kcat:
//
//	{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"2025-03-01T12:00:00.123Z","data":{"result":{"reservation_id":"…"}}}
//
// v is the format; type and outcome are the reply's; at is the stored-at time, RFC 3339 in
// UTC to the millisecond, also the record's Kafka timestamp; data is the reply's data
// (reason, message, result), left out when it is {}. Everything else of a re-sent reply
// comes from the repeated command (see dedupe above). An inventory reservation's value is
// 178 bytes (TestProcessedRecordSize); earlier versions stored the whole reply CloudEvent,
// about 700 bytes plus a 40-byte content-type header. As the producer writes them (zstd
// record batches, measured once with kafka-go's encoder), that is 253 bytes instead of 537
// for a record alone in its batch, 79 instead of 180 a record in a batch of five, and 31
// instead of 90 in a batch of fifty. JSON rather than a binary layout: a binary one would
// save 36 bytes for a record alone in its batch, 8 in a batch of five and nothing in a batch
// of fifty, and could not be read with kcat.
//
// Restore reads both formats: format 2, and format 1 written by earlier versions (the
// reply's structured CloudEvent, recognised by its content-type header or by having no
// "v"), which is decoded and validated like any event. It takes the stored-at time from
// "at" (format 2), else from the reply's time attribute (format 1), else from the record's
// Kafka timestamp (the first versions wrote 0), else the restore time. A record already out
// of the window is not kept, and its key is tombstoned with the first write, so the first
// restore after an upgrade from a version without retention clears the backlog; until then
// it holds the backlog's keys (not their replies). A record that does not decode — or has a
// format newer than 2 — is skipped and its key forgotten (the handler runs again for it, and
// its effect log keeps the effect single), but not tombstoned. So an older worker, which
// reads only format 1, skips format-2 records after a downgrade rather than failing, and
// runs the handler again for their keys. Restore time is that of reading the partition —
// once the backlog is compacted away, the records of one window — and of decoding each
// record: about 4 µs of CPU for a format-2 record, 20 µs for a format-1 one.
//
// # Threading
//
// Run blocks until its context ends. Handler.Handle is called from one goroutine per owned
// partition, so a Handler must be safe for concurrent use by several partitions; calls for one
// partition are sequential. When the context is cancelled, or the partition is revoked by a
// rebalance, the partition's work stops: the handlers' contexts end, the batch in hand is
// abandoned (nothing of it is written or committed — the partition's next owner handles it
// again, with the same idempotency keys), the commits already sent are waited for (up to
// 5s), and Run returns nil. Nothing is written after the partition's generation ended.
//
// # Tracing
//
// Each command is handled in an OpenTelemetry span, podium.worker.handle, a child of the
// command's traceparent, from the global TracerProvider (a no-op one unless the process
// installed one, as `podium worker` does when OTEL_EXPORTER_OTLP_ENDPOINT is set). The
// handler's context carries the span, so the handler's own spans are its children; the
// reply carries the span's traceparent. The span records the worker, step, attempt,
// idempotency key, outcome and whether the reply was re-sent from the processed store
// (podium.replayed), and ends once the batch is written. See internal/tracing.
//
// # Fault knobs
//
// Config.Faults injects latency, retryable errors, dropped replies and duplicated replies,
// decided by a math/rand/v2 generator seeded from Faults.Seed and the partition, so a run is
// reproducible for tests and benchmarks.
package workers
