package orchestrator

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
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// HeaderGeneration is set on every snapshot: the consumer-group generation of the writer.
// A processor tailing its changelog skips its own snapshots by it without decoding them.
const HeaderGeneration = "podium.generation"

// restore rebuilds the partition's sagas from podium.saga-state, keeping for each saga the
// highest version (on a tie, the snapshot of the later generation), and schedules their
// timers. It returns the changelog's end offset, where it stopped reading, and the sagas
// whose last record is not the snapshot kept: a late write of an ended generation landed
// after the owner's, and compaction would keep it, so the kept snapshot must be written
// again.
//
// The records are decoded straight from the fetched data (pkafka.ScanPartition): a
// snapshot that loses to the one kept (stale) is recognised by its version alone, without
// decoding it, and a saga's ID is allocated once, by its first snapshot.
func (p *processor) restore(ctx context.Context) (int64, []string, error) {
	// staleLast holds the sagas whose last record so far is a stale snapshot: rare, so it
	// stays small where a flag per saga would cost a second map of every saga.
	staleLast := map[string]struct{}{}
	sized := len(p.sagas) > 0
	end, err := pkafka.ScanPartition(ctx, p.cfg.Kafka, events.TopicSagaState, p.partition, func(m kafkago.Message) error {
		if !sized {
			// At most as many sagas as records are left: no rehashing while restoring.
			sized = true
			p.sagas = make(map[string]*saga.State, min(m.HighWaterMark-m.Offset, maxRestoreHint))
		}
		if hasPrefix(m.Key, IndexKeyPrefix) { // the early cancel prefix starts with it
			id := string(m.Key)
			switch {
			case strings.HasPrefix(id, earlyKeyPrefix):
				if err := p.early.restoreRecord(id, m.Value); err != nil {
					p.log.Error().Err(err).Int64("offset", m.Offset).Msg("skipping unreadable early cancel record")
				}
			case m.Value == nil:
				p.finished.forgetRecord(id)
			default:
				if err := p.finished.restoreRecord(id, m.Value); err != nil {
					p.log.Error().Err(err).Int64("offset", m.Offset).Msg("skipping unreadable finished-saga index record")
				}
			}
			return nil
		}
		if m.Value == nil { // tombstone
			id := string(m.Key)
			delete(p.sagas, id)
			delete(staleLast, id)
			return nil
		}
		cur := p.sagas[string(m.Key)] // no allocation for the lookup
		if cur != nil {
			if version, generation, err := saga.PeekVersion(m.Value); err == nil &&
				(cur.Version > version || (cur.Version == version && cur.Generation > generation)) {
				p.cfg.Metrics.StaleSnapshots.Inc()
				p.log.Warn().Bytes("order_id", m.Key).Uint64("kept_version", cur.Version).Int32("kept_generation", cur.Generation).
					Uint64("stale_version", version).Int32("stale_generation", generation).
					Msg("ignoring stale snapshot from an older writer")
				staleLast[string(m.Key)] = struct{}{}
				return nil
			}
		}
		s, err := saga.DecodeState(m.Value)
		if err != nil {
			p.log.Error().Err(err).Bytes("order_id", m.Key).Int64("offset", m.Offset).Msg("skipping unreadable saga snapshot")
			return nil
		}
		if cur != nil {
			if newer(cur, s) { // PeekVersion could not tell
				p.cfg.Metrics.StaleSnapshots.Inc()
				p.log.Warn().Bytes("order_id", m.Key).Uint64("kept_version", cur.Version).Int32("kept_generation", cur.Generation).
					Uint64("stale_version", s.Version).Int32("stale_generation", s.Generation).
					Msg("ignoring stale snapshot from an older writer")
				staleLast[string(m.Key)] = struct{}{}
				return nil
			}
			*cur = *s // the map keeps its key: no allocation, no assignment
			if len(staleLast) > 0 {
				delete(staleLast, string(m.Key))
			}
			return nil
		}
		p.sagas[string(m.Key)] = s
		if len(staleLast) > 0 {
			delete(staleLast, string(m.Key))
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	// Nobody else should write this partition's changelog now: if its end moved while we
	// restored, another writer is alive (a zombie owner). Its snapshots carry versions, and
	// the next restore keeps the highest, but say so loudly.
	if now, err := p.changelogEnd(ctx); err == nil && now > end {
		p.cfg.Metrics.RestoreMoved.Inc()
		p.log.Error().Int64("end_at_start", end).Int64("end_now", now).
			Msg("the saga changelog grew during restore: another writer is alive for this partition")
	}
	// Finished sagas leave memory: the index keeps what dedupe and retention need. The
	// others' timers are scheduled in the same pass, while their steps are in the cache.
	restored := len(p.sagas)
	for id, s := range p.sagas {
		if s.Finished() {
			p.finished.add(id, s.Status, s.UpdatedAt)
			delete(p.sagas, id)
			if _, stale := staleLast[id]; stale {
				p.markers[id] = s // compaction would keep the stale record instead
			}
			delete(staleLast, id)
			continue
		}
		if st, done := p.finished.lookup(id); done {
			// A late snapshot of an ended generation outlived the saga's tombstone.
			p.log.Warn().Str("order_id", id).Str("status", string(st)).Uint64("version", s.Version).
				Msg("dropping the snapshot of a saga that already finished")
			delete(p.sagas, id)
			delete(staleLast, id)
			continue
		}
		due, ok := s.NextTimer()
		p.timers.schedule(id, due, ok)
	}
	if len(p.sagas) < restored/4 {
		// A map does not shrink (nor does maps.Clone's copy): the sagas in flight move to
		// one of their size.
		inFlight := make(map[string]*saga.State, len(p.sagas))
		maps.Copy(inFlight, p.sagas)
		p.sagas = inFlight
	}
	p.finished.sortRestored()
	p.early.restored(func(id string) bool {
		_, done := p.finished.lookup(id)
		return done || p.sagas[id] != nil
	})
	var rewrite []string
	for id := range staleLast {
		rewrite = append(rewrite, id)
	}
	for id := range p.markers {
		rewrite = append(rewrite, id)
	}
	sort.Strings(rewrite)
	return end, rewrite, nil
}

// maxRestoreHint caps the size restore gives the saga map up front (a changelog's records
// outnumber its sagas when many snapshots of a saga are not compacted yet).
const maxRestoreHint = 1 << 20

// hasPrefix is strings.HasPrefix(string(b), prefix) without converting b.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// newer reports whether snapshot a wins over b: the higher version, and on a tie the later
// generation (the owner that took over re-derived that version from the same inputs).
func newer(a, b *saga.State) bool {
	return a.Version > b.Version || (a.Version == b.Version && a.Generation > b.Generation)
}

// rewrite writes the current snapshot of the sagas ids again, as this generation's.
func (p *processor) rewrite(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	p.log.Warn().Int("sagas", len(ids)).Msg("a stale snapshot is the last record of some sagas; writing the newest again")
	if err := p.writable(ctx); err != nil {
		return err
	}
	snaps, err := p.snapshots(ids, nil)
	if err != nil {
		return err
	}
	return p.w.WriteMessages(ctx, snaps...)
}

// snapshots encodes the current state of the sagas ids as this generation's snapshots;
// retired holds the finished sagas that left memory since they changed (may be nil).
func (p *processor) snapshots(ids []string, retired map[string]*saga.State) ([]kafkago.Message, error) {
	gen := []byte(strconv.FormatInt(int64(p.a.Generation.ID), 10))
	snaps := make([]kafkago.Message, 0, len(ids))
	for _, id := range ids {
		m, ok, err := p.snapshot(id, gen, retired)
		if err != nil {
			return nil, err
		}
		if ok {
			snaps = append(snaps, m)
		}
	}
	return snaps, nil
}

// snapshot encodes saga id's current state, found in memory, among the markers to write
// again, or in retired; ok is false when it is in none of them.
func (p *processor) snapshot(id string, gen []byte, retired map[string]*saga.State) (m kafkago.Message, ok bool, err error) {
	s := p.sagas[id]
	if s == nil {
		if s = p.markers[id]; s != nil {
			delete(p.markers, id)
		} else if s = retired[id]; s == nil {
			return m, false, nil
		}
	}
	s.Generation = p.a.Generation.ID
	if s.Finished() {
		s = finishedMarker(s)
	}
	value, err := s.MarshalBinary()
	if err != nil {
		return m, false, fmt.Errorf("encoding snapshot of %s: %w", id, err)
	}
	return kafkago.Message{
		Topic:   events.TopicSagaState,
		Key:     []byte(id),
		Value:   value,
		Headers: []kafkago.Header{{Key: HeaderGeneration, Value: gen}},
	}, true, nil
}

// audit looks at one record of the partition's changelog written after restore. The
// processor's own snapshots are skipped; any other record for a saga it owns is a late
// write of an ended generation (a zombie, a write held by the network, a retry), and the
// saga's snapshot is written again so that the owner's state stays its last record.
func (p *processor) audit(m kafkago.Message, out *batchOutput) {
	id := string(m.Key)
	s := p.sagas[id]
	if s == nil {
		p.auditFinished(m, out)
		return
	}
	mine := strconv.FormatInt(int64(p.a.Generation.ID), 10)
	for _, h := range m.Headers {
		if h.Key == HeaderGeneration && string(h.Value) == mine {
			return
		}
	}
	if m.Value != nil {
		if version, generation, err := saga.PeekVersion(m.Value); err == nil {
			if generation == p.a.Generation.ID {
				return
			}
			// The owner's state must win both ways restore picks: last record and highest
			// version. A writer that went on applying inputs may have got further.
			if version >= s.Version {
				s.Version = version + 1
			}
		}
	}
	p.cfg.Metrics.StaleSnapshots.Inc()
	p.log.Warn().Str("order_id", id).Int64("offset", m.Offset).Uint64("version", s.Version).
		Msg("a snapshot from another writer landed after this owner's; writing the owner's again")
	out.touch(id)
}

// auditFinished handles a record of another writer for a saga that is not in memory. If
// the saga finished, the record (a late write of an ended generation) would outlive the
// finished marker under compaction, and a restore would bring the saga back in flight: the
// marker is written again, above the record's version.
func (p *processor) auditFinished(m kafkago.Message, out *batchOutput) {
	id := string(m.Key)
	status, done := p.finished.lookup(id)
	if !done || m.Value == nil || strings.HasPrefix(id, IndexKeyPrefix) {
		return
	}
	stale, err := saga.DecodeState(m.Value)
	if err != nil || stale.Generation == p.a.Generation.ID {
		return
	}
	marker := finishedMarker(stale)
	marker.Status = status
	marker.Steps = map[string]*saga.StepState{} // the stale record's steps are not the saga's
	marker.Version = stale.Version + 1
	if cur := p.markers[id]; cur != nil && cur.Version > marker.Version {
		marker.Version = cur.Version
	}
	p.markers[id] = marker
	p.cfg.Metrics.StaleSnapshots.Inc()
	p.log.Warn().Str("order_id", id).Int64("offset", m.Offset).Uint64("version", marker.Version).
		Msg("a snapshot from another writer landed after a finished saga's; writing its marker again")
	out.touch(id)
}

// changelogEnd is the current end offset of this partition's changelog.
func (p *processor) changelogEnd(ctx context.Context) (int64, error) {
	cl := p.cfg.Kafka.Client()
	if t, ok := cl.Transport.(*kafkago.Transport); ok {
		defer t.CloseIdleConnections()
	}
	resp, err := cl.ListOffsets(ctx, &kafkago.ListOffsetsRequest{
		Topics: map[string][]kafkago.OffsetRequest{events.TopicSagaState: {kafkago.LastOffsetOf(p.partition)}},
	})
	if err != nil {
		return 0, err
	}
	for _, po := range resp.Topics[events.TopicSagaState] {
		if po.Partition == p.partition {
			if po.Error != nil {
				return 0, po.Error
			}
			return po.LastOffset, nil
		}
	}
	return 0, fmt.Errorf("no offsets for %s[%d]", events.TopicSagaState, p.partition)
}

// ErrMissingDefinition is the error (errors.Is) of an orchestrator that restored sagas in
// flight on a definition version it does not run (Config.Definition, Config.Previous).
var ErrMissingDefinition = errors.New("saga definition version not served")

// MissingDefinitionError lists, for one partition, the definition versions that restored
// sagas in flight need and this orchestrator does not run, with how many need each.
type MissingDefinitionError struct {
	Partition int
	Sagas     map[string]int // by definition ID (saga.Definition.ID)
}

func (e *MissingDefinitionError) Error() string {
	ids := slices.Sorted(maps.Keys(e.Sagas))
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d saga(s) in flight need definition %s (version %d)", e.Sagas[id], id, saga.VersionOf(id))
	}
	return fmt.Sprintf("partition %d: %s, which this orchestrator does not run (other partitions may hold more): run that version too (Config.Previous) until they finish", e.Partition, strings.Join(parts, "; "))
}

func (e *MissingDefinitionError) Unwrap() error { return ErrMissingDefinition }

// checkDefinitions fails with a *MissingDefinitionError when a restored saga in flight
// started on a definition version this process does not run.
func (p *processor) checkDefinitions() error {
	missing := map[string]int{}
	for _, s := range p.sagas {
		if p.definition(s) == nil {
			missing[s.Definition]++
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &MissingDefinitionError{Partition: p.partition, Sagas: missing}
}

// resendChunk is how many restored sagas one resendSome call re-sends the commands of.
const resendChunk = 2000

// closedTimeChan is always ready: a select on it does not wait.
var closedTimeChan = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// inFlightSagas lists the restored sagas that wait on a command: the previous owner may have
// died before sending it, so it is sent again (workers dedupe by idempotency key).
func (p *processor) inFlightSagas() []string {
	ids := make([]string, 0, len(p.sagas))
	for id, s := range p.sagas {
		if def := p.definition(s); def != nil && def.Waiting(s) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // a stable order across restores
	return ids
}

// resendSome re-sends the in-flight commands of up to resendChunk sagas of ids, as they are
// now (a saga that finished or moved on since the restore sends only what it still waits
// on), and returns how many commands it sent and the sagas left.
func (p *processor) resendSome(ctx context.Context, ids []string) (int, []string, error) {
	n := min(resendChunk, len(ids))
	var msgs []kafkago.Message
	now := p.cfg.Now()
	for _, id := range ids[:n] {
		s := p.sagas[id]
		if s == nil {
			continue
		}
		def := p.definition(s)
		if def == nil {
			continue
		}
		for _, c := range def.InFlight(s) {
			m, err := p.commandMessage(s, c, "", s.TraceParent, now)
			if err != nil {
				return 0, ids, err
			}
			msgs = append(msgs, m)
		}
	}
	if len(msgs) > 0 {
		if err := p.writable(ctx); err != nil {
			return 0, ids, err
		}
		if err := p.w.WriteMessages(ctx, msgs...); err != nil {
			return 0, ids, err
		}
		p.cfg.Metrics.Resent.Add(float64(len(msgs)))
	}
	return len(msgs), ids[n:], nil
}

// retire drops the finished sagas among ids from memory, into the finished index, and keeps
// each in unwritten until its last snapshot (a small marker) is written; the index
// tombstones that snapshot when the retention ends.
func (p *processor) retire(ids []string, unwritten map[string]*saga.State) {
	for _, id := range ids {
		s := p.sagas[id]
		if s == nil || !s.Finished() {
			continue
		}
		delete(p.sagas, id)
		unwritten[id] = s
		p.timers.schedule(id, time.Time{}, false)
		p.finished.add(id, s.Status, s.UpdatedAt)
		p.cfg.Metrics.Sagas.Dec()
		p.cfg.Metrics.FinishedSagas.Inc()
	}
}
