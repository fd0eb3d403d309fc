// Package client is podium as its users see it from outside: it places orders, requests
// returns, sends operator requests and follows topics across all of their partitions
// without a consumer group. Follow is used by `podium order watch`, `podium dev` and the
// end-to-end tests to see lifecycle events (of orders and of every other saga type) as they
// are published. One long poll covers every partition (pkafka.Feed); the callback is called
// from one goroutine.
package client

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Follow reads every partition of topic, starting at from[p] in partition p (nil: at the
// first retained record of every partition; see EndOffsets), and calls fn for each record,
// decoded when it is a valid event (err is the *events.DecodeError otherwise), until ctx
// ends. It returns nil when ctx ends, or the first read error.
func Follow(ctx context.Context, cfg pkafka.Config, topic string, from []int64, fn func(m kafkago.Message, env events.Envelope, err error)) error {
	return follow(ctx, cfg, topic, from, nil, fn)
}

// follow is Follow, calling subscribed (if not nil) once it reads: connected, partitions
// found, fetching.
func follow(ctx context.Context, cfg pkafka.Config, topic string, from []int64, subscribed func(), fn func(m kafkago.Message, env events.Envelope, err error)) error {
	n, err := partitionsOf(ctx, cfg, topic)
	if err != nil {
		return err
	}
	starts := from
	if starts == nil {
		starts = make([]int64, n)
		for p := range starts {
			starts[p] = kafkago.FirstOffset
		}
	}
	if len(starts) != n {
		return fmt.Errorf("following %s: %d start offsets for %d partitions", topic, len(starts), n)
	}
	f := pkafka.NewFeed(cfg, pkafka.FeedConfig{MaxWait: 250 * time.Millisecond, MaxBytes: 8 << 20})
	defer f.Close()
	offsets := make(map[pkafka.TopicPartition]int64, n)
	for p := range n {
		offsets[pkafka.TopicPartition{Topic: topic, Partition: p}] = starts[p]
	}
	sub, err := f.Subscribe(ctx, offsets)
	if err != nil {
		return fmt.Errorf("following %s: %w", topic, err)
	}
	defer sub.Close()
	if subscribed != nil {
		subscribed()
	}
	for {
		recs, err := sub.Next(ctx, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading %s: %w", topic, err)
		}
		for _, m := range recs {
			env, derr := events.Decode(events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
				Key: m.Key, Value: m.Value, Headers: headers(m.Headers)})
			fn(m, env, derr)
		}
	}
}

func partitionsOf(ctx context.Context, cfg pkafka.Config, topic string) (int, error) {
	counts, err := pkafka.PartitionCounts(ctx, cfg, []string{topic})
	if err != nil {
		return 0, fmt.Errorf("reading partitions of %s: %w", topic, err)
	}
	if counts[topic] == 0 {
		return 0, fmt.Errorf("topic %s does not exist", topic)
	}
	return counts[topic], nil
}

// EndOffsets returns the offset after the last record of every partition of topic, now:
// Follow from them sees exactly the records written after this call.
func EndOffsets(ctx context.Context, cfg pkafka.Config, topic string) ([]int64, error) {
	n, err := partitionsOf(ctx, cfg, topic)
	if err != nil {
		return nil, err
	}
	starts := make([]int64, n)
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for p := range n {
		req.Topics[topic] = append(req.Topics[topic], kafkago.LastOffsetOf(p))
	}
	resp, err := cfg.Client().ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("listing offsets of %s[%d]: %w", topic, po.Partition, po.Error)
		}
		starts[po.Partition] = po.LastOffset
	}
	return starts, nil
}

func headers(hs []kafkago.Header) []events.Header {
	out := make([]events.Header, len(hs))
	for i, h := range hs {
		out[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
