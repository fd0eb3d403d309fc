package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
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

// Names of the topic configs podium sets (TopicSpec.Configs).
const (
	ConfigCleanupPolicy     = "cleanup.policy"
	ConfigRetentionMS       = "retention.ms"
	ConfigDeleteRetentionMS = "delete.retention.ms"
	ConfigSegmentMS         = "segment.ms"
)

// Defaults of TopicSpec's retention settings.
const (
	// DefaultRetention is retention.ms of every non-compacted topic: how long input events,
	// commands, replies, lifecycle events and dead letters stay readable. A week covers a
	// consumer that is down over a long weekend and leaves time to inspect dead letters.
	DefaultRetention = 7 * 24 * time.Hour

	// DefaultDeleteRetention is delete.retention.ms of the compacted topics: how long a
	// tombstone stays readable. Only a follower of a changelog needs it, a reader that has seen
	// a key's earlier record and must also see its removal, and only if it reads the tombstone
	// later than this after it was written. podium's followers are restores (an orchestrator
	// or worker reading its partition from the start: seconds, 100,000 sagas in about 14 s on
	// the 2-core development machine) and the API's read model, which tails
	// podium.saga-state live; two minutes is a wide margin over both. On Kafka the window
	// starts only once the log cleaner has reached the tombstone's segment (see
	// CompactedSegmentAge), so followers there get an hour or more. On the embedded broker
	// (kfake) it starts at the write, and every younger tombstone is read again, with its
	// batch, by every compaction pass, which blocks the broker: at 800 finished orders a second
	// (about 4,800 tombstones a second over podium.saga-state and the processed topics) two
	// minutes is about 580,000 tombstones, where Kafka's default of a day would be 400 million.
	DefaultDeleteRetention = 2 * time.Minute

	// CompactedSegmentAge is segment.ms of the compacted topics. Kafka never compacts the
	// active segment, and its default segment (1 GiB or 7 days) would keep a low-volume
	// changelog, and its tombstones, uncompacted for a week; an hour lets the cleaner catch
	// up within about an hour. (kfake accepts segment.ms but rolls only on segment.bytes; it
	// compacts everything but the last batch anyway.)
	CompactedSegmentAge = time.Hour
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
	// Retention is retention.ms of a non-compacted topic. Default (0): DefaultRetention; a
	// negative value keeps records forever (retention.ms=-1). Compacted topics ignore it:
	// they keep every key's latest record (retention.ms=-1) until it is tombstoned.
	Retention time.Duration
	// DeleteRetention is delete.retention.ms of a compacted topic, how long tombstones stay
	// readable. Default (0): DefaultDeleteRetention. Other topics ignore it.
	DeleteRetention time.Duration
}

func (s TopicSpec) cleanupPolicy() string {
	if s.Compacted {
		return CleanupCompact
	}
	return CleanupDelete
}

// Configs is every topic config podium creates the topic with: cleanup.policy, and
//   - on a non-compacted topic, retention.ms (Retention);
//   - on a compacted topic, retention.ms=-1 (kfake, unlike Kafka, applies retention.ms to
//     compacted topics too, which would delete the snapshot of a saga that runs longer than
//     the broker default of 7 days), delete.retention.ms (DeleteRetention) and segment.ms
//     (CompactedSegmentAge).
//
// Every config but cleanup.policy is tunable: ReconcileTopics (and so EnsureTopics) changes
// it on an existing topic where it differs. min.compaction.lag.ms is not set: Kafka's default, 0, is what podium
// wants, and kfake does not know it.
func (s TopicSpec) Configs() map[string]string {
	m := s.tunables()
	m[ConfigCleanupPolicy] = s.cleanupPolicy()
	return m
}

// tunables is Configs without cleanup.policy: the settings that are safe to change on a
// topic that holds data.
func (s TopicSpec) tunables() map[string]string {
	if s.Compacted {
		dr := s.DeleteRetention
		if dr == 0 {
			dr = DefaultDeleteRetention
		}
		return map[string]string{
			ConfigRetentionMS:       "-1",
			ConfigDeleteRetentionMS: millis(dr),
			ConfigSegmentMS:         millis(CompactedSegmentAge),
		}
	}
	r := s.Retention
	switch {
	case r == 0:
		r = DefaultRetention
	case r < 0:
		return map[string]string{ConfigRetentionMS: "-1"}
	}
	return map[string]string{ConfigRetentionMS: millis(r)}
}

// millis formats d as a Kafka *.ms config value.
func millis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// PodiumTopics is every topic podium's built-in sagas and workers use (DESIGN §2):
// SagaTopics with the start topics of the order and returns sagas and the reference workers.
func PodiumTopics(partitions int) []TopicSpec {
	return SagaTopics(partitions, []string{events.TopicOrdersPlaced, events.TopicReturnsRequested}, events.Workers)
}

// SagaTopics is every topic an orchestrator running sagas started on startTopics, and the
// workers named, use: partitions partitions each except the dead-letter topics
// (DLQPartitions, any existing count accepted). podium.saga-state and every
// <worker>.processed are compacted. The order is stable: start topics, the orchestrator's
// topics, then per worker commands, replies, processed, dlq.
func SagaTopics(partitions int, startTopics, workers []string) []TopicSpec {
	var specs []TopicSpec
	for _, t := range startTopics {
		specs = append(specs, TopicSpec{Name: t, Partitions: partitions})
	}
	specs = append(specs,
		TopicSpec{Name: events.TopicOrdersControl, Partitions: partitions},
		TopicSpec{Name: events.TopicOrdersEvents, Partitions: partitions},
		TopicSpec{Name: events.TopicSagaState, Partitions: partitions, Compacted: true},
		TopicSpec{Name: events.TopicOrdersDLQ, Partitions: DLQPartitions, AnyPartitions: true},
	)
	for _, w := range workers {
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

// ConfigUpdate is one topic config that ReconcileTopics changed on an existing topic.
type ConfigUpdate struct {
	Topic string
	Name  string // e.g. "retention.ms"
	Old   string // "" when the topic did not report it
	New   string
}

func (u ConfigUpdate) String() string {
	return fmt.Sprintf("topic %s: %s %s -> %s", u.Topic, u.Name, orUnset(u.Old), u.New)
}

func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

// TopicReport is what ReconcileTopics did.
type TopicReport struct {
	// Created are the topics created now, in the order of the specs.
	Created []string
	// Updated are the configs changed on existing topics, in the order of the specs.
	Updated []ConfigUpdate
	// Partitions is every topic's partition count, as found or created.
	Partitions map[string]int
}

// EnsureTopics is ReconcileTopics for callers that need no report.
func EnsureTopics(ctx context.Context, c Config, specs []TopicSpec) error {
	_, err := ReconcileTopics(ctx, c, specs)
	return err
}

// ReconcileTopics creates the topics of specs that do not exist, with TopicSpec.Configs, and
// verifies all of them. It is idempotent.
//
// The partition count (unless AnyPartitions) and cleanup.policy of an existing topic are
// never altered: if any differs, ReconcileTopics changes nothing on existing topics and
// returns a *MismatchError listing every difference (joined with any other errors). The other
// configs (retention.ms, delete.retention.ms, segment.ms) are safe to change on a topic that
// holds data: where they differ, ReconcileTopics sets them (IncrementalAlterConfigs, Kafka 2.3
// or later) and reports each change in TopicReport.Updated.
func ReconcileTopics(ctx context.Context, c Config, specs []TopicSpec) (TopicReport, error) {
	var report TopicReport
	if err := validateSpecs(specs); err != nil {
		return report, err
	}
	cl := c.Client()
	defer closeClient(cl)

	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	counts, err := partitionCounts(ctx, cl, names)
	if err != nil {
		return report, fmt.Errorf("reading topic metadata: %w", c.Explain(err))
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
			ConfigEntries:     configEntries(s.Configs()),
		})
	}
	if len(create) > 0 {
		res, err := cl.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: create})
		if err != nil {
			return report, fmt.Errorf("creating topics: %w", err)
		}
		var errs []error
		for _, t := range create {
			switch e := res.Errors[t.Topic]; {
			case e == nil:
				report.Created = append(report.Created, t.Topic)
			case !errors.Is(e, kafkago.TopicAlreadyExists):
				errs = append(errs, fmt.Errorf("creating topic %s: %w", t.Topic, e))
			}
		}
		if len(errs) > 0 {
			return report, errors.Join(errs...)
		}
		// Topic creation is asynchronous on a real cluster: wait until metadata shows them.
		if counts, err = waitForTopics(ctx, cl, names); err != nil {
			return report, err
		}
	}

	configs, err := topicConfigs(ctx, cl, names, []string{ConfigCleanupPolicy, ConfigRetentionMS, ConfigDeleteRetentionMS, ConfigSegmentMS})
	if err != nil {
		return report, fmt.Errorf("reading topic configs: %w", err)
	}
	report.Partitions = counts
	var mm []TopicMismatch
	for _, s := range specs {
		if got := counts[s.Name]; !s.AnyPartitions && got != s.Partitions {
			mm = append(mm, TopicMismatch{Topic: s.Name, Field: "partitions", Want: fmt.Sprint(s.Partitions), Got: fmt.Sprint(got)})
		}
		if got := configs[s.Name][ConfigCleanupPolicy]; !samePolicy(got, s.cleanupPolicy()) {
			mm = append(mm, TopicMismatch{Topic: s.Name, Field: ConfigCleanupPolicy, Want: s.cleanupPolicy(), Got: fmt.Sprintf("%q", got)})
		}
	}
	if len(mm) > 0 {
		return report, &MismatchError{Mismatches: mm}
	}

	updates := ConfigUpdates(specs, func(topic string) map[string]string { return configs[topic] })
	if len(updates) == 0 {
		return report, nil
	}
	if err := alterTopicConfigs(ctx, cl, updates); err != nil {
		return report, err
	}
	report.Updated = updates
	return report, nil
}

// ConfigUpdates lists the tunable configs of specs (every config of TopicSpec.Configs but
// cleanup.policy) that differ from what current reports for the topic, in the order of the
// specs and then by config name. current returns a topic's configs by name, nil or an
// incomplete map when some are unknown (they count as different).
func ConfigUpdates(specs []TopicSpec, current func(topic string) map[string]string) []ConfigUpdate {
	var out []ConfigUpdate
	for _, s := range specs {
		want := s.tunables()
		got := current(s.Name)
		for _, name := range slices.Sorted(maps.Keys(want)) {
			if g := got[name]; !sameConfigValue(g, want[name]) {
				out = append(out, ConfigUpdate{Topic: s.Name, Name: name, Old: g, New: want[name]})
			}
		}
	}
	return out
}

// sameConfigValue compares two config values, as numbers where both are.
func sameConfigValue(got, want string) bool {
	g, errG := strconv.ParseInt(strings.TrimSpace(got), 10, 64)
	w, errW := strconv.ParseInt(want, 10, 64)
	if errG == nil && errW == nil {
		return g == w
	}
	return strings.TrimSpace(got) == want
}

// configEntries turns a config map into kafka-go entries, sorted by name.
func configEntries(m map[string]string) []kafkago.ConfigEntry {
	out := make([]kafkago.ConfigEntry, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kafkago.ConfigEntry{ConfigName: name, ConfigValue: m[name]})
	}
	return out
}

// alterTopicConfigs sets the new values of updates, one resource per topic.
func alterTopicConfigs(ctx context.Context, cl *kafkago.Client, updates []ConfigUpdate) error {
	req := &kafkago.IncrementalAlterConfigsRequest{}
	index := map[string]int{}
	for _, u := range updates {
		i, ok := index[u.Topic]
		if !ok {
			i = len(req.Resources)
			index[u.Topic] = i
			req.Resources = append(req.Resources, kafkago.IncrementalAlterConfigsRequestResource{
				ResourceType: kafkago.ResourceTypeTopic,
				ResourceName: u.Topic,
			})
		}
		req.Resources[i].Configs = append(req.Resources[i].Configs, kafkago.IncrementalAlterConfigsRequestConfig{
			Name: u.Name, Value: u.New, ConfigOperation: kafkago.ConfigOperationSet,
		})
	}
	res, err := cl.IncrementalAlterConfigs(ctx, req)
	if err != nil {
		return fmt.Errorf("updating topic configs (IncrementalAlterConfigs, Kafka 2.3 or later): %w", err)
	}
	var errs []error
	for _, r := range res.Resources {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("updating the configs of topic %s: %w", r.ResourceName, r.Error))
		}
	}
	return errors.Join(errs...)
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
		if s.Retention > 0 && s.Retention < time.Millisecond {
			errs = append(errs, fmt.Errorf("topic %s: retention must be at least 1ms (or negative: forever), got %s", s.Name, s.Retention))
		}
		if s.DeleteRetention < 0 {
			errs = append(errs, fmt.Errorf("topic %s: delete retention must not be negative, got %s", s.Name, s.DeleteRetention))
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
	configs, err := topicConfigs(ctx, cl, topics, []string{ConfigCleanupPolicy})
	out := make(map[string]string, len(configs))
	for t, c := range configs {
		if v, ok := c[ConfigCleanupPolicy]; ok {
			out[t] = v
		}
	}
	return out, err
}

// topicConfigs reads the named configs of every topic (their effective values, defaults
// included): topic → config name → value.
func topicConfigs(ctx context.Context, cl *kafkago.Client, topics, names []string) (map[string]map[string]string, error) {
	req := &kafkago.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafkago.DescribeConfigRequestResource{
			ResourceType: kafkago.ResourceTypeTopic,
			ResourceName: t,
			ConfigNames:  names,
		})
	}
	res, err := cl.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]string, len(topics))
	var errs []error
	for _, r := range res.Resources {
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", r.ResourceName, r.Error))
			continue
		}
		m := make(map[string]string, len(names))
		for _, e := range r.ConfigEntries {
			m[e.ConfigName] = e.ConfigValue
		}
		out[r.ResourceName] = m
	}
	return out, errors.Join(errs...)
}
