package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// FetchResult is what one fetch returned for one partition.
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

// fetcher sends Fetch requests for many partitions of many topics to one leader broker; Feed
// runs it. It is safe for concurrent use.
type fetcher struct {
	layouts *Producer // reused for its partition-layout cache
	client  *kafkago.Client
}

func newFetcher(c Config) *fetcher {
	p := NewProducer(c)
	return &fetcher{layouts: p, client: p.client}
}

// Close releases the fetcher's connections.
func (f *fetcher) Close() error { return f.layouts.Close() }

// fetchOne sends one Fetch request for tps (one leader) and copies the records out of the
// response.
func (f *fetcher) fetchOne(ctx context.Context, tps []TopicPartition, offsets map[TopicPartition]int64, maxWait time.Duration, maxBytes int) (map[TopicPartition]FetchResult, error) {
	resp, err := f.fetchRaw(ctx, tps, offsets, maxWait, maxBytes)
	if err != nil {
		return nil, err
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
						release(rec.Key, rec.Value)
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
				fetchedRecords.WithLabelValues(tp.Topic).Add(float64(len(res.Records)))
			}
			out[tp] = res
		}
	}
	return out, nil
}

// fetchRaw sends one Fetch request for tps (one leader) and returns kafka-go's response, whose
// records are still in its buffers (see release).
func (f *fetcher) fetchRaw(ctx context.Context, tps []TopicPartition, offsets map[TopicPartition]int64, maxWait time.Duration, maxBytes int) (*fetchAPI.Response, error) {
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
	fetchRequests.Inc()
	resp := r.(*fetchAPI.Response)
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("fetching %d partitions: %w", len(tps), kafkago.Error(resp.ErrorCode))
	}
	return resp, nil
}
