// Package kafka is podium's plumbing on top of github.com/segmentio/kafka-go: client
// configuration (Config, an alias of the public kafkaconf.Config: TLS, SASL, a dial hook),
// the order-key partitioner, the co-partitioning group balancer, topic administration, a
// consumer-group runner built on kafka-go's ConsumerGroup/Generation API, and podium's one
// way in and one way out of Kafka:
//
//   - Reading: Feed. One long-poll Fetch request per leader broker covers every partition,
//     of every topic, that the process consumes; each consumer (a partition processor)
//     holds a Subscription and takes its records from it. ReadPartition, the changelog
//     restore, sends the same Fetch requests for one partition up to its end.
//   - Writing: Producer. A synchronous call is one Produce request per leader broker
//     holding every topic and partition of the call, concurrent calls merged, and no write
//     outlives its caller's context (the consumer-group generation).
//
// Callers import it as pkafka and kafka-go as kafkago.
//
// # Why not kafka-go's defaults
//
// kafka-go's zero values are tuned for throughput and convenience, not for a system whose
// correctness depends on every write being acknowledged and every order landing on one
// partition. This package fixes them in one place:
//
//   - kafka-go's Writer acknowledges nothing by default (RequiredAcks: RequireNone),
//     balances round-robin (its Hash is FNV-1a, not the Java client's murmur2), holds a
//     partial batch for a second, sends one request per topic-partition and keeps retrying
//     after its caller gave up. Producer acknowledges with all replicas, puts every record
//     on its key's home partition (OrderKeyBalancer, murmur2), sends a call at once as one
//     request per broker, and stops with its caller's context.
//   - A Reader reads one partition with its own connection and long poll. Feed reads every
//     partition of a process with one request.
//   - A Reader with a GroupID has no assign/revoke hooks and may commit across generations.
//     RunGroup uses ConsumerGroup/Generation and commits within the generation only.
//   - A committed offset below the log start silently resets to the first offset.
//     RunGroup resolves offsets itself and logs the gap as an error.
//   - One missing topic in a group subscription leaves partitions unassigned. EnsureTopics
//     creates every topic up front and PartitionCounts lets a caller assert counts.
//
// # Concurrency
//
// Config is a value; Dialer, Transport and Client return fresh objects that are safe for
// concurrent use as documented by kafka-go. OrderKeyBalancer and CoPartitionBalancer are
// stateless. RunGroup runs one goroutine per owned partition index; see its documentation for
// their lifetimes.
package kafka
