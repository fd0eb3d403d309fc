package workers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/schemas"
)

// Backoff bounds of the retries of a failed restore, fetch or batch write.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// idleExpiryInterval is how often an idle partition (its fetches come back empty) expires
// its processed store and writes the tombstones owed.
const idleExpiryInterval = time.Second

// tombstonesPerBatch is how many tombstones a write carries at most, in batches of
// Config.BatchSize: more than a batch stores, so tombstones never fall behind, and few
// enough that a large backlog (the first restore of a topic that was never tombstoned) is
// written over many writes instead of one that times out.
const tombstonesPerBatch = 10

// revokeGrace is how long a revoked partition may still take to write and commit the
// commands it handled before the revocation (see processBatch). It is well below the
// group's rebalance timeout (10s), within which the coordinator gives the partition to no
// one else.
const revokeGrace = 3 * time.Second

// withGrace returns a context that ends revokeGrace after gen ends (or when stop is called).
func withGrace(gen context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(gen))
	var timer *time.Timer
	var mu sync.Mutex
	unhook := context.AfterFunc(gen, func() {
		mu.Lock()
		timer = time.AfterFunc(grace, cancel)
		mu.Unlock()
	})
	return work, func() {
		unhook()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// Run consumes cfg.Worker's commands with h until ctx ends, then abandons the batches in
// hand (their partitions' next owners handle them) and returns nil. It returns an error at once if the configuration is invalid or the
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
	// Before the first command, not with it (commands of registered types are checked
	// against their schemas).
	if err := schemas.Compile(); err != nil {
		return err
	}
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
	// One feed for every owned partition: one long poll for all of them.
	r.feed = pkafka.NewFeed(cfg.Kafka, pkafka.FeedConfig{
		MaxWait: cfg.FetchMaxWait, MaxBytes: cfg.FetchMaxBytes, Buffered: 2 * cfg.BatchSize, Logger: r.log,
	})
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

// runner is the state Run shares with its partition goroutines. Its writer and feed are
// safe for concurrent use.
type runner struct {
	cfg     Config
	handler Handler
	topics  topicNames
	log     zerolog.Logger
	writer  batchWriter
	feed    *pkafka.Feed
}

// batchWriter writes records synchronously (acks all): a *pkafka.Producer.
type batchWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
	Close() error
}

func (r *runner) close() {
	if err := r.writer.Close(); err != nil {
		r.log.Warn().Err(err).Msg("closing the writer")
	}
	if err := r.feed.Close(); err != nil {
		r.log.Warn().Err(err).Msg("closing the feed")
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
// write and commit batches until ctx (the generation) ends. It then abandons the batch in
// hand: nothing is written after the generation ended.
func (r *runner) runPartition(ctx context.Context, a pkafka.Assignment) {
	p := a.Partition
	log := r.log.With().Int("partition", p).Logger()
	owned := r.cfg.Metrics.OwnedPartitions.WithLabelValues(r.cfg.Worker)
	owned.Inc()
	defer owned.Dec()

	proc, ok := r.restore(ctx, p, log)
	if !ok {
		return
	}
	defer func() { proc.storedReplies(-proc.store.len()) }()
	offset, ok := a.Offsets[r.topics.commands]
	if !ok {
		offset = kafkago.FirstOffset
	}
	log.Info().Int64("offset", offset).Int("stored_replies", proc.store.len()).
		Int("owed_tombstones", len(proc.store.owed)).Msg("partition assigned")

	var idle idleState
	var sub *pkafka.Subscription
	defer func() {
		if sub != nil {
			sub.Close()
		}
	}()
	backoff := retryMin
	for ctx.Err() == nil {
		if sub == nil {
			var err error
			if sub, err = r.feed.Subscribe(ctx, map[pkafka.TopicPartition]int64{{Topic: r.topics.commands, Partition: p}: offset}); err != nil {
				if ctx.Err() != nil {
					break
				}
				log.Warn().Err(err).Int64("offset", offset).Dur("backoff", backoff).Msg("subscribing to commands; retrying")
				backoff = wait(ctx, backoff)
				continue
			}
		}
		batch, err := r.next(ctx, sub)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn().Err(err).Int64("offset", offset).Dur("backoff", backoff).Msg("fetching commands; retrying")
			sub.Close()
			sub = nil
			backoff = wait(ctx, backoff)
			continue
		}
		if len(batch) == 0 {
			r.idle(ctx, proc, &idle, log)
			continue
		}
		offset = batch[len(batch)-1].Offset + 1
		if err := r.processBatch(ctx, a, proc, batch, log); err != nil {
			if ctx.Err() != nil {
				break
			}
			// Nothing of the batch was committed: read it again and handle it again.
			offset = batch[0].Offset
			sub.Close()
			sub = nil
			log.Error().Err(err).Int64("offset", offset).Dur("backoff", backoff).Msg("processing a batch; retrying")
			backoff = wait(ctx, backoff)
			continue
		}
		backoff = retryMin
	}
	// The generation lives until this returns: let the last commits reach the broker, so the
	// next owner does not get the last batches again (it would answer them from the store).
	a.Flush(commitFlushTimeout)
	log.Info().Int64("offset", offset).Msg("partition released")
}

// restore builds the processor of partition p and restores its processed store, retrying
// until it succeeds or ctx ends. Replies already out of the retention window are not kept;
// their keys are owed tombstones, written with the first writes.
func (r *runner) restore(ctx context.Context, p int, log zerolog.Logger) (*processor, bool) {
	backoff := retryMin
	for {
		start := time.Now()
		proc := newProcessor(r.cfg, r.handler, p, log)
		now := proc.now()
		end, err := pkafka.ReadPartition(ctx, r.cfg.Kafka, r.topics.processed, p, func(m kafkago.Message) error {
			proc.store.restore(m, now, log)
			return nil
		})
		if err == nil {
			proc.store.finishRestore()
			proc.storedReplies(proc.store.len())
			if n := len(proc.store.owed); n > 0 {
				r.cfg.Metrics.ExpiredReplies.WithLabelValues(r.cfg.Worker).Add(float64(n))
			}
			log.Debug().Int64("end_offset", end).Int("keys", proc.store.len()).Int("expired", len(proc.store.owed)).
				Dur("took", time.Since(start)).Msg("processed store restored")
			return proc, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		log.Error().Err(fmt.Errorf("restoring partition %d: %w", p, err)).Dur("backoff", backoff).Msg("retrying")
		backoff = wait(ctx, backoff)
	}
}

// next returns the next batch of commands, waiting up to FetchMaxWait for one: an empty
// batch means the wait ended with none (time for idle work).
func (r *runner) next(ctx context.Context, sub *pkafka.Subscription) ([]kafkago.Message, error) {
	if batch, err := sub.TryNext(r.cfg.BatchSize); len(batch) > 0 || err != nil {
		return batch, err
	}
	t := time.NewTimer(r.cfg.FetchMaxWait)
	defer t.Stop()
	select {
	case <-sub.Ready():
		return sub.TryNext(r.cfg.BatchSize)
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// processBatch expires the replies that left the retention window, handles batch, syncs
// the handler's effects, writes every resulting record (and the tombstones owed) in one
// synchronous call and commits the offset after the batch, without waiting for the commit
// (the Assignment counts it until it is answered, see Flush): the next fetch need not wait
// a round trip, and a lost commit only redelivers commands whose replies are stored. On an error nothing is
// committed and the batch's stored replies are forgotten, so the caller may handle it again.
func (r *runner) processBatch(ctx context.Context, a pkafka.Assignment, proc *processor, batch []kafkago.Message, log zerolog.Logger) error {
	start := time.Now()
	proc.expire()
	// ctx ends when the partition is revoked (a rebalance begins, or the worker stops). The
	// group hands the partition to no one before this member rejoins, which it does once this
	// returns: so, like a Java consumer's onPartitionsRevoked, finish the command in hand and
	// write and commit what was handled, but start no other command, and only within
	// revokeGrace — after it, nothing is written (the Producer does not even retry) and the
	// next owner answers the batch.
	work, stop := withGrace(ctx, revokeGrace)
	defer stop()
	msgs, handled := proc.process(ctx, work, batch)
	if handled == 0 {
		proc.discardPending()
		return fmt.Errorf("partition revoked before the batch: %w", ctx.Err())
	}
	batch = batch[:handled]
	if s, ok := r.handler.(Syncer); ok {
		if err := s.Sync(); err != nil {
			proc.discardPending()
			return fmt.Errorf("syncing effects: %w", err)
		}
	}
	tombstones, err := r.write(ctx, work, proc, msgs)
	if err != nil {
		return err
	}
	next := batch[len(batch)-1].Offset + 1
	a.CommitAsync(map[string]int64{r.topics.commands: next}, func(err error) {
		if err != nil {
			// Written but not committed: the batch is delivered again and answered from the store.
			log.Warn().Err(err).Int64("offset", next).Msg("committing offsets")
		}
	})
	r.cfg.Metrics.BatchSeconds.WithLabelValues(r.cfg.Worker).Observe(time.Since(start).Seconds())
	log.Debug().Int("commands", len(batch)).Int("records", len(msgs)).Int("tombstones", tombstones).
		Int64("offset", next).Dur("took", time.Since(start)).Msg("batch done")
	return nil
}

// write writes msgs in one synchronous call while work lives, preceded by the tombstones of
// owed keys while gen (the partition's generation) lives: after the partition was revoked,
// the commands handled are still answered within the revoke grace, but the tombstones are
// left to the next owner. On success the batch's stored replies
// join the store and the tombstones written are settled; on an error the stored replies are
// forgotten and the tombstones stay owed, to be written with a later write. It returns the
// number of tombstones written.
func (r *runner) write(gen, work context.Context, proc *processor, msgs []kafkago.Message) (int, error) {
	var tombstones []kafkago.Message
	if gen.Err() == nil {
		tombstones = proc.tombstones(tombstonesPerBatch * r.cfg.BatchSize)
	}
	if len(tombstones) > 0 {
		// Tombstones first: a key tombstoned and stored again in one write must end with its
		// new record. (The store does not pick a key the batch stores again; the order keeps
		// the write safe regardless.)
		msgs = append(tombstones, msgs...)
	}
	if len(msgs) == 0 {
		proc.commitPending()
		return 0, nil
	}
	// Once work ends (the revoke grace passed) nothing more is sent, not even a retry.
	wctx, cancel := context.WithTimeout(work, r.cfg.WriteTimeout)
	err := r.writer.WriteMessages(wctx, msgs...)
	cancel()
	if err != nil {
		proc.discardPending()
		return 0, fmt.Errorf("writing %d records: %w", len(msgs), err)
	}
	proc.commitPending()
	return len(tombstones), nil
}

// idleState is what a partition loop remembers between empty fetches.
type idleState struct {
	last   time.Time // the last idle expiry, on the processor's clock
	failed bool      // its write failed
}

// idle is the work of a partition whose fetch came back empty: once per idleExpiryInterval
// (and at once while tombstones are owed and the last write of them succeeded, to work off a
// backlog), expire the replies that left the window and write the tombstones owed. A failed
// write is logged; its tombstones stay owed.
func (r *runner) idle(ctx context.Context, proc *processor, st *idleState, log zerolog.Logger) {
	now := proc.now()
	if now.Sub(st.last) < idleExpiryInterval && (st.failed || !proc.store.owes()) {
		return
	}
	st.last = now
	expired := proc.expire()
	n, err := r.write(ctx, ctx, proc, nil)
	st.failed = err != nil
	if err != nil {
		log.Warn().Err(err).Msg("writing tombstones of expired keys; retrying later")
		return
	}
	if expired > 0 || n > 0 {
		log.Debug().Int("expired", expired).Int("tombstones", n).Int("stored_replies", proc.store.len()).
			Msg("processed store expired")
	}
}

// commitFlushTimeout bounds the wait for a released partition's last commits.
const commitFlushTimeout = 5 * time.Second

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
