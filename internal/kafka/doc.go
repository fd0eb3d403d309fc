// Package kafka is podium's plumbing on top of github.com/segmentio/kafka-go: client
// configuration (TLS, SASL, a dial hook), writers with safe settings, the order-key
// partitioner, the co-partitioning group balancer, changelog restore, topic administration
// and a consumer-group runner built on kafka-go's ConsumerGroup/Generation API.
//
// Callers import it as pkafka and kafka-go as kafkago.
//
// # Why not kafka-go's defaults
//
// kafka-go's zero values are tuned for throughput and convenience, not for a system whose
// correctness depends on every write being acknowledged and every order landing on one
// partition. This package fixes them in one place:
//
//   - Writer.RequiredAcks defaults to RequireNone: produce errors are never seen.
//     NewWriter uses RequireAll.
//   - Writer.Balancer defaults to RoundRobin, and kafkago.Hash is FNV-1a, not the Java
//     client's murmur2. NewWriter uses OrderKeyBalancer (murmur2, Java-compatible).
//   - Writer.BatchTimeout defaults to 1s: a synchronous write of fewer than BatchSize
//     messages waits that long. NewWriter uses 1ms and a BatchSize of 1000.
//   - Writer.Async drops errors; NewWriter writes synchronously.
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
