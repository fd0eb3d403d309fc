package kafka

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// BenchmarkReadPartition reads a partition of 20,000 snapshot-sized records (3.7 KB), as
// the orchestrator's restore does: it is the floor of restore time, before any decoding.
// "read" copies every record out (ReadPartition), "scan" lends them (ScanPartition, what
// the restore uses).
//
//	go test -run XXX -bench ReadPartition -benchmem ./internal/kafka/
func BenchmarkReadPartition(b *testing.B) {
	_, cfg := newCluster(&testing.T{})
	topic := "bench.read-partition"
	if err := EnsureTopics(b.Context(), cfg, []TopicSpec{{Name: topic, Partitions: 1}}); err != nil {
		b.Fatal(err)
	}
	const n = 20000
	value := bytes.Repeat([]byte(`{"step":"reserve-inventory","status":"succeeded"},`), 74)
	p := NewProducer(cfg)
	defer p.Close()
	msgs := make([]kafkago.Message, 0, 1000)
	for i := range n {
		msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i)), Value: value})
		if len(msgs) == cap(msgs) {
			if err := p.WriteMessages(b.Context(), msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	for _, bc := range []struct {
		name string
		read func(context.Context, Config, string, int, func(kafkago.Message) error) (int64, error)
	}{
		{"read", ReadPartition},
		{"scan", ScanPartition},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(n * len(value)))
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				count := 0
				if _, err := bc.read(b.Context(), cfg, topic, 0, func(kafkago.Message) error { count++; return nil }); err != nil {
					b.Fatal(err)
				}
				if count != n {
					b.Fatalf("read %d records, want %d", count, n)
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
			}
		})
	}
}
