package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

const (
	// readMaxBytes is the size limit of one fetch during a restore, in bytes as stored
	// (compressed). A fetch is decoded whole before its first record reaches fn, so it is
	// small enough that fetching and decoding the next one overlaps applying this one (at
	// 8 MiB, a changelog of similar snapshots came back in one fetch per reader), and large
	// enough that a partition comes back in few round trips. Kafka returns at least one
	// whole batch regardless of the limit.
	readMaxBytes = 1 << 20
	// readFirstBytes is the size limit of the first fetch of a partition: fn starts on the
	// first records while the next, twice as large each time up to readMaxBytes, are fetched.
	readFirstBytes = 64 << 10
	// readMaxWait bounds a fetch that finds no data; restore only fetches below the
	// watermark, so the broker normally answers at once.
	readMaxWait = 100 * time.Millisecond
	// readParallelMin is the size, in offsets, from which ReadPartition reads the two halves
	// of a partition concurrently.
	readParallelMin = 20_000
	// readAhead bounds how many fetched responses (of readMaxBytes at most, compressed) a
	// later half holds while fn works through the first: beyond it its reader waits.
	readAhead = 512
)

// ReadPartition reads topic/partition from its first offset up to the high watermark
// captured when it is called, calling fn for each record in offset order, and returns that
// watermark: the offset to continue consuming from. It is how a changelog (podium.saga-state,
// <worker>.processed) is restored. Records appended after the call are not read. An empty
// partition calls fn never and returns its end offset. Offsets missing below the watermark
// (compaction) are skipped. An error from fn stops the read and is returned wrapped. The
// message's HighWaterMark is the returned watermark (end - Offset bounds the records left);
// its Key, Value and Headers are fn's to keep.
//
// ReadPartition uses its own Client (a new Transport) and closes its connections before
// returning; it is safe to call concurrently for different partitions.
func ReadPartition(ctx context.Context, c Config, topic string, partition int, fn func(kafkago.Message) error) (end int64, err error) {
	return ScanPartition(ctx, c, topic, partition, func(m kafkago.Message) error {
		m.Key, m.Value = bytes.Clone(m.Key), bytes.Clone(m.Value) // nil stays nil: a tombstone
		if len(m.Headers) > 0 {
			headers := make([]kafkago.Header, len(m.Headers))
			for i, h := range m.Headers {
				headers[i] = kafkago.Header{Key: h.Key, Value: bytes.Clone(h.Value)}
			}
			m.Headers = headers
		}
		return fn(m)
	})
}

// ScanPartition is ReadPartition without copying the records out of the fetched data: the
// Key, Value and Headers of the message fn gets refer to kafka-go's buffers (decompressed
// record batches), which are reused once fn returns. fn must copy what it keeps (a string
// conversion is a copy); everything else is as ReadPartition. It is the changelog restore
// of the orchestrator, which decodes each snapshot and keeps the decoded state only.
//
// The range is split among readers that fetch and decode concurrently, each with its own
// connection, while fn handles what the first has fetched, in offset order: the broker builds
// one response while kafka-go decompresses another and fn applies a third. The later
// ranges' records wait, decompressed, until fn gets to them.
func ScanPartition(ctx context.Context, c Config, topic string, partition int, fn func(kafkago.Message) error) (end int64, err error) {
	f := newFetcher(c)
	defer f.Close()

	b, err := listBounds(ctx, f.client, map[string][]int{topic: {partition}})
	if err != nil {
		return 0, fmt.Errorf("reading offsets of %s[%d]: %w", topic, partition, err)
	}
	start, end := b[topicPartition{topic, partition}].first, b[topicPartition{topic, partition}].last

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ranges := splitRange(start, end, readParallelMin)
	chunks := make([]chan []fetched, len(ranges))
	errs := make(chan error, len(ranges))
	for i, r := range ranges {
		ahead := 1
		if i > 0 {
			ahead = readAhead
		}
		chunks[i] = make(chan []fetched, ahead)
		rf := f
		if i > 0 {
			rf = newFetcher(c)
		}
		go func() {
			defer close(chunks[i])
			if i > 0 {
				defer rf.Close()
			}
			first := readFirstBytes
			if i > 0 {
				first = readMaxBytes // read ahead: fn gets there later
			}
			errs <- fetchRange(ctx, rf, topic, partition, r[0], r[1], first, chunks[i])
		}()
	}
	drain := func() {
		cancel()
		for _, ch := range chunks {
			for chunk := range ch { // let the readers end
				releaseAll(chunk)
			}
		}
		for range ranges {
			<-errs
		}
	}
	var key, value bytesView
	for _, ch := range chunks {
		for chunk := range ch {
			for i := range chunk {
				r := &chunk[i]
				m := kafkago.Message{
					Topic:         topic,
					Partition:     partition,
					Offset:        r.offset,
					HighWaterMark: end,
					Headers:       r.headers,
					Time:          r.time,
				}
				m.Key, err = key.of(r.key)
				if err == nil {
					m.Value, err = value.of(r.value)
				}
				if err == nil {
					err = fn(m)
				}
				release(r.key, r.value)
				if err != nil {
					releaseAll(chunk[i+1:])
					drain()
					return end, fmt.Errorf("handling %s[%d]@%d: %w", topic, partition, r.offset, err)
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

// fetched is a record of a fetch response, its key and value still in kafka-go's buffers
// until released.
type fetched struct {
	offset     int64
	time       time.Time
	key, value protocol.Bytes
	headers    []kafkago.Header
}

// fetchRange fetches topic/partition from start up to end and sends the records, fetch by
// fetch, on out (which it does not close). The first fetch asks for maxBytes, each next one
// for twice as much, up to readMaxBytes.
func fetchRange(ctx context.Context, f *fetcher, topic string, partition int, start, end int64, maxBytes int, out chan<- []fetched) error {
	tp := TopicPartition{topic, partition}
	offset := start
	size := 0 // records in the last fetch: the next one is likely as large
	for ; offset < end; maxBytes = min(2*maxBytes, readMaxBytes) {
		resp, err := f.fetchRaw(ctx, []TopicPartition{tp}, map[TopicPartition]int64{tp: offset}, readMaxWait, maxBytes)
		if err != nil {
			return fmt.Errorf("fetching %s[%d]@%d: %w", topic, partition, offset, err)
		}
		p := responsePartition(resp, tp)
		if p == nil {
			return fmt.Errorf("fetching %s[%d]@%d: the partition is missing from the response", topic, partition, offset)
		}
		if p.ErrorCode != 0 {
			perr := kafkago.Error(p.ErrorCode)
			if errors.Is(perr, kafkago.OffsetOutOfRange) && p.LogStartOffset > offset {
				// Retention or compaction removed the start while we were reading.
				offset = p.LogStartOffset
				continue
			}
			return fmt.Errorf("fetching %s[%d]@%d: %w", topic, partition, offset, perr)
		}
		chunk := make([]fetched, 0, size)
		var (
			rerr error
			past bool // a record at or after end was fetched: this is the last fetch
		)
		for recs := p.RecordSet.Records; recs != nil; {
			rec, err := recs.ReadRecord()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					rerr = err
				}
				break
			}
			if rec.Offset < offset || rec.Offset >= end {
				// A record batch may start before the offset asked for, or end after the
				// watermark.
				release(rec.Key, rec.Value)
				past = past || rec.Offset >= end
				continue
			}
			chunk = append(chunk, fetched{offset: rec.Offset, time: rec.Time, key: rec.Key, value: rec.Value, headers: rec.Headers})
		}
		if len(chunk) == 0 {
			if rerr != nil {
				return fmt.Errorf("decoding records of %s[%d]@%d: %w", topic, partition, offset, rerr)
			}
			// Nothing left below the watermark: the tail was compacted away (or the fetch
			// came back empty although the watermark says otherwise). Either way there is
			// nothing more to restore.
			return nil
		}
		// What could not be decoded after the last good record is fetched again.
		offset = chunk[len(chunk)-1].offset + 1
		if past {
			offset = end
		}
		size = len(chunk)
		select {
		case out <- chunk:
		case <-ctx.Done():
			releaseAll(chunk)
			return ctx.Err()
		}
	}
	return nil
}

// responsePartition is tp's part of a fetch response, nil if missing.
func responsePartition(resp *fetchAPI.Response, tp TopicPartition) *fetchAPI.ResponsePartition {
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.Topic != tp.Topic {
			continue
		}
		for j := range t.Partitions {
			if int(t.Partitions[j].Partition) == tp.Partition {
				return &t.Partitions[j]
			}
		}
	}
	return nil
}

// release gives the memory pages that hold a record's key and value back to kafka-go's pool.
// kafka-go decodes every record batch of a fetch response into pages of 64 KiB shared by
// the batch's records; a page goes back to the pool once no record refers to it. Without
// this, each partition of each response costs a new, zeroed 64 KiB page (the orchestrator
// spent 15 % of its CPU on that).
func release(key, value protocol.Bytes) {
	if key != nil {
		key.Close()
	}
	if value != nil {
		value.Close()
	}
}

// releaseAll releases the records of a chunk that fn will not see.
func releaseAll(chunk []fetched) {
	for i := range chunk {
		release(chunk[i].key, chunk[i].value)
	}
}

// bytesView reads record keys or values out of kafka-go's pages without copying them: a
// key or value that lies in one page (the usual case, pages being 64 KiB) is returned as a
// slice of it, one that straddles two is assembled in a buffer reused by the next call.
// Either way the bytes are valid until the record is released or the next call.
type bytesView struct {
	one   []byte // the only piece written so far
	buf   []byte // the pieces, once there are more than one
	split bool
}

// Write is how pageRef.WriteTo hands over the pieces.
func (v *bytesView) Write(p []byte) (int, error) {
	switch {
	case v.split:
		v.buf = append(v.buf, p...)
	case v.one == nil:
		v.one = p
	default:
		v.buf = append(append(v.buf[:0], v.one...), p...)
		v.split = true
	}
	return len(p), nil
}

// of returns the bytes of b: nil for a null key or value (a tombstone), empty for an empty
// one.
func (v *bytesView) of(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	n := b.Len()
	if n == 0 {
		return []byte{}, nil
	}
	wt, ok := b.(io.WriterTo)
	if !ok { // not kafka-go's pages: copy
		v.buf = slices.Grow(v.buf[:0], n)[:n]
		if _, err := io.ReadFull(b, v.buf); err != nil {
			return nil, err
		}
		return v.buf[:n:n], nil
	}
	v.one, v.split = nil, false
	w, err := wt.WriteTo(v)
	out := v.one
	if v.split {
		out = v.buf
	}
	v.one = nil
	if err == nil && (w != int64(n) || len(out) != n) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	return out[:n:n], nil
}

// toMessage copies a fetched record into a kafka-go Message that outlives the fetch.
func toMessage(topic string, partition int, hwm int64, rec *kafkago.Record) (kafkago.Message, error) {
	defer release(rec.Key, rec.Value)
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
