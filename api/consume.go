package api

import (
	"context"
	"errors"
	"fmt"
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

// Consume feeds the read model from podium.saga-state until ctx ends (then it returns
// nil). For each partition, one goroutine restores the partition from its first offset
// up to the high watermark captured when it starts, then follows the partition from
// there; the read model is ready (and Restored closed) once every partition was restored.
// Kafka errors are logged and retried with backoff; only a partition count mismatch ends
// Consume with an error.
func (s *Service) Consume(ctx context.Context) error {
	n, err := s.partitionCount(ctx)
	if err != nil || n == 0 {
		return err
	}
	start := time.Now()
	var (
		wg       sync.WaitGroup
		restored sync.WaitGroup
	)
	restored.Add(n)
	for p := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			end, ok := s.restorePartition(ctx, p)
			restored.Done()
			if ok {
				s.follow(ctx, p, end)
			}
		}()
	}
	go func() {
		restored.Wait()
		if ctx.Err() != nil {
			return
		}
		s.model.SetReady()
		s.metrics.ready.Set(1)
		s.restoreOnce.Do(func() { close(s.restored) })
		s.log.Info().Int("partitions", n).Int("orders", s.model.Len()).Dur("took", time.Since(start)).Msg("read model restored")
	}()
	wg.Wait()
	return nil
}

// partitionCount asks for the changelog's partitions until it gets an answer or ctx ends
// (0, nil).
func (s *Service) partitionCount(ctx context.Context) (int, error) {
	wait := retryMin
	for {
		counts, err := pkafka.PartitionCounts(ctx, s.cfg.Kafka, []string{events.TopicSagaState})
		n := counts[events.TopicSagaState]
		switch {
		case err == nil && n > 0 && s.cfg.Partitions > 0 && n != s.cfg.Partitions:
			return 0, fmt.Errorf("%s has %d partitions, want %d: %w", events.TopicSagaState, n, s.cfg.Partitions, ErrPartitionMismatch)
		case err == nil && n > 0:
			return n, nil
		case err == nil:
			err = fmt.Errorf("topic %s does not exist", events.TopicSagaState)
		}
		if ctx.Err() != nil {
			return 0, nil
		}
		s.log.Warn().Err(err).Dur("retry_in", wait).Msg("reading changelog partitions")
		if !sleep(ctx, wait) {
			return 0, nil
		}
		wait = min(wait*2, retryMax)
	}
}

// restorePartition reads partition p up to the watermark captured at the call, retrying
// from the start after an error (applying a snapshot twice changes nothing). It returns
// the watermark, and false if ctx ended first.
func (s *Service) restorePartition(ctx context.Context, p int) (int64, bool) {
	log := s.log.With().Int("partition", p).Logger()
	wait := retryMin
	for {
		t0 := time.Now()
		records := 0
		end, err := pkafka.ReadPartition(ctx, s.cfg.Kafka, events.TopicSagaState, p, func(m kafkago.Message) error {
			records++
			s.apply(m)
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

// follow reads partition p from offset until ctx ends, reconnecting after errors.
func (s *Service) follow(ctx context.Context, p int, offset int64) {
	log := s.log.With().Int("partition", p).Logger()
	brokers := s.cfg.Kafka.Brokers
	if len(brokers) == 0 {
		brokers = []string{pkafka.DefaultBroker}
	}
	wait := retryMin
	for ctx.Err() == nil {
		r := kafkago.NewReader(kafkago.ReaderConfig{
			Brokers:   brokers,
			Topic:     events.TopicSagaState,
			Partition: p,
			Dialer:    s.cfg.Kafka.Dialer(),
			MinBytes:  1,
			MaxBytes:  16 << 20,
			MaxWait:   500 * time.Millisecond,
		})
		err := r.SetOffset(offset)
		for err == nil {
			var m kafkago.Message
			if m, err = r.FetchMessage(ctx); err == nil {
				s.apply(m)
				offset = m.Offset + 1
				wait = retryMin
			}
		}
		_ = r.Close()
		if ctx.Err() != nil {
			return
		}
		log.Warn().Err(err).Int64("offset", offset).Dur("retry_in", wait).Msg("following changelog")
		if !sleep(ctx, wait) {
			return
		}
		wait = min(wait*2, retryMax)
	}
}

// apply applies one changelog record to the read model and counts it.
func (s *Service) apply(m kafkago.Message) {
	ch, err := s.model.Apply(m.Key, m.Value)
	switch {
	case err != nil:
		s.metrics.snapshots.WithLabelValues("invalid").Inc()
		s.log.Warn().Err(err).Int("partition", m.Partition).Int64("offset", m.Offset).Str("order_id", string(m.Key)).Msg("skipping unreadable snapshot")
	case !ch.Applied:
		s.metrics.snapshots.WithLabelValues("stale").Inc()
	case ch.Deleted:
		s.metrics.snapshots.WithLabelValues("tombstone").Inc()
	default:
		s.metrics.snapshots.WithLabelValues("applied").Inc()
		if ch.From != ch.To && s.model.Ready() {
			s.metrics.transitions.WithLabelValues(string(ch.To)).Inc()
		}
	}
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
