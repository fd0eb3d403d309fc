package kafka

import (
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Writer defaults of NewWriter.
const (
	// DefaultBatchTimeout is how long a partial batch waits for more messages. kafka-go's
	// default of 1s would make every lone synchronous write take a second.
	DefaultBatchTimeout = time.Millisecond
	// DefaultBatchSize is the number of messages that flush a batch at once. Large, so a
	// caller that hands over a whole batch in one WriteMessages call is written in one
	// request per partition instead of being split (kafka-go's default: 100).
	DefaultBatchSize = 1000
	// DefaultBatchBytes is the request size limit: Kafka's message.max.bytes default.
	DefaultBatchBytes = 1 << 20
)

// NewWriter returns a kafka-go Writer with podium's settings. Messages carry their own
// Topic (the writer has none), so one writer serves every topic.
//
// Settings and how they differ from kafka-go's defaults:
//
//   - RequiredAcks: RequireAll (kafka-go: RequireNone, where produce errors are never seen).
//   - Balancer: OrderKeyBalancer, murmur2 of the order ID like the Java client (kafka-go:
//     RoundRobin; its Hash balancer is FNV-1a and not compatible).
//   - BatchTimeout: 1ms (kafka-go: 1s). A synchronous WriteMessages with fewer than BatchSize
//     messages for a partition waits this long. Callers may lower it (10µs halves the latency
//     of a lone write but splits concurrent writes into more requests) or raise it; set the
//     field before the first write.
//   - BatchSize: 1000 (kafka-go: 100); BatchBytes: 1 MiB.
//   - Async: false. WriteMessages returns only when every message is acknowledged, with a
//     kafkago.WriteErrors listing the failed ones.
//   - AllowAutoTopicCreation: false. Writing to a missing topic fails with
//     UnknownTopicOrPartition instead of creating a topic with the broker's default count.
//   - MaxAttempts 10 with a 50ms..1s backoff. A cancelled context makes WriteMessages return,
//     but a batch already handed to a partition writer keeps retrying and may still land;
//     callers that fence on generations must treat such a write as "maybe written".
//
// Close the writer when done; its Transport's idle connections close after 30s, or at once
// with w.Transport.(*kafkago.Transport).CloseIdleConnections().
func NewWriter(c Config) *kafkago.Writer {
	return &kafkago.Writer{
		Addr:                   c.Addr(),
		Balancer:               OrderKeyBalancer{},
		MaxAttempts:            10,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		BatchSize:              DefaultBatchSize,
		BatchBytes:             DefaultBatchBytes,
		BatchTimeout:           DefaultBatchTimeout,
		ReadTimeout:            10 * time.Second,
		WriteTimeout:           10 * time.Second,
		RequiredAcks:           kafkago.RequireAll,
		Async:                  false,
		AllowAutoTopicCreation: false,
		Transport:              c.Transport(),
	}
}
