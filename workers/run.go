package workers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Backoff bounds of the retries of a failed restore, fetch or batch write.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// Run consumes cfg.Worker's commands with h until ctx ends, then finishes the batches in
// hand and returns nil. It returns an error at once if the configuration is invalid or the
// worker's topics are missing or have the wrong partition counts, and later only if the
// consumer group fails for good. Transient Kafka errors are logged and retried with backoff.
// See the package documentation for the processing steps and guarantees.
func Run(ctx context.Context, cfg Config, h Handler) error {
	if h == nil {
		return errors.New("worker: a handler is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	r := &runner{
		cfg:     cfg,
		handler: h,
		topics:  topicsOf(cfg.Worker),
		log:     cfg.Logger.With().Str("worker", cfg.Worker).Logger(),
	}
	if err := pkafka.RetryStartup(ctx, cfg.Kafka, pkafka.DefaultStartupBudget, r.log, "checking topics", r.checkTopics); err != nil {
		return err
	}

	// A batch's processed records and replies go out in one Produce request, at once: the
	// Producer has no batching timer (a kafka-go Writer would hold them BatchTimeout and send
	// one request per topic-partition).
	r.writer = pkafka.NewProducer(cfg.Kafka)
	r.client = cfg.Kafka.Client()
	defer r.close()

	if cfg.Ready != nil {
		cfg.Ready()
	}
	r.log.Info().Str("group_id", cfg.GroupID).Str("topic", r.topics.commands).Msg("worker started")
	err := pkafka.RunGroup(ctx, pkafka.GroupConfig{
		GroupID: cfg.GroupID,
		Topics:  []string{r.topics.commands},
		Config:  cfg.Kafka,
		Logger:  r.log,
	}, r.runPartition)
	if ctx.Err() != nil {
		r.log.Info().Msg("worker stopped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("worker %s: consumer group: %w", cfg.Worker, err)
	}
	return nil
}

// runner is the state Run shares with its partition goroutines. Its writer and client are
// safe for concurrent use.
type runner struct {
	cfg     Config
	handler Handler
	topics  topicNames
	log     zerolog.Logger
	writer  *pkafka.Producer
	client  *kafkago.Client
}

func (r *runner) close() {
	if err := r.writer.Close(); err != nil {
		r.log.Warn().Err(err).Msg("closing the writer")
	}
	if t, ok := r.client.Transport.(*kafkago.Transport); ok {
		t.CloseIdleConnections()
	}
}

// checkTopics verifies that the worker's topics exist and that commands, replies and
// processed have cfg.Partitions partitions, reporting every problem at once.
func (r *runner) checkTopics(ctx context.Context) error {
	t := r.topics
	counts, err := pkafka.PartitionCounts(ctx, r.cfg.Kafka, []string{t.commands, t.replies, t.processed, t.dlq})
	if err != nil {
		return fmt.Errorf("worker %s: checking topics: %w", r.cfg.Worker, err)
	}
	var errs []error
	for _, name := range []string{t.commands, t.replies, t.processed} {
		if n := counts[name]; n != r.cfg.Partitions {
			errs = append(errs, fmt.Errorf("topic %s has %d partitions, want %d", name, n, r.cfg.Partitions))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker %s: checking topics: %w", r.cfg.Worker, err)
	}
	return nil
}

// runPartition is the processor loop of one owned partition: restore, then fetch, process,
// write and commit batches until ctx (the generation) ends. It returns after finishing the
// batch in hand.
func (r *runner) runPartition(ctx context.Context, a pkafka.Assignment) {
	p := a.Partition
	log := r.log.With().Int("partition", p).Logger()
	owned := r.cfg.Metrics.OwnedPartitions.WithLabelValues(r.cfg.Worker)
	owned.Inc()
	defer owned.Dec()

	store, ok := r.restore(ctx, p, log)
	if !ok {
		return
	}
	proc := newProcessor(r.cfg, r.handler, p, store, log)
	offset, ok := a.Offsets[r.topics.commands]
	if !ok {
		offset = kafkago.FirstOffset
	}
	log.Info().Int64("offset", offset).Int("stored_replies", len(store)).Msg("partition assigned")

	var commits sync.WaitGroup // commits sent and not yet answered
	backoff := retryMin
	for ctx.Err() == nil {
		batch, next, err := r.fetch(ctx, p, offset, log)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn().Err(err).Int64("offset", offset).Dur("backoff", backoff).Msg("fetching commands; retrying")
			backoff = wait(ctx, backoff)
			continue
		}
		offset = next
		if len(batch) == 0 {
			continue
		}
		if err := r.processBatch(ctx, a, proc, batch, &commits, log); err != nil {
			if ctx.Err() != nil {
				break
			}
			// Nothing of the batch was committed: fetch it again and handle it again.
			offset = batch[0].Offset
			log.Error().Err(err).Int64("offset", offset).Dur("backoff", backoff).Msg("processing a batch; retrying")
			backoff = wait(ctx, backoff)
			continue
		}
		backoff = retryMin
	}
	// The generation lives until this returns: let the last commits reach the broker, so the
	// next owner does not get the last batches again (it would answer them from the store).
	waitCommits(&commits, commitFlushTimeout)
	log.Info().Int64("offset", offset).Msg("partition released")
}

// restore reads the processed store of partition p, retrying until it succeeds or ctx ends.
func (r *runner) restore(ctx context.Context, p int, log zerolog.Logger) (map[string]events.Envelope, bool) {
	backoff := retryMin
	for {
		start := time.Now()
		store := map[string]events.Envelope{}
		end, err := pkafka.ReadPartition(ctx, r.cfg.Kafka, r.topics.processed, p, func(m kafkago.Message) error {
			restoreRecord(store, m, log)
			return nil
		})
		if err == nil {
			log.Debug().Int64("end_offset", end).Int("keys", len(store)).Dur("took", time.Since(start)).
				Msg("processed store restored")
			return store, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		log.Error().Err(fmt.Errorf("restoring partition %d: %w", p, err)).Dur("backoff", backoff).Msg("retrying")
		backoff = wait(ctx, backoff)
	}
}

// fetch long-polls one batch of commands from offset and returns them with the offset to
// fetch next. A committed offset outside the log (retention deleted records not yet
// consumed, or the topic was recreated) is logged with the gap and reset to the log start.
func (r *runner) fetch(ctx context.Context, p int, offset int64, log zerolog.Logger) ([]kafkago.Message, int64, error) {
	res, err := r.client.Fetch(ctx, &kafkago.FetchRequest{
		Topic:     r.topics.commands,
		Partition: p,
		Offset:    offset,
		MinBytes:  1,
		MaxBytes:  int64(r.cfg.FetchMaxBytes),
		MaxWait:   r.cfg.FetchMaxWait,
	})
	if err != nil {
		return nil, offset, err
	}
	if res.Error != nil {
		if errors.Is(res.Error, kafkago.OffsetOutOfRange) {
			log.Error().Int64("offset", offset).Int64("log_start", res.LogStartOffset).
				Int64("high_watermark", res.HighWatermark).Int64("gap", res.LogStartOffset-offset).
				Msg("the committed offset is outside the log: commands were lost to retention or the topic was recreated; continuing from the log start")
			return nil, kafkago.FirstOffset, nil
		}
		return nil, offset, res.Error
	}
	var batch []kafkago.Message
	next := offset
	for len(batch) < r.cfg.BatchSize {
		rec, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(batch) > 0 {
				break // handle what was read; the rest is fetched again
			}
			return nil, offset, fmt.Errorf("decoding records of %s[%d]: %w", r.topics.commands, p, err)
		}
		if rec.Offset < offset {
			continue // a record batch may start before the offset asked for
		}
		msg, err := toMessage(r.topics.commands, p, rec)
		if err != nil {
			if len(batch) > 0 {
				break
			}
			return nil, offset, fmt.Errorf("reading record %s[%d]@%d: %w", r.topics.commands, p, rec.Offset, err)
		}
		batch = append(batch, msg)
		next = rec.Offset + 1
	}
	return batch, next, nil
}

// processBatch handles batch, syncs the handler's effects, writes every resulting record in
// one synchronous call and commits the offset after the batch, without waiting for the
// commit (commits counts it until it is answered): the next fetch need not wait a round
// trip, and a lost commit only redelivers commands whose replies are stored. On an error
// nothing is committed and the batch's stored replies are forgotten, so the caller may
// handle it again.
func (r *runner) processBatch(ctx context.Context, a pkafka.Assignment, proc *processor, batch []kafkago.Message, commits *sync.WaitGroup, log zerolog.Logger) error {
	start := time.Now()
	msgs := proc.process(ctx, batch)
	if s, ok := r.handler.(Syncer); ok {
		if err := s.Sync(); err != nil {
			proc.discardPending()
			return fmt.Errorf("syncing effects: %w", err)
		}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.WriteTimeout)
	err := r.writer.WriteMessages(wctx, msgs...)
	cancel()
	if err != nil {
		proc.discardPending()
		return fmt.Errorf("writing %d records: %w", len(msgs), err)
	}
	proc.commitPending()
	next := batch[len(batch)-1].Offset + 1
	commits.Add(1)
	a.CommitAsync(map[string]int64{r.topics.commands: next}, func(err error) {
		defer commits.Done()
		if err != nil {
			// Written but not committed: the batch is delivered again and answered from the store.
			log.Warn().Err(err).Int64("offset", next).Msg("committing offsets")
		}
	})
	r.cfg.Metrics.BatchSeconds.WithLabelValues(r.cfg.Worker).Observe(time.Since(start).Seconds())
	log.Debug().Int("commands", len(batch)).Int("records", len(msgs)).Int64("offset", next).
		Dur("took", time.Since(start)).Msg("batch done")
	return nil
}

// toMessage copies a fetched record into a Message that outlives the fetch response.
func toMessage(topic string, partition int, rec *kafkago.Record) (kafkago.Message, error) {
	var key, value []byte
	var err error
	if rec.Key != nil {
		if key, err = io.ReadAll(rec.Key); err != nil {
			return kafkago.Message{}, err
		}
	}
	if rec.Value != nil {
		if value, err = io.ReadAll(rec.Value); err != nil {
			return kafkago.Message{}, err
		}
	}
	headers := make([]kafkago.Header, len(rec.Headers))
	for i, h := range rec.Headers {
		headers[i] = kafkago.Header{Key: h.Key, Value: slices.Clone(h.Value)}
	}
	return kafkago.Message{
		Topic: topic, Partition: partition, Offset: rec.Offset, Time: rec.Time,
		Key: key, Value: value, Headers: headers,
	}, nil
}

// commitFlushTimeout bounds the wait for a released partition's last commits.
const commitFlushTimeout = 5 * time.Second

// waitCommits waits until every commit counted by commits is answered, or d passes.
func waitCommits(commits *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { commits.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// wait waits d or until ctx ends, and returns the next backoff.
func wait(ctx context.Context, d time.Duration) time.Duration {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return min(2*d, retryMax)
}
