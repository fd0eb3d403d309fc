// Package orchestrator is podium's runtime: it joins the orchestrator consumer group, owns
// partitions of the co-partitioned input topics, and drives every saga homed on an owned
// partition with the pure engine in orchestrator/saga.
//
// # Ownership and threading
//
// Partition p of orders.placed, orders.control, every <worker>.replies and podium.saga-state
// is owned by exactly one member of the group (internal/kafka.CoPartitionBalancer). Each
// owned partition is processed by one goroutine, its processor, which is the only writer of
// the sagas homed on p: no locks, no database. A processor lives exactly as long as the
// consumer-group generation that assigned it; when the generation ends (rebalance, shutdown)
// it stops writing, finishes nothing further, and returns.
//
// # Delivery
//
// A processor restores its sagas from podium.saga-state, re-sends every in-flight command,
// then loops: take a batch of input records plus the timers that are due, apply them with
// saga.Apply, write the changed snapshots (synchronously, all replicas), then the commands,
// lifecycle events, dead letters and forwarded records, and only then commit the input
// offsets. A crash anywhere in between causes redelivery, never loss; redelivery is
// harmless because replies already applied are ignored by correlation and workers dedupe
// commands by idempotency key.
//
// A record that cannot be decoded becomes a dead letter on orders.dlq with its reason, and
// the records behind it are processed. A record whose order is homed on another partition
// (a producer that used another partitioner) is forwarded to its home partition.
package orchestrator
