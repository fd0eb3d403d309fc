package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"
)

// DefaultOrchestratorGroup is the orchestrator's consumer group unless configured otherwise.
const DefaultOrchestratorGroup = "podium-orchestrator"

// CollectConfig says where a run left its traces.
type CollectConfig struct {
	// Kafka reaches the broker. Required.
	Kafka pkafka.Config
	// EffectsFiles are the workers' --effects-file paths.
	EffectsFiles []string
	// OrchestratorGroup is the orchestrator's consumer group. Default: "podium-orchestrator".
	OrchestratorGroup string
	// Workers are the workers whose groups and topics are read. Default: events.Workers.
	Workers []string
}

func (c CollectConfig) withDefaults() CollectConfig {
	if c.OrchestratorGroup == "" {
		c.OrchestratorGroup = DefaultOrchestratorGroup
	}
	if len(c.Workers) == 0 {
		c.Workers = events.Workers
	}
	return c
}

// Collect reads everything Evaluate checks: orders.events (lifecycle events and timeline
// records), podium.saga-state (snapshots, tombstones and the finished-saga index), the
// workers' processed topics, the effect files, the groups' offsets and the dead-letter
// topics. Call it once the run is quiet (WaitConsumed).
func Collect(ctx context.Context, cc CollectConfig) (Observed, error) {
	cc = cc.withDefaults()
	obs := Observed{
		Lifecycle: map[string][]Lifecycle{}, Timelines: map[string]*Timeline{}, LastEvent: map[string]Pos{},
		States: map[string]Snapshot{}, Tombstoned: map[string]bool{}, LastSnapshot: map[string]Pos{},
	}
	dlqs := []string{events.TopicOrdersDLQ}
	processed := make([]string, len(cc.Workers))
	for i, w := range cc.Workers {
		dlqs = append(dlqs, events.DLQTopic(w))
		processed[i] = events.ProcessedTopic(w)
	}
	topics := append(append([]string{events.TopicOrdersEvents, events.TopicSagaState}, dlqs...), processed...)
	counts, err := pkafka.PartitionCounts(ctx, cc.Kafka, topics)
	if err != nil {
		return obs, fmt.Errorf("reading partition counts: %w", err)
	}

	// podium.saga-state is read before orders.events: the orchestrator writes a batch's events
	// before its snapshots, so every snapshot read here has its events in what is read after
	// it. (The other order could pair a snapshot written between the two reads with
	// timelines read before it: a finished state next to an unfinished timeline.)
	divergent := map[string]string{}
	last := map[string]Snapshot{} // the last record of each saga: what compaction keeps
	for p := range counts[events.TopicSagaState] {
		byVersion := map[string]map[uint64]string{} // saga -> version -> digest
		lives := map[string]*life{}
		_, err := pkafka.ReadPartition(ctx, cc.Kafka, events.TopicSagaState, p, func(m kafkago.Message) error {
			id := string(m.Key)
			if strings.HasPrefix(id, orchestrator.IndexKeyPrefix) { // the finished-saga index: binary
				if m.Value == nil {
					obs.Retention.IndexTombstones++
				} else {
					obs.Retention.IndexRecords++
				}
				return nil
			}
			lf := lives[id]
			if lf == nil {
				lf = &life{}
				lives[id] = lf
			}
			if m.Value == nil {
				lf.tombstone()
				obs.Tombstoned[id] = true
				delete(obs.States, id)
				delete(last, id)
				delete(byVersion, id) // what follows a tombstone is a new life, not a rival
				return nil
			}
			s, err := saga.DecodeState(m.Value)
			if err != nil {
				return fmt.Errorf("snapshot of %s at offset %d: %w", id, m.Offset, err)
			}
			delete(obs.Tombstoned, id)
			obs.LastSnapshot[id] = Pos{m.Partition, m.Offset}
			if problem := lf.snapshot(s); problem != "" {
				obs.Resurrected = append(obs.Resurrected, fmt.Sprintf("%s: %s (%s[%d]@%d)", id, problem, m.Topic, m.Partition, m.Offset))
			}
			if s.Finished() && !isMarker(s) {
				obs.FatMarkers = append(obs.FatMarkers, fmt.Sprintf("%s: finished snapshot v%d keeps its input or step results, not a marker (%s[%d]@%d)", id, s.Version, m.Topic, m.Partition, m.Offset))
			}
			snap := Snapshot{State: s, Partition: m.Partition, Offset: m.Offset}
			last[id] = snap
			d := stateDigest(s)
			if byVersion[id] == nil {
				byVersion[id] = map[uint64]string{}
			}
			if prev, ok := byVersion[id][s.Version]; ok && prev != d {
				obs.Divergent++
				if _, seen := divergent[id]; !seen {
					divergent[id] = fmt.Sprintf("%s v%d: {%s} and {%s} (generation %d, %s[%d]@%d)", id, s.Version, prev, d, s.Generation, m.Topic, m.Partition, m.Offset)
				}
			} else if !ok {
				byVersion[id][s.Version] = d
			}
			if cur, ok := obs.States[id]; ok && cur.State.Version > s.Version {
				return nil
			}
			obs.States[id] = snap
			return nil
		})
		if err != nil {
			return obs, fmt.Errorf("reading %s[%d]: %w", events.TopicSagaState, p, err)
		}
	}
	obs.Retention.SnapshotTombstones = len(obs.Tombstoned)
	for _, id := range sortedKeys(divergent) {
		obs.DivergentExamples = append(obs.DivergentExamples, divergent[id])
	}
	for _, id := range sortedKeys(last) {
		l, final := last[id], obs.States[id]
		if l.Offset != final.Offset && stateDigest(l.State) != stateDigest(final.State) {
			note := ""
			if final.State.Finished() && !l.State.Finished() {
				// What compaction keeps would put the saga back in flight on a restore
				// that the finished-saga index does not cover.
				note = " (a finished saga, left in flight by its last record)"
			}
			obs.StaleLast = append(obs.StaleLast, fmt.Sprintf("%s: last record %s[%d]@%d is v%d gen %d {%s}, but v%d gen %d {%s} is newer%s",
				id, events.TopicSagaState, l.Partition, l.Offset, l.State.Version, l.State.Generation, stateDigest(l.State),
				final.State.Version, final.State.Generation, stateDigest(final.State), note))
		}
	}

	versions := map[string]map[uint64]bool{} // saga -> timeline versions read
	for p := range counts[events.TopicOrdersEvents] {
		_, err := pkafka.ReadPartition(ctx, cc.Kafka, events.TopicOrdersEvents, p, func(m kafkago.Message) error {
			env, err := events.Decode(record(m))
			if err != nil {
				obs.BadEvents = append(obs.BadEvents, fmt.Sprintf("%s[%d]@%d: %v", m.Topic, m.Partition, m.Offset, err))
				return nil
			}
			if env.Type == events.TypeSagaTimeline {
				var tl events.SagaTimeline
				if err := env.DecodeData(&tl); err != nil {
					obs.BadEvents = append(obs.BadEvents, fmt.Sprintf("%s[%d]@%d: type %s: %v", m.Topic, m.Partition, m.Offset, env.Type, err))
					return nil
				}
				if versions[tl.SagaID] == nil {
					versions[tl.SagaID] = map[uint64]bool{}
				}
				addTimeline(obs.Timelines, tl, versions[tl.SagaID])
				obs.LastEvent[tl.SagaID] = Pos{m.Partition, m.Offset}
				return nil
			}
			if events.IsControlOutcomeType(env.Type) {
				return nil // the answer to an operator request: no status of the saga
			}
			var l events.OrderLifecycle
			if err := env.DecodeData(&l); err != nil || !events.IsLifecycleType(env.Type) {
				obs.BadEvents = append(obs.BadEvents, fmt.Sprintf("%s[%d]@%d: type %s: %v", m.Topic, m.Partition, m.Offset, env.Type, err))
				return nil
			}
			obs.Lifecycle[l.OrderID] = append(obs.Lifecycle[l.OrderID], Lifecycle{OrderID: l.OrderID, Status: l.Status, Reason: l.Reason, ID: env.ID})
			obs.LastEvent[l.OrderID] = Pos{m.Partition, m.Offset}
			return nil
		})
		if err != nil {
			return obs, fmt.Errorf("reading %s[%d]: %w", events.TopicOrdersEvents, p, err)
		}
	}

	for _, topic := range processed {
		for p := range counts[topic] {
			tombstoned := map[string]bool{}
			_, err := pkafka.ReadPartition(ctx, cc.Kafka, topic, p, func(m kafkago.Message) error {
				tombstoned[string(m.Key)] = m.Value == nil
				return nil
			})
			if err != nil {
				return obs, fmt.Errorf("reading %s[%d]: %w", topic, p, err)
			}
			for _, t := range tombstoned {
				if t {
					obs.Retention.ProcessedTombstones++
				}
			}
		}
	}

	for _, path := range cc.EffectsFiles {
		es, torn, err := ReadEffects(path)
		if err != nil {
			return obs, err
		}
		obs.Effects = append(obs.Effects, es...)
		obs.TornEffects += torn
	}

	obs.Lags, err = Lags(ctx, cc.Kafka, GroupTopics(cc.OrchestratorGroup, cc.Workers))
	if err != nil {
		return obs, err
	}

	for _, dlq := range dlqs {
		for p := range counts[dlq] {
			_, err := pkafka.ReadPartition(ctx, cc.Kafka, dlq, p, func(m kafkago.Message) error {
				obs.DeadLetters = append(obs.DeadLetters, DeadLetter{
					DLQ:    dlq,
					Origin: header(m, events.HeaderDLQTopic),
					Where:  header(m, events.HeaderDLQTopic) + "/" + header(m, events.HeaderDLQPartition) + "@" + header(m, events.HeaderDLQOffset),
					Reason: header(m, events.HeaderDLQReason),
					Value:  m.Value,
				})
				return nil
			})
			if err != nil {
				return obs, fmt.Errorf("reading %s[%d]: %w", dlq, p, err)
			}
		}
	}
	return obs, nil
}

// addTimeline adds a timeline record to what is known of its saga. seen holds the versions
// of the saga's records read so far. A repeated version is a redo — or a second saga,
// which starts over at version 1: its starts and ends count, and the times tell the two
// apart (a redo starts the saga again only before it finished; see Evaluate).
func addTimeline(timelines map[string]*Timeline, rec events.SagaTimeline, seen map[uint64]bool) {
	tl := timelines[rec.SagaID]
	if tl == nil {
		tl = &Timeline{}
		timelines[rec.SagaID] = tl
	}
	tl.Records++
	if seen[rec.Version] {
		tl.Repeats++
	}
	seen[rec.Version] = true
	if tl.Status == "" || followTimeline(tl, rec.BaseVersion, rec.Version, rec.Generation) {
		base := tl.Version
		if rec.BaseVersion != nil {
			base = *rec.BaseVersion
		}
		tl.Version, tl.Status, tl.gen = rec.Version, rec.Status, max(tl.gen, rec.Generation)
		if len(tl.line) == timelineLine {
			tl.line = slices.Delete(tl.line, 0, 1)
		}
		tl.line = append(tl.line, timelineSpan{base: base, version: rec.Version})
	}
	for _, e := range rec.Entries {
		switch {
		case e.Kind == saga.HistoryStarted:
			tl.Started = append(tl.Started, e.Time)
		case e.Kind == saga.HistoryCompleted, e.Kind == saga.HistoryCompensated && e.Step == "":
			if tl.Finished.IsZero() || e.Time.Before(tl.Finished) {
				tl.Finished = e.Time
			}
		}
	}
}

// timelineLine is how many of the last records applied a Timeline remembers.
const timelineLine = 16

// followTimeline reports whether a record from base (nil: an older orchestrator's) to
// version is applied to tl, after the records before it: the API's rule (see
// events.SagaTimeline and Timeline). When it replaces records, they leave tl.line.
func followTimeline(tl *Timeline, base *uint64, version uint64, gen int32) bool {
	if gen > 0 && gen < tl.gen {
		return false // an ended owner's write that landed after its successor's
	}
	if base == nil || *base >= tl.Version {
		return version > tl.Version
	}
	for _, sp := range tl.line {
		if sp.base == *base && sp.version == version {
			return false // a redelivery
		}
	}
	for i, sp := range tl.line {
		switch {
		case sp.base == *base:
			tl.line = tl.line[:i]
			return true
		case sp.version == *base:
			tl.line = tl.line[:i+1]
			return true
		}
	}
	return version > tl.Version
}

// life follows the records of one saga key in podium.saga-state, in log order, to see a
// finished saga put back in flight.
type life struct {
	finished   uint64 // the highest version of a finished snapshot, 0 if none
	tombstoned bool   // a tombstone followed a finished snapshot
}

func (l *life) tombstone() {
	if l.finished > 0 {
		l.tombstoned = true
	}
}

// snapshot takes the next snapshot of the key and describes what is wrong with it, if
// anything: after a finished state, a state in flight is a resurrection when it follows
// the tombstone (a restore would run it again once the dedupe window ended) or when its
// version is higher (the saga went on). A lower version before the tombstone is a late
// write of an older writer, which the fencing invariant judges.
func (l *life) snapshot(s *saga.State) string {
	if s.Finished() {
		l.finished = max(l.finished, s.Version)
		return ""
	}
	switch {
	case l.tombstoned:
		return fmt.Sprintf("%s after the tombstone of its finished state", stateSummary(s))
	case l.finished > 0 && s.Version > l.finished:
		return fmt.Sprintf("%s after its finished state v%d", stateSummary(s), l.finished)
	}
	return ""
}

// isMarker reports whether a finished snapshot is the small marker the orchestrator
// keeps until the retention ends: no input, no step results, no answered command IDs.
func isMarker(s *saga.State) bool {
	if len(s.Input) > 0 {
		return false
	}
	for _, st := range s.Steps {
		if st != nil && (len(st.Result) > 0 || len(st.Do.Answered) > 0 || len(st.Undo.Answered) > 0) {
			return false
		}
	}
	return true
}

// ReadEffects reads a worker's effects file: one JSON effect per line. Lines that do not
// parse (a write torn by kill -9) are counted, not returned.
func ReadEffects(path string) (effects []workers.Effect, torn int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil // the worker never caused an effect
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading effects: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			var e workers.Effect
			if json.Unmarshal(line, &e) != nil || e.IdempotencyKey == "" {
				torn++
			} else {
				effects = append(effects, e)
			}
		}
		if errors.Is(err, io.EOF) {
			return effects, torn, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading effects %s: %w", path, err)
		}
	}
}

// GroupTopics maps the orchestrator's group and every worker's group to the topics they
// consume.
func GroupTopics(orchestratorGroup string, workerNames []string) map[string][]string {
	in := []string{events.TopicOrdersPlaced, events.TopicOrdersControl}
	out := map[string][]string{}
	for _, w := range workerNames {
		in = append(in, events.RepliesTopic(w))
		out[workers.GroupIDFor(w)] = []string{events.CommandsTopic(w)}
	}
	out[orchestratorGroup] = in
	return out
}

// Lags reads, for every group and each partition of its topics, the committed offset and
// the partition's bounds.
func Lags(ctx context.Context, cfg pkafka.Config, groups map[string][]string) ([]Lag, error) {
	var all []string
	for _, ts := range groups {
		all = append(all, ts...)
	}
	counts, err := pkafka.PartitionCounts(ctx, cfg, all)
	if err != nil {
		return nil, fmt.Errorf("reading partition counts: %w", err)
	}
	cl := cfg.Client()
	defer closeIdle(cl)

	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, t := range all {
		for p := range counts[t] {
			req.Topics[t] = append(req.Topics[t], kafkago.FirstOffsetOf(p), kafkago.LastOffsetOf(p))
		}
	}
	lo, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing offsets: %w", err)
	}
	bounds := map[string]map[int]kafkago.PartitionOffsets{}
	for t, ps := range lo.Topics {
		bounds[t] = map[int]kafkago.PartitionOffsets{}
		for _, po := range ps {
			if po.Error != nil {
				return nil, fmt.Errorf("listing offsets of %s[%d]: %w", t, po.Partition, po.Error)
			}
			bounds[t][po.Partition] = po
		}
	}

	var lags []Lag
	for _, g := range sortedKeys(groups) {
		fetch := &kafkago.OffsetFetchRequest{GroupID: g, Topics: map[string][]int{}}
		for _, t := range groups[g] {
			for p := range counts[t] {
				fetch.Topics[t] = append(fetch.Topics[t], p)
			}
		}
		resp, err := cl.OffsetFetch(ctx, fetch)
		if err != nil {
			return nil, fmt.Errorf("fetching offsets of group %s: %w", g, err)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("fetching offsets of group %s: %w", g, resp.Error)
		}
		committed := map[string]map[int]int64{}
		for t, ps := range resp.Topics {
			committed[t] = map[int]int64{}
			for _, op := range ps {
				if op.Error != nil {
					return nil, fmt.Errorf("fetching offsets of group %s, %s[%d]: %w", g, t, op.Partition, op.Error)
				}
				committed[t][op.Partition] = op.CommittedOffset
			}
		}
		for _, t := range groups[g] {
			for p := range counts[t] {
				c, ok := committed[t][p]
				if !ok {
					c = -1
				}
				b := bounds[t][p]
				lags = append(lags, Lag{Group: g, Topic: t, Partition: p, Committed: c, Start: b.FirstOffset, End: b.LastOffset})
			}
		}
	}
	sort.SliceStable(lags, func(i, j int) bool {
		if lags[i].Group != lags[j].Group {
			return lags[i].Group < lags[j].Group
		}
		if lags[i].Topic != lags[j].Topic {
			return lags[i].Topic < lags[j].Topic
		}
		return lags[i].Partition < lags[j].Partition
	})
	return lags, nil
}

// Unconsumed sums the records of lags not yet committed.
func Unconsumed(lags []Lag) (records int64, partitions int) {
	for _, l := range lags {
		if l.Unconsumed() {
			partitions++
			c := max(l.Committed, l.Start)
			records += l.End - c
		}
	}
	return records, partitions
}

func closeIdle(cl *kafkago.Client) {
	if t, ok := cl.Transport.(*kafkago.Transport); ok {
		t.CloseIdleConnections()
	}
}

func header(m kafkago.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func record(m kafkago.Message) events.Record {
	r := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, events.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

// itoa is strconv.Itoa, for building process arguments.
func itoa(n int) string { return strconv.Itoa(n) }
