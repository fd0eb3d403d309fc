package devbroker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// BenchmarkCompactionPass times one compaction-and-retention pass (Cluster.Compact: what the
// broker runs every CompactionInterval on the goroutine that serves every request, so each
// request waits for it) on changelogs shaped like podium's at the soak's 800 orders/s:
// podium.saga-state over 12 partitions with `live` sagas of `versions` 1 KB snapshots each and
// `tombstones` tombstones, written 3 records per partition per batch (what the orchestrator's
// per-partition writes look like), and every <worker>.processed topic holding 1,000 keys.
// Before each timed pass it writes `dirty` newer snapshots of the live sagas (4,800 is one
// second of the soak).
//
//	go test ./internal/devbroker/ -run '^$' -bench CompactionPass -benchtime 5x
func BenchmarkCompactionPass(b *testing.B) {
	for _, bc := range []struct {
		name                              string
		inMemory                          bool
		live, versions, tombstones, dirty int
	}{
		{"disk/idle", false, 120, 1, 0, 0},
		{"disk/50k", false, 12_500, 4, 12_000, 4_800},
		{"disk/200k", false, 50_000, 4, 48_000, 4_800},
		{"disk/200k-dirty30s", false, 50_000, 4, 48_000, 30 * 4_800},
		{"memory/200k", true, 50_000, 4, 48_000, 4_800},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			br, err := Start(ctx, Config{Addr: "127.0.0.1:0", InMemory: bc.inMemory, CompactionInterval: time.Hour, Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			cfg := pkafka.Config{Brokers: []string{br.Addr()}}
			w := pkafka.NewProducer(cfg)
			defer w.Close()
			snapshot := make([]byte, 1024)
			fill := func(topic string, keys []string, value []byte) {
				b.Helper()
				const perCall = 3 * DefaultPartitions // ~3 records per partition per batch
				for i := 0; i < len(keys); i += perCall {
					msgs := make([]kafkago.Message, 0, perCall)
					for _, k := range keys[i:min(i+perCall, len(keys))] {
						msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte(k), Value: value})
					}
					if err := w.WriteMessages(ctx, msgs...); err != nil {
						b.Fatal(err)
					}
				}
			}
			names := func(prefix string, from, n int) []string {
				out := make([]string, n)
				for i := range out {
					out[i] = fmt.Sprintf("%s-%08d", prefix, from+i)
				}
				return out
			}
			for range bc.versions {
				fill(events.TopicSagaState, names("ord", 0, bc.live), snapshot)
			}
			fill(events.TopicSagaState, names("done", 0, bc.tombstones), nil)
			for _, wk := range events.Workers {
				fill(events.ProcessedTopic(wk), names("ord", 0, 1000), make([]byte, 300))
			}
			br.Cluster().Compact() // the backlog of the fill is not what a steady pass sees
			b.ResetTimer()
			var worst time.Duration
			for i := range b.N {
				b.StopTimer()
				dirty := make([]string, bc.dirty) // newer snapshots of the live sagas
				for j := range dirty {
					dirty[j] = fmt.Sprintf("ord-%08d", (i*bc.dirty+j)%bc.live)
				}
				fill(events.TopicSagaState, dirty, snapshot)
				b.StartTimer()
				start := time.Now()
				br.Cluster().Compact()
				worst = max(worst, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		})
	}
}
