package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/schemas"
)

// ErrPartitionMismatch reports topics whose partition count differs from the configured
// one. Co-partitioning is what makes ownership work, so Run refuses to start.
var ErrPartitionMismatch = errors.New("partition count mismatch")

// commitFlushTimeout bounds the wait for a released partition's last offset commits.
const commitFlushTimeout = 5 * time.Second

// feedMaxWait is the long poll of the orchestrator's fetches: with no input, a fetch returns
// after it, so it is also the longest a newly assigned partition waits for its first fetch.
const feedMaxWait = 250 * time.Millisecond

// messageWriter is what a processor needs from a Kafka writer.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
}

// Run joins the orchestrator group and processes every partition this instance is assigned
// until ctx ends. It returns nil after a clean shutdown (batch finished, writer flushed,
// group left), or the error that stopped it.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Before the first input, not with it: an order placed just after a start is not held
	// up by it.
	if err := schemas.Compile(); err != nil {
		return err
	}
	check := func(ctx context.Context) error { return CheckPartitions(ctx, cfg) }
	if err := pkafka.RetryStartup(ctx, cfg.Kafka, pkafka.DefaultStartupBudget, cfg.Logger, "checking topics", check); err != nil {
		return err
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	// One Producer for every partition processor: it writes each call synchronously, with no
	// background retry that could land a batch after its generation ended, and merges the
	// batches that processors write at the same time into one request.
	w := pkafka.NewProducer(cfg.Kafka)
	defer func() {
		if err := w.Close(); err != nil {
			cfg.Logger.Error().Err(err).Msg("closing producer")
		}
	}()
	// One Feed for every partition processor: one long poll covers every owned partition of
	// every input topic (and the changelog's tail).
	feed := pkafka.NewFeed(cfg.Kafka, pkafka.FeedConfig{MaxWait: feedMaxWait, MaxBytes: 8 << 20, Buffered: 2 * cfg.BatchSize, Logger: cfg.Logger})
	defer func() {
		if err := feed.Close(); err != nil {
			cfg.Logger.Error().Err(err).Msg("closing the feed")
		}
	}()
	cfg.Logger.Info().Int("partitions", cfg.Partitions).Str("group_id", cfg.GroupID).
		Strs("topics", cfg.inputTopics()).Msg("joining orchestrator group")
	// A partition that cannot be served at all (ErrMissingDefinition) stops the instance:
	// rejoining would only hand the partition to an instance that cannot serve it either.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	err := pkafka.RunGroup(ctx, pkafka.GroupConfig{
		GroupID:        cfg.GroupID,
		Topics:         cfg.inputTopics(),
		Config:         cfg.Kafka,
		SessionTimeout: cfg.SessionTimeout,
		Logger:         cfg.Logger,
	}, func(ctx context.Context, a pkafka.Assignment) {
		cfg.Metrics.OwnedPartitions.Inc()
		defer cfg.Metrics.OwnedPartitions.Dec()
		p := newProcessor(cfg, w, a)
		p.feed = feed
		if err := p.run(ctx); errors.Is(err, ErrMissingDefinition) {
			p.log.Error().Err(err).Msg("stopping: a saga definition version is missing")
			stop(err)
		} else if err != nil && ctx.Err() == nil {
			// Returning ends this generation: the group rejoins and the partition is
			// restored afresh, which is the recovery for every processor failure.
			p.log.Error().Err(err).Msg("partition processor stopped; rejoining the group")
		}
	})
	if cause := context.Cause(ctx); errors.Is(cause, ErrMissingDefinition) {
		return cause
	}
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// CheckPartitions verifies that every input topic and podium.saga-state has exactly
// cfg.Partitions partitions, listing every mismatch.
func CheckPartitions(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	topics := append(cfg.inputTopics(), events.TopicSagaState)
	counts, err := pkafka.PartitionCounts(ctx, cfg.Kafka, topics)
	if err != nil {
		return fmt.Errorf("reading partition counts: %w", err)
	}
	var problems []string
	for _, t := range topics {
		n, ok := counts[t]
		switch {
		case !ok || n == 0:
			problems = append(problems, fmt.Sprintf("topic %s does not exist (run `podium topics create`)", t))
		case n != cfg.Partitions:
			problems = append(problems, fmt.Sprintf("topic %s has %d partitions, want %d", t, n, cfg.Partitions))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%w: %v", ErrPartitionMismatch, problems)
	}
	return nil
}

// CreateTopics creates every topic that cfg's saga types and their workers need and that does
// not exist yet, and verifies the ones that do: each start topic, orders.control,
// orders.events, podium.saga-state (compacted), orders.dlq, and per worker of the
// definitions "<worker>.commands", ".replies", ".processed" (compacted) and ".dlq", all with
// cfg.Partitions partitions (dead-letter topics: one, or any existing count), with the same
// settings as `podium topics create` (retention of 7 days on the non-compacted topics). An
// existing topic whose partition count or cleanup policy differs is an error listing every
// difference; nothing existing is changed. It is idempotent. Production clusters usually
// create topics by their own process; CreateTopics suits development and tests.
func CreateTopics(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if err := validateSagaTypes(cfg.Sagas); err != nil {
		return err
	}
	specs := pkafka.SagaTopics(cfg.Partitions, startTopics(cfg.Sagas), cfg.Workers)
	if err := pkafka.EnsureTopics(ctx, cfg.Kafka, specs); err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	return nil
}
