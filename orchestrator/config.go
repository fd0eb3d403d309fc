package orchestrator

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/kafkaconf"
)

// Config configures an orchestrator instance. The zero value of every optional field means
// its documented default; call Validate (Run does) to see every problem at once.
type Config struct {
	// Kafka is the client configuration. Default: the zero kafkaconf.Config (127.0.0.1:9092).
	Kafka kafkaconf.Config

	// Sagas are the saga types this orchestrator runs (package sagas has the built-in
	// ones: sagas.Builtin()). At least one; every instance of a group must run the same
	// types. Required.
	Sagas []SagaType

	// GroupID is the consumer group shared by all orchestrator instances.
	// Default: "podium-orchestrator".
	GroupID string

	// Partitions is the partition count every input topic and podium.saga-state must have.
	// Run refuses to start on a mismatch. Default: 12.
	Partitions int

	// Workers are the workers whose reply topics this orchestrator consumes.
	// Default: the workers of every definition of Sagas.
	Workers []string

	// BatchSize caps the number of input records applied in one batch, and so the size of
	// one snapshot/command write. Default: 512.
	BatchSize int

	// SnapshotInterval is how long a saga's changes may wait before its snapshot is written
	// to podium.saga-state (a batch's commands and events are written at once; a new
	// saga's first snapshot and a finished saga's marker go out with the next write): a
	// saga changed by several
	// batches within it is written once. The batches' input offsets are committed after the
	// snapshots, so a crash re-applies at most this much input, and the consumer lag of a
	// busy partition shows about this much. Default: 100ms.
	SnapshotInterval time.Duration

	// Retention is how long the last snapshot of a finished saga (a small marker: status,
	// steps, reasons) stays in podium.saga-state before it is tombstoned. The saga itself
	// leaves memory when it finishes. At least two minutes. Default: 24h.
	Retention time.Duration

	// DedupeWindow is how long a finished saga is remembered, so that a duplicate start
	// (a second OrderPlaced) starts nothing and a late reply is ignored as "finished",
	// even after its snapshot was tombstoned. It costs about 45 bytes of memory per saga
	// finished within the window (plus its ID during Retention), and 17 bytes in
	// podium.saga-state. At least Retention. Default: 7 days (168h).
	DedupeWindow time.Duration

	// MaxStateBytes caps the encoded state of one saga: an input whose state would be
	// larger is a dead letter (reason too_large) instead of a record that no broker
	// accepts or that slows every restore. Default: 131072 (128 KiB; an order with 1,000
	// items needs about 60 KiB).
	MaxStateBytes int

	// EarlyCancelWindow is how long a cancel request for an order that has not arrived yet
	// is held (a cancel can be read before its OrderPlaced: Kafka orders records within a
	// topic only). If the order arrives within the window, its saga starts cancelled and
	// no command is sent; otherwise the request is rejected (podium.order.control-rejected.v1,
	// reason unknown_order). Held cancels are records of podium.saga-state and survive
	// restarts. Negative: no cancel is held, a cancel for an unknown order is rejected at
	// once. Default: 5 minutes.
	EarlyCancelWindow time.Duration

	// EarlyCancelMax caps the cancels held per partition; beyond it a cancel for an
	// unknown order is rejected at once. Default: 10000 (about 2 MB of memory).
	EarlyCancelMax int

	// SessionTimeout is the consumer-group session timeout: how long a silent member keeps
	// its partitions. Default: 10s.
	SessionTimeout time.Duration

	// Now is the clock. Default: time.Now.
	Now func() time.Time

	// Logger receives the runtime's logs. Default: a disabled logger.
	Logger zerolog.Logger

	// Metrics, when set, receives the runtime's counters. Default: none.
	Metrics *Metrics

	// Ready, when set, is called once, after the partition counts of every topic were
	// checked and before the instance joins its consumer group (for a /readyz endpoint).
	// Default: none.
	Ready func()
}

// Defaults of Config.
const (
	DefaultRetention     = 24 * time.Hour
	DefaultDedupeWindow  = 7 * 24 * time.Hour
	DefaultMaxStateBytes = 128 << 10
	// DefaultEarlyCancelWindow and DefaultEarlyCancelMax are the defaults of
	// EarlyCancelWindow and EarlyCancelMax.
	DefaultEarlyCancelWindow = 5 * time.Minute
	DefaultEarlyCancelMax    = 10000
	// MaxSnapshotInterval is the longest SnapshotInterval accepted.
	MaxSnapshotInterval = 5 * time.Second
	// MinRetention is the shortest Retention (and DedupeWindow) accepted.
	MinRetention = 2 * time.Minute
)

// withDefaults returns a copy of c with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = "podium-orchestrator"
	}
	if c.Partitions == 0 {
		c.Partitions = events.DefaultPartitions
	}
	if len(c.Workers) == 0 {
		c.Workers = workersOf(c.Sagas)
	}
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = DefaultDedupeWindow
	}
	if c.MaxStateBytes == 0 {
		c.MaxStateBytes = DefaultMaxStateBytes
	}
	if c.EarlyCancelWindow == 0 {
		c.EarlyCancelWindow = DefaultEarlyCancelWindow
	}
	if c.EarlyCancelMax == 0 {
		c.EarlyCancelMax = DefaultEarlyCancelMax
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	return c
}

// Validate reports every problem with the configuration, joined.
func (c Config) Validate() error {
	var errs []error
	if err := validateSagaTypes(c.Sagas); err != nil {
		errs = append(errs, err)
	}
	if len(c.Kafka.Brokers) == 0 {
		errs = append(errs, errors.New("orchestrator: at least one Kafka broker is required"))
	}
	if c.Partitions < 0 {
		errs = append(errs, errors.New("orchestrator: partitions must be positive"))
	}
	if c.BatchSize < 0 {
		errs = append(errs, errors.New("orchestrator: batch size must be positive"))
	}
	if c.SnapshotInterval < 0 || c.SnapshotInterval > MaxSnapshotInterval {
		errs = append(errs, fmt.Errorf("orchestrator: snapshot interval %s must be between 0 and %s (input offsets are committed only after it)", c.SnapshotInterval, MaxSnapshotInterval))
	}
	if c.Retention != 0 && c.Retention < MinRetention {
		errs = append(errs, fmt.Errorf("orchestrator: retention %s is below the minimum of %s (a finished saga's index record is written about a minute after it finished)", c.Retention, MinRetention))
	}
	if c.DedupeWindow != 0 && c.DedupeWindow < max(c.Retention, MinRetention) {
		errs = append(errs, fmt.Errorf("orchestrator: dedupe window %s must be at least the retention (%s)", c.DedupeWindow, max(c.Retention, MinRetention)))
	}
	if c.MaxStateBytes < 0 || (c.MaxStateBytes > 0 && c.MaxStateBytes < 16<<10) {
		errs = append(errs, fmt.Errorf("orchestrator: max state bytes %d must be at least 16384", c.MaxStateBytes))
	}
	if c.EarlyCancelMax < 0 {
		errs = append(errs, fmt.Errorf("orchestrator: early cancel max %d must not be negative", c.EarlyCancelMax))
	}
	return errors.Join(errs...)
}

// inputTopics are the topics the orchestrator group subscribes to, co-partitioned.
func (c Config) inputTopics() []string {
	topics := append(startTopics(c.Sagas), events.TopicOrdersControl)
	for _, w := range c.Workers {
		topics = append(topics, events.RepliesTopic(w))
	}
	return topics
}
