package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// ErrPartitionMismatch is returned by Consume when podium.saga-state does not have
// Config.Partitions partitions.
var ErrPartitionMismatch = errors.New("partition count mismatch")

// Backoff between attempts after a Kafka error.
const (
	retryMin = 250 * time.Millisecond
	retryMax = 10 * time.Second
)

// sweepInterval is how often Consume expires finished orders when no record arrives.
const sweepInterval = time.Minute

// feed is one topic the read model is built from.
type feed struct {
	topic string
	apply func(kafkago.Message)
}

// Consume feeds the read model from podium.saga-state (snapshots) and orders.events
// (timeline records) until ctx ends (then it returns nil). For each partition of each
// topic, one goroutine restores the partition from its first offset up to the high
// watermark captured when it starts, then follows the partition from there; the read
// model is ready (and Restored closed) once every partition of both topics was restored.
// One more goroutine expires finished orders every minute. Kafka errors are logged and
// retried with backoff; only a partition count mismatch of podium.saga-state ends Consume
// with an error.
func (s *Service) Consume(ctx context.Context) error {
	counts, err := s.partitionCounts(ctx)
	if err != nil || counts == nil {
		return err
	}
	feeds := []feed{
		{topic: events.TopicSagaState, apply: s.apply},
		{topic: events.TopicOrdersEvents, apply: s.applyEvent},
	}
	start := time.Now()
	// After restore, one long poll follows every partition of both topics.
	live := pkafka.NewFeed(s.cfg.Kafka, pkafka.FeedConfig{MaxWait: 500 * time.Millisecond, MaxBytes: 16 << 20, Logger: s.log})
	defer live.Close()
	var (
		wg       sync.WaitGroup
		restored sync.WaitGroup
	)
	for _, f := range feeds {
		n := counts[f.topic]
		restored.Add(n)
		for p := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				end, ok := s.restorePartition(ctx, f, p)
				restored.Done()
				if ok {
					s.follow(ctx, live, f, p, end)
				}
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sweep(ctx)
	}()
	go func() {
		restored.Wait()
		if ctx.Err() != nil {
			return
		}
		s.model.SetReady()
		s.metrics.ready.Set(1)
		s.restoreOnce.Do(func() { close(s.restored) })
		s.log.Info().Int("partitions", counts[events.TopicSagaState]).Int("event_partitions", counts[events.TopicOrdersEvents]).
			Int("orders", s.model.Len()).Dur("took", time.Since(start)).Msg("read model restored")
	}()
	wg.Wait()
	return nil
}

// sweep expires finished orders every sweepInterval until ctx ends.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := s.model.Expire(); n > 0 {
				s.log.Debug().Int("orders", n).Int("held", s.model.Len()).Msg("expired finished orders")
			}
		}
	}
}

// partitionCounts asks for the partitions of podium.saga-state and orders.events until
// both exist or ctx ends (nil, nil). podium.saga-state must have Config.Partitions
// partitions when that is set; orders.events may have any number.
func (s *Service) partitionCounts(ctx context.Context) (map[string]int, error) {
	topics := []string{events.TopicSagaState, events.TopicOrdersEvents}
	wait := retryMin
	for {
		counts, err := pkafka.PartitionCounts(ctx, s.cfg.Kafka, topics)
		n := counts[events.TopicSagaState]
		if err == nil && n > 0 && s.cfg.Partitions > 0 && n != s.cfg.Partitions {
			return nil, fmt.Errorf("%s has %d partitions, want %d: %w", events.TopicSagaState, n, s.cfg.Partitions, ErrPartitionMismatch)
		}
		if err == nil {
			var missing []string
			for _, t := range topics {
				if counts[t] == 0 {
					missing = append(missing, t)
				}
			}
			if len(missing) == 0 {
				return counts, nil
			}
			err = fmt.Errorf("topics %s do not exist", strings.Join(missing, ", "))
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		s.log.Warn().Err(err).Dur("retry_in", wait).Msg("reading topic partitions")
		if !sleep(ctx, wait) {
			return nil, nil
		}
		wait = min(wait*2, retryMax)
	}
}

// restorePartition reads partition p of f's topic up to the watermark captured at the
// call, retrying from the start after an error (applying a snapshot or a timeline record
// twice changes nothing). It returns
// the watermark, and false if ctx ended first.
func (s *Service) restorePartition(ctx context.Context, f feed, p int) (int64, bool) {
	log := s.log.With().Str("topic", f.topic).Int("partition", p).Logger()
	wait := retryMin
	for {
		t0 := time.Now()
		records := 0
		end, err := pkafka.ReadPartition(ctx, s.cfg.Kafka, f.topic, p, func(m kafkago.Message) error {
			records++
			f.apply(m)
			return nil
		})
		if err == nil {
			log.Debug().Int64("end", end).Int("records", records).Dur("took", time.Since(t0)).Msg("partition restored")
			return end, true
		}
		if ctx.Err() != nil {
			return 0, false
		}
		log.Warn().Err(err).Dur("retry_in", wait).Msg("restoring partition")
		if !sleep(ctx, wait) {
			return 0, false
		}
		wait = min(wait*2, retryMax)
	}
}

// follow reads partition p of f's topic from offset with live until ctx ends, subscribing
// again after errors.
func (s *Service) follow(ctx context.Context, live *pkafka.Feed, f feed, p int, offset int64) {
	log := s.log.With().Str("topic", f.topic).Int("partition", p).Logger()
	wait := retryMin
	for ctx.Err() == nil {
		sub, err := live.Subscribe(ctx, map[pkafka.TopicPartition]int64{{Topic: f.topic, Partition: p}: offset})
		for err == nil {
			var recs []kafkago.Message
			if recs, err = sub.Next(ctx, 0); err == nil {
				for _, m := range recs {
					f.apply(m)
					offset = m.Offset + 1
				}
				wait = retryMin
			}
		}
		if sub != nil {
			sub.Close()
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Int64("offset", offset).Dur("retry_in", wait).Msg("following partition")
		if !sleep(ctx, wait) {
			return
		}
		wait = min(wait*2, retryMax)
	}
}

// apply applies one podium.saga-state record to the read model and counts it.
func (s *Service) apply(m kafkago.Message) {
	if isInternal(m.Key) {
		s.metrics.snapshots.WithLabelValues("internal").Inc()
		return
	}
	ch, err := s.model.Apply(m.Key, m.Value)
	switch {
	case err != nil:
		s.metrics.snapshots.WithLabelValues("invalid").Inc()
		s.log.Warn().Err(err).Int("partition", m.Partition).Int64("offset", m.Offset).Str("order_id", string(m.Key)).Msg("skipping unreadable snapshot")
	case !ch.Applied:
		s.metrics.snapshots.WithLabelValues("stale").Inc()
	case m.Value == nil:
		s.metrics.snapshots.WithLabelValues("tombstone").Inc()
	default:
		s.metrics.snapshots.WithLabelValues("applied").Inc()
	}
	s.countTransition(ch)
}

// applyEvent applies one orders.events record to the read model and counts it.
func (s *Service) applyEvent(m kafkago.Message) {
	ch, err := s.model.ApplyEvent(m.Key, m.Value, toEventHeaders(m.Headers))
	switch {
	case err != nil:
		s.metrics.events.WithLabelValues("invalid").Inc()
		s.log.Warn().Err(err).Int("partition", m.Partition).Int64("offset", m.Offset).Str("order_id", string(m.Key)).Msg("skipping unreadable event")
	case ch.Other:
		s.metrics.events.WithLabelValues("other").Inc()
	case !ch.Applied:
		s.metrics.events.WithLabelValues("stale").Inc()
	default:
		s.metrics.events.WithLabelValues("applied").Inc()
	}
	s.countTransition(ch)
}

func (s *Service) countTransition(ch Change) {
	if ch.Applied && ch.To != "" && ch.From != ch.To && s.model.Ready() {
		s.metrics.transitions.WithLabelValues(ch.Type, ch.To).Inc()
	}
}

func toEventHeaders(hs []kafkago.Header) []events.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]events.Header, len(hs))
	for i, h := range hs {
		out[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
