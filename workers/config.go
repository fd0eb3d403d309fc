package workers

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/kafkaconf"
)

// Config configures Run. The zero value of every optional field means its documented
// default; Validate reports every problem at once.
type Config struct {
	// Worker is the worker's name: its topics are "<Worker>.commands", ".replies",
	// ".processed" and ".dlq". Required; lower-case letters, digits and '-'.
	Worker string

	// Kafka is the client configuration. Default: the zero kafkaconf.Config (127.0.0.1:9092,
	// no TLS, no SASL).
	Kafka kafkaconf.Config

	// Partitions is the partition count "<Worker>.commands", ".replies" and ".processed" must
	// have (the DLQ may have any). Run refuses to start on a mismatch. Default: 12.
	Partitions int

	// GroupID is the consumer group of all instances of this worker.
	// Default: "podium-worker-<Worker>".
	GroupID string

	// Types are the command types this worker accepts; a command of any other type is a dead
	// letter. Default: events.CommandTypes(Worker).
	Types []string

	// HandlerTimeout is the deadline of one Handle call. Default: 10s.
	HandlerTimeout time.Duration

	// BatchSize caps the number of commands handled, written and committed together.
	// Default: 500.
	BatchSize int

	// FetchMaxWait is the long poll of the worker's fetches (one request covers every owned
	// partition), so also the longest a newly assigned partition waits for its first fetch,
	// and how often an idle partition does its housekeeping (expiring stored replies).
	// Default: 500ms.
	FetchMaxWait time.Duration

	// FetchMaxBytes is each partition's size limit in one fetch. Default: 1 MiB.
	FetchMaxBytes int

	// WriteTimeout bounds one batch write, including the final flush at shutdown.
	// Default: 30s.
	WriteTimeout time.Duration

	// ProcessedRetention is how long the reply stored for an idempotency key is kept: a
	// repeat of the command within it is answered with the stored reply; after it the key is
	// forgotten (removed from memory, its record on "<Worker>.processed" tombstoned) and a
	// repeat runs the handler again. Choose it longer than the longest an orchestrator may
	// retry a step or compensation. Memory per partition is proportional to the keys stored
	// within it (about 215 bytes per key: at 100 keys/s, 1.9 GB for a day). Default: 24h.
	ProcessedRetention time.Duration

	// Faults injects failures for tests and benchmarks. Default: none.
	Faults Faults

	// Logger receives the runtime's logs. Run adds the field worker (and partition, order_id,
	// step, command_id, attempt where they apply); the caller sets component.
	// Default: a disabled logger.
	Logger zerolog.Logger

	// Metrics, when set, receives the runtime's counters. Default: unregistered metrics.
	Metrics *Metrics

	// Ready, when set, is called once, after the topics were checked and before the worker
	// joins its consumer group (for a /readyz endpoint). Default: none.
	Ready func()
}

// Faults are injected failures, decided per command by a generator seeded from Seed and the
// partition, so the same commands on the same partition meet the same faults.
type Faults struct {
	// Latency is added before each valid command is handled (or answered from the store).
	// Default: 0.
	Latency time.Duration
	// ErrorRate is the probability, 0..1, that a command that would run the handler is
	// answered with outcome error and reason "injected_error" instead; nothing is stored, so
	// the orchestrator's retry runs it again. Default: 0.
	ErrorRate float64
	// DropRate is the probability, 0..1, that a reply is not sent. The handler has run and the
	// processed record is stored, so a retry of the command gets the stored reply. Default: 0.
	DropRate float64
	// DuplicateRate is the probability, 0..1, that a reply is sent twice. Default: 0.
	DuplicateRate float64
	// Seed seeds the fault generator. Default: 0 (a fixed seed like any other).
	Seed int64
}

// Defaults of Config.
const (
	DefaultHandlerTimeout = 10 * time.Second
	DefaultBatchSize      = 500
	DefaultFetchMaxWait   = 500 * time.Millisecond
	DefaultFetchMaxBytes  = 1 << 20
	DefaultWriteTimeout   = 30 * time.Second
	// DefaultProcessedRetention is the default of Config.ProcessedRetention.
	DefaultProcessedRetention = 24 * time.Hour
)

// ReasonInjectedError is the reason of the error replies injected by Faults.ErrorRate.
const ReasonInjectedError = "injected_error"

var workerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// GroupIDFor is the default consumer group of a worker: "podium-worker-<worker>".
func GroupIDFor(worker string) string { return "podium-worker-" + worker }

// withDefaults returns a copy of c with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Partitions == 0 {
		c.Partitions = events.DefaultPartitions
	}
	if c.GroupID == "" && c.Worker != "" {
		c.GroupID = GroupIDFor(c.Worker)
	}
	if len(c.Types) == 0 {
		c.Types = events.CommandTypes(c.Worker)
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = DefaultHandlerTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	if c.FetchMaxBytes == 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ProcessedRetention == 0 {
		c.ProcessedRetention = DefaultProcessedRetention
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	return c
}

// Validate reports every problem with the configuration (after defaults), joined.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	switch {
	case c.Worker == "":
		errs = append(errs, errors.New("worker: a name is required"))
	case !workerName.MatchString(c.Worker):
		errs = append(errs, fmt.Errorf("worker: name %q: want lower-case letters, digits and '-'", c.Worker))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("worker: kafka: %w", err))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("worker: partitions must be at least 1, got %d", c.Partitions))
	}
	if c.Worker != "" && len(c.Types) == 0 {
		errs = append(errs, fmt.Errorf("worker: no command types for worker %q: set Types", c.Worker))
	}
	if c.HandlerTimeout < 0 {
		errs = append(errs, fmt.Errorf("worker: handler timeout must be positive, got %s", c.HandlerTimeout))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("worker: batch size must be at least 1, got %d", c.BatchSize))
	}
	if c.FetchMaxWait < 0 {
		errs = append(errs, fmt.Errorf("worker: fetch max wait must be positive, got %s", c.FetchMaxWait))
	}
	if c.FetchMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("worker: fetch max bytes must be at least 1, got %d", c.FetchMaxBytes))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("worker: write timeout must be positive, got %s", c.WriteTimeout))
	}
	if c.ProcessedRetention <= 0 {
		errs = append(errs, fmt.Errorf("worker: processed retention must be positive, got %s", c.ProcessedRetention))
	}
	errs = append(errs, c.Faults.validate()...)
	return errors.Join(errs...)
}

func (f Faults) validate() []error {
	var errs []error
	if f.Latency < 0 {
		errs = append(errs, fmt.Errorf("worker: latency must not be negative, got %s", f.Latency))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"error rate", f.ErrorRate}, {"drop rate", f.DropRate}, {"duplicate rate", f.DuplicateRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also rejects NaN
			errs = append(errs, fmt.Errorf("worker: %s must be within [0, 1], got %v", r.name, r.v))
		}
	}
	return errs
}
