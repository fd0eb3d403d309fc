package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

const (
	// readMaxBytes is the size limit of one fetch during a restore: large, so a changelog
	// partition comes back in few round trips, and not so large that applying a fetch
	// and fetching the next one do not overlap. Kafka returns at least one whole batch
	// regardless of the limit.
	readMaxBytes = 8 << 20
	// readMaxWait bounds a fetch that finds no data; restore only fetches below the
	// watermark, so the broker normally answers at once.
	readMaxWait = 100 * time.Millisecond
	// readParallelMin is the size, in offsets, from which ReadPartition reads the two halves
	// of a partition concurrently.
	readParallelMin = 20_000
	// readAhead bounds how many fetched responses (of readMaxBytes at most) a later half
	// holds while fn works through the first: beyond it its reader waits.
	readAhead = 64
)

// ReadPartition reads topic/partition from its first offset up to the high watermark
// captured when it is called, calling fn for each record in offset order, and returns that
// watermark: the offset to continue consuming from. It is how a changelog (podium.saga-state,
// <worker>.processed) is restored. Records appended after the call are not read. An empty
// partition calls fn never and returns its end offset. Offsets missing below the watermark
// (compaction) are skipped. An error from fn stops the read and is returned wrapped.
//
// ReadPartition uses its own Client (a new Transport) and closes its connections before
// returning; it is safe to call concurrently for different partitions.
func ReadPartition(ctx context.Context, c Config, topic string, partition int, fn func(kafkago.Message) error) (end int64, err error) {
	f := newFetcher(c)
	defer f.Close()

	b, err := listBounds(ctx, f.client, map[string][]int{topic: {partition}})
	if err != nil {
		return 0, fmt.Errorf("reading offsets of %s[%d]: %w", topic, partition, err)
	}
	start, end := b[topicPartition{topic, partition}].first, b[topicPartition{topic, partition}].last

	// The range is split among readers that fetch and decode concurrently, each with its own
	// connection, while fn handles what the first has fetched, in offset order: the broker
	// builds one response while this process decodes another and applies a third. The
	// later ranges' records wait in memory until fn gets to them.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ranges := splitRange(start, end, readParallelMin)
	chunks := make([]chan []kafkago.Message, len(ranges))
	errs := make(chan error, len(ranges))
	for i, r := range ranges {
		ahead := 1
		if i > 0 {
			ahead = readAhead
		}
		chunks[i] = make(chan []kafkago.Message, ahead)
		rf := f
		if i > 0 {
			rf = newFetcher(c)
		}
		go func() {
			defer close(chunks[i])
			if i > 0 {
				defer rf.Close()
			}
			errs <- fetchRange(ctx, rf, topic, partition, r[0], r[1], chunks[i])
		}()
	}
	drain := func() {
		cancel()
		for _, ch := range chunks {
			for range ch { // let the readers end
			}
		}
		for range ranges {
			<-errs
		}
	}
	for _, ch := range chunks {
		for chunk := range ch {
			for _, msg := range chunk {
				if err := fn(msg); err != nil {
					drain()
					return end, fmt.Errorf("handling %s[%d]@%d: %w", topic, partition, msg.Offset, err)
				}
			}
		}
	}
	var failed []error
	for range ranges {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	if err := errors.Join(failed...); err != nil {
		return end, err
	}
	return end, nil
}

// splitRange splits [start, end) in two halves when it holds at least min offsets.
func splitRange(start, end, min int64) [][2]int64 {
	if end-start < min {
		return [][2]int64{{start, end}}
	}
	mid := start + (end-start)/2
	return [][2]int64{{start, mid}, {mid, end}}
}

// fetchRange fetches topic/partition from start up to end and sends the records, fetch by
// fetch, on out (which it does not close).
func fetchRange(ctx context.Context, f *fetcher, topic string, partition int, start, end int64, out chan<- []kafkago.Message) error {
	tp := TopicPartition{topic, partition}
	offset := start
	for offset < end {
		got, err := f.fetchOne(ctx, []TopicPartition{tp}, map[TopicPartition]int64{tp: offset}, readMaxWait, readMaxBytes)
		if err != nil {
			return fmt.Errorf("fetching %s[%d]@%d: %w", topic, partition, offset, err)
		}
		res := got[tp]
		if res.Err != nil {
			if errors.Is(res.Err, kafkago.OffsetOutOfRange) && res.LogStartOffset > offset {
				// Retention or compaction removed the start while we were reading.
				offset = res.LogStartOffset
				continue
			}
			return fmt.Errorf("fetching %s[%d]@%d: %w", topic, partition, offset, res.Err)
		}
		var chunk []kafkago.Message
		for _, msg := range res.Records {
			if msg.Offset >= end {
				offset = end
				break
			}
			chunk = append(chunk, msg)
			offset = msg.Offset + 1
		}
		if len(chunk) == 0 {
			// Nothing left below the watermark: the tail was compacted away (or the fetch
			// came back empty although the watermark says otherwise). Either way there is
			// nothing more to restore.
			return nil
		}
		select {
		case out <- chunk:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// release gives the memory pages that hold rec's key and value back to kafka-go's pool.
// kafka-go decodes every record batch of a fetch response into pages of 64 KiB shared by
// the batch's records; a page goes back to the pool once no record refers to it. Without
// this, each partition of each response costs a new, zeroed 64 KiB page (the orchestrator
// spent 15 % of its CPU on that).
func release(rec *kafkago.Record) {
	if rec.Key != nil {
		rec.Key.Close()
	}
	if rec.Value != nil {
		rec.Value.Close()
	}
}

// toMessage copies a fetched record into a kafka-go Message that outlives the fetch.
func toMessage(topic string, partition int, hwm int64, rec *kafkago.Record) (kafkago.Message, error) {
	defer release(rec)
	key, err := protocol.ReadAll(rec.Key)
	if err != nil {
		return kafkago.Message{}, err
	}
	value, err := protocol.ReadAll(rec.Value)
	if err != nil {
		return kafkago.Message{}, err
	}
	var headers []kafkago.Header
	if len(rec.Headers) > 0 {
		headers = make([]kafkago.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			headers[i] = kafkago.Header{Key: h.Key, Value: append([]byte(nil), h.Value...)}
		}
	}
	return kafkago.Message{
		Topic:         topic,
		Partition:     partition,
		Offset:        rec.Offset,
		HighWaterMark: hwm,
		Key:           key,
		Value:         value,
		Headers:       headers,
		Time:          rec.Time,
	}, nil
}

type topicPartition struct {
	topic     string
	partition int
}

// bounds are a partition's log start offset and high watermark.
type bounds struct{ first, last int64 }

// listBounds asks for the first offset and the high watermark of every given partition.
func listBounds(ctx context.Context, cl *kafkago.Client, partitions map[string][]int) (map[topicPartition]bounds, error) {
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for t, ps := range partitions {
		for _, p := range ps {
			req.Topics[t] = append(req.Topics[t], kafkago.FirstOffsetOf(p), kafkago.LastOffsetOf(p))
		}
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(map[topicPartition]bounds)
	var errs []error
	for t, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", t, p.Partition, p.Error))
				continue
			}
			out[topicPartition{t, p.Partition}] = bounds{first: p.FirstOffset, last: p.LastOffset}
		}
	}
	for t, ps := range partitions {
		for _, p := range ps {
			if _, ok := out[topicPartition{t, p}]; !ok && len(errs) == 0 {
				errs = append(errs, fmt.Errorf("%s[%d]: no offsets in the response", t, p))
			}
		}
	}
	return out, errors.Join(errs...)
}
