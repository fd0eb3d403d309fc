package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

// FetchResult is what one Fetcher.Fetch returned for one partition.
type FetchResult struct {
	// Records are the partition's records from the offset asked for, in offset order.
	Records []kafkago.Message
	// HighWatermark is the partition's end offset when the broker answered.
	HighWatermark int64
	// LogStartOffset is the partition's first retained offset when the broker answered.
	LogStartOffset int64
	// Err is the partition's error (e.g. kafkago.OffsetOutOfRange), nil if none.
	Err error
}

// Fetcher long-polls many partitions, of one or several topics, with one Fetch request per
// leader broker — the orchestrator's partition processor reads partition p of its seven
// input topics with one request instead of seven kafka-go Readers, each with its own
// connection and its own long poll. It is safe for concurrent use.
type Fetcher struct {
	layouts *Producer // reused for its partition-layout cache
	client  *kafkago.Client
}

// NewFetcher returns a Fetcher that reaches the cluster with c.
func NewFetcher(c Config) *Fetcher {
	p := NewProducer(c)
	return &Fetcher{layouts: p, client: p.client}
}

// Close releases the Fetcher's connections.
func (f *Fetcher) Close() error { return f.layouts.Close() }

// Fetch reads every partition of offsets from its offset (the next offset to read). It
// returns as soon as a broker has a record for one of them, or after maxWait with nothing;
// maxBytes bounds each partition's share of a response (Kafka still returns at least one
// whole record batch). With partitions led by several brokers, the requests run in
// parallel, and Fetch returns with the first response that holds records: the others are
// abandoned and their partitions are read again by the next call.
//
// A partition-level error (an offset out of range, a moved leader) is in that partition's
// FetchResult; a request-level error is returned. The caller advances its offsets past
// the records returned.
func (f *Fetcher) Fetch(ctx context.Context, offsets map[TopicPartition]int64, maxWait time.Duration, maxBytes int) (map[TopicPartition]FetchResult, error) {
	if len(offsets) == 0 {
		return nil, errors.New("fetching: no partitions")
	}
	var msgs []kafkago.Message
	for tp := range offsets {
		if !slices.ContainsFunc(msgs, func(m kafkago.Message) bool { return m.Topic == tp.Topic }) {
			msgs = append(msgs, kafkago.Message{Topic: tp.Topic})
		}
	}
	layouts, err := f.layouts.layouts(ctx, msgs)
	if err != nil {
		return nil, err
	}
	byLeader := map[int32][]TopicPartition{}
	for tp := range offsets {
		leader := layouts[tp.Topic].leader[tp.Partition]
		byLeader[leader] = append(byLeader[leader], tp)
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		res map[TopicPartition]FetchResult
		err error
	}
	answers := make(chan answer, len(byLeader))
	for _, tps := range byLeader {
		go func() {
			res, err := f.fetchOne(ctx, tps, offsets, maxWait, maxBytes)
			answers <- answer{res, err}
		}()
	}
	out := make(map[TopicPartition]FetchResult, len(offsets))
	var errs []error
	for range byLeader {
		a := <-answers
		if a.err != nil {
			if ctx.Err() == nil {
				errs = append(errs, a.err)
			}
			continue
		}
		records := false
		for tp, r := range a.res {
			out[tp] = r
			records = records || len(r.Records) > 0 || r.Err != nil
		}
		if records {
			cancel() // the other brokers' answers would only delay these records
		}
	}
	if err := parent.Err(); err != nil {
		return nil, fmt.Errorf("fetching: %w", err)
	}
	if len(out) == 0 && len(errs) > 0 {
		f.layouts.forget() // a leader may have moved
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// fetchOne sends one Fetch request for tps (one leader).
func (f *Fetcher) fetchOne(ctx context.Context, tps []TopicPartition, offsets map[TopicPartition]int64, maxWait time.Duration, maxBytes int) (map[TopicPartition]FetchResult, error) {
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	req := &fetchAPI.Request{
		ReplicaID:    -1,
		MaxWaitTime:  int32(maxWait / time.Millisecond),
		MinBytes:     1,
		MaxBytes:     int32(min(int64(maxBytes)*int64(len(tps)), 1<<30)),
		SessionID:    -1,
		SessionEpoch: -1,
	}
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			req.Topics = append(req.Topics, fetchAPI.RequestTopic{Topic: tp.Topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, fetchAPI.RequestPartition{
			Partition:          int32(tp.Partition),
			CurrentLeaderEpoch: -1,
			FetchOffset:        offsets[tp],
			LogStartOffset:     -1,
			PartitionMaxBytes:  int32(maxBytes),
		})
	}
	rctx, cancel := context.WithTimeout(ctx, maxWait+30*time.Second)
	defer cancel()
	r, err := f.client.Transport.RoundTrip(rctx, f.client.Addr, req)
	if err != nil {
		return nil, fmt.Errorf("fetching %d partitions: %w", len(tps), err)
	}
	resp := r.(*fetchAPI.Response)
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("fetching %d partitions: %w", len(tps), kafkago.Error(resp.ErrorCode))
	}
	out := make(map[TopicPartition]FetchResult, len(tps))
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			tp := TopicPartition{t.Topic, int(p.Partition)}
			res := FetchResult{HighWatermark: p.HighWatermark, LogStartOffset: p.LogStartOffset}
			if p.ErrorCode != 0 {
				res.Err = kafkago.Error(p.ErrorCode)
				out[tp] = res
				continue
			}
			if p.RecordSet.Records != nil {
				from := offsets[tp]
				for {
					rec, err := p.RecordSet.Records.ReadRecord()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						if len(res.Records) == 0 {
							res.Err = fmt.Errorf("decoding records of %s[%d]@%d: %w", tp.Topic, tp.Partition, from, err)
						}
						break // keep what was decoded; the rest is fetched again
					}
					if rec.Offset < from {
						continue // a record batch may start before the offset asked for
					}
					m, err := toMessage(tp.Topic, tp.Partition, p.HighWatermark, rec)
					if err != nil {
						if len(res.Records) == 0 {
							res.Err = err
						}
						break
					}
					res.Records = append(res.Records, m)
				}
			}
			out[tp] = res
		}
	}
	return out, nil
}
