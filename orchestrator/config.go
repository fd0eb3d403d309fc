package orchestrator

import (
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// Config configures an orchestrator instance. The zero value of every optional field means
// its documented default; call Validate (Run does) to see every problem at once.
type Config struct {
	// Kafka is the client configuration.
	Kafka pkafka.Config

	// Definition is the saga every OrderPlaced starts. Required.
	Definition *saga.Definition

	// GroupID is the consumer group shared by all orchestrator instances.
	// Default: "podium-orchestrator".
	GroupID string

	// Partitions is the partition count every input topic and podium.saga-state must have.
	// Run refuses to start on a mismatch. Default: 12.
	Partitions int

	// Workers are the workers whose reply topics this orchestrator consumes.
	// Default: events.Workers.
	Workers []string

	// BatchSize caps the number of input records applied in one batch, and so the size of
	// one snapshot/command write. Default: 512.
	BatchSize int

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

// withDefaults returns a copy of c with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.GroupID == "" {
		c.GroupID = "podium-orchestrator"
	}
	if c.Partitions == 0 {
		c.Partitions = events.DefaultPartitions
	}
	if len(c.Workers) == 0 {
		c.Workers = events.Workers
	}
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
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
	if c.Definition == nil {
		errs = append(errs, errors.New("orchestrator: a saga definition is required"))
	} else if err := c.Definition.Validate(); err != nil {
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
	return errors.Join(errs...)
}

// inputTopics are the topics the orchestrator group subscribes to, co-partitioned.
func (c Config) inputTopics() []string {
	topics := []string{events.TopicOrdersPlaced, events.TopicOrdersControl}
	for _, w := range c.Workers {
		topics = append(topics, events.RepliesTopic(w))
	}
	return topics
}
