package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
)

// Cleanup policies checked by EnsureTopics.
const (
	CleanupCompact = "compact"
	CleanupDelete  = "delete"
)

// DLQPartitions is the partition count of dead-letter topics. Dead letters are rare, are
// read by operators rather than by a partitioned consumer group, and need no co-partitioning,
// so one partition keeps them in arrival order and easy to browse.
const DLQPartitions = 1

// TopicSpec is what podium expects of one topic.
type TopicSpec struct {
	Name string
	// Partitions is the partition count to create and to verify.
	Partitions int
	// Compacted topics are created with cleanup.policy=compact; every other topic is expected
	// to have cleanup.policy=delete.
	Compacted bool
	// AnyPartitions accepts an existing topic with any partition count (dead-letter topics,
	// whose count podium does not depend on). It is created with Partitions.
	AnyPartitions bool
	// ReplicationFactor is used when creating the topic. Default (0): -1, the broker's
	// default.replication.factor.
	ReplicationFactor int
}

func (s TopicSpec) cleanupPolicy() string {
	if s.Compacted {
		return CleanupCompact
	}
	return CleanupDelete
}

// PodiumTopics is every topic podium uses (DESIGN §2), partitions partitions each except the
// dead-letter topics (DLQPartitions, any existing count accepted). podium.saga-state and every
// <worker>.processed are compacted. The order is stable: orchestrator topics, then per worker
// commands, replies, processed, dlq.
func PodiumTopics(partitions int) []TopicSpec {
	specs := []TopicSpec{
		{Name: events.TopicOrdersPlaced, Partitions: partitions},
		{Name: events.TopicOrdersControl, Partitions: partitions},
		{Name: events.TopicOrdersEvents, Partitions: partitions},
		{Name: events.TopicSagaState, Partitions: partitions, Compacted: true},
		{Name: events.TopicOrdersDLQ, Partitions: DLQPartitions, AnyPartitions: true},
	}
	for _, w := range events.Workers {
		specs = append(specs,
			TopicSpec{Name: events.CommandsTopic(w), Partitions: partitions},
			TopicSpec{Name: events.RepliesTopic(w), Partitions: partitions},
			TopicSpec{Name: events.ProcessedTopic(w), Partitions: partitions, Compacted: true},
			TopicSpec{Name: events.DLQTopic(w), Partitions: DLQPartitions, AnyPartitions: true},
		)
	}
	return specs
}

// TopicMismatch is one difference between a TopicSpec and the cluster.
type TopicMismatch struct {
	Topic string
	Field string // "partitions" or "cleanup.policy"
	Want  string
	Got   string
}

func (m TopicMismatch) String() string {
	return fmt.Sprintf("topic %s: %s is %s, want %s", m.Topic, m.Field, m.Got, m.Want)
}

// MismatchError lists every topic that exists with the wrong settings.
type MismatchError struct {
	Mismatches []TopicMismatch
}

func (e *MismatchError) Error() string {
	lines := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		lines[i] = m.String()
	}
	return fmt.Sprintf("%d topic setting(s) differ from what podium needs:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// EnsureTopics creates the topics of specs that do not exist and verifies all of them: the
// partition count (unless AnyPartitions) and cleanup.policy. It is idempotent. A topic that
// exists with other settings is never altered: EnsureTopics returns a *MismatchError listing
// every difference (joined with any other errors).
func EnsureTopics(ctx context.Context, c Config, specs []TopicSpec) error {
	if err := validateSpecs(specs); err != nil {
		return err
	}
	cl := c.Client()
	defer closeClient(cl)

	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	counts, err := partitionCounts(ctx, cl, names)
	if err != nil {
		return fmt.Errorf("reading topic metadata: %w", c.Explain(err))
	}

	var create []kafkago.TopicConfig
	for _, s := range specs {
		if _, ok := counts[s.Name]; ok {
			continue
		}
		rf := s.ReplicationFactor
		if rf == 0 {
			rf = -1
		}
		create = append(create, kafkago.TopicConfig{
			Topic:             s.Name,
			NumPartitions:     s.Partitions,
			ReplicationFactor: rf,
			ConfigEntries:     []kafkago.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: s.cleanupPolicy()}},
		})
	}
	if len(create) > 0 {
		res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: create})
		if err != nil {
			return fmt.Errorf("creating topics: %w", err)
		}
		var errs []error
		for _, t := range create {
			if e := res.Errors[t.Topic]; e != nil && !errors.Is(e, kafkago.TopicAlreadyExists) {
				errs = append(errs, fmt.Errorf("creating topic %s: %w", t.Topic, e))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		// Topic creation is asynchronous on a real cluster: wait until metadata shows them.
		if counts, err = waitForTopics(ctx, cl, names); err != nil {
			return err
		}
	}

	policies, err := cleanupPolicies(ctx, cl, names)
	if err != nil {
		return fmt.Errorf("reading topic configs: %w", err)
	}
	var mm []TopicMismatch
	for _, s := range specs {
		if got := counts[s.Name]; !s.AnyPartitions && got != s.Partitions {
			mm = append(mm, TopicMismatch{Topic: s.Name, Field: "partitions", Want: fmt.Sprint(s.Partitions), Got: fmt.Sprint(got)})
		}
		if got := policies[s.Name]; !samePolicy(got, s.cleanupPolicy()) {
			mm = append(mm, TopicMismatch{Topic: s.Name, Field: "cleanup.policy", Want: s.cleanupPolicy(), Got: fmt.Sprintf("%q", got)})
		}
	}
	if len(mm) > 0 {
		return &MismatchError{Mismatches: mm}
	}
	return nil
}

func validateSpecs(specs []TopicSpec) error {
	var errs []error
	seen := map[string]bool{}
	for _, s := range specs {
		switch {
		case s.Name == "":
			errs = append(errs, errors.New("topic spec without a name"))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("topic %s: listed twice", s.Name))
		}
		seen[s.Name] = true
		if s.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topic %s: partitions must be >= 1, got %d", s.Name, s.Partitions))
		}
	}
	return errors.Join(errs...)
}

// samePolicy compares cleanup policies as sets ("compact,delete" == "delete,compact").
func samePolicy(got, want string) bool {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(split(got), split(want))
}

// PartitionCounts returns the partition count of every topic in topics. A topic that does not
// exist is an error naming all missing topics (wrapping kafkago.UnknownTopicOrPartition); the
// map then holds the topics that do exist.
func PartitionCounts(ctx context.Context, c Config, topics []string) (map[string]int, error) {
	cl := c.Client()
	defer closeClient(cl)
	counts, err := partitionCounts(ctx, cl, topics)
	if err != nil {
		return nil, fmt.Errorf("reading topic metadata: %w", c.Explain(err))
	}
	var missing []string
	for _, t := range topics {
		if _, ok := counts[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return counts, fmt.Errorf("topics %s: %w", strings.Join(missing, ", "), kafkago.UnknownTopicOrPartition)
	}
	return counts, nil
}

// partitionCounts reads metadata; topics that do not exist are absent from the map.
func partitionCounts(ctx context.Context, cl *kafkago.Client, topics []string) (map[string]int, error) {
	md, err := cl.Metadata(ctx, &kafkago.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int, len(topics))
	var errs []error
	for _, t := range md.Topics {
		switch {
		case t.Error == nil:
			counts[t.Name] = len(t.Partitions)
		case errors.Is(t.Error, kafkago.UnknownTopicOrPartition):
		default:
			errs = append(errs, fmt.Errorf("topic %s: %w", t.Name, t.Error))
		}
	}
	return counts, errors.Join(errs...)
}

// waitForTopics polls metadata until every topic exists, for at most 30s.
func waitForTopics(ctx context.Context, cl *kafkago.Client, topics []string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		counts, err := partitionCounts(ctx, cl, topics)
		if err == nil && len(counts) == len(topics) {
			return counts, nil
		}
		select {
		case <-ctx.Done():
			var missing []string
			for _, t := range topics {
				if _, ok := counts[t]; !ok {
					missing = append(missing, t)
				}
			}
			sort.Strings(missing)
			return nil, fmt.Errorf("waiting for created topics %s: %w", strings.Join(missing, ", "), errors.Join(ctx.Err(), err))
		case <-tick.C:
		}
	}
}

// cleanupPolicies reads cleanup.policy of every topic.
func cleanupPolicies(ctx context.Context, cl *kafkago.Client, topics []string) (map[string]string, error) {
	req := &kafkago.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafkago.DescribeConfigRequestResource{
			ResourceType: kafkago.ResourceTypeTopic,
			ResourceName: t,
			ConfigNames:  []string{"cleanup.policy"},
		})
	}
	res, err := cl.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(topics))
	var errs []error
	for _, r := range res.Resources {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", r.ResourceName, r.Error))
			continue
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				out[r.ResourceName] = e.ConfigValue
			}
		}
	}
	return out, errors.Join(errs...)
}
