package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// HeaderForwardedFrom is set on a record forwarded to its home partition: the
// topic/partition@offset it first arrived on.
const HeaderForwardedFrom = "podium.forwarded-from"

// HeaderGeneration is set on every snapshot: the consumer-group generation of the writer.
// A processor tailing its changelog skips its own snapshots by it without decoding them.
const HeaderGeneration = "podium.generation"

// eventNamespace derives lifecycle event IDs, so that an event re-published after a crash
// carries the same ID and consumers can drop the duplicate.
var eventNamespace = uuid.MustParse("6f1c3d1e-8a4b-4f53-9a43-2f6f0b1d7c55")

// processor owns one partition index of every input topic for one generation. It is the
// only writer of the sagas homed on that partition. Not safe for concurrent use: run is
// its only goroutine (plus the readers feeding it).
type processor struct {
	cfg       Config
	w         messageWriter
	a         pkafka.Assignment
	feed      *pkafka.Feed // what the partition's input is read from
	partition int
	log       zerolog.Logger

	sagas    map[string]*saga.State // sagas in flight (finished ones leave at once)
	finished *finishedIndex         // sagas finished within the dedupe window
	early    *earlyCancels          // cancels held for orders that have not arrived
	// markers are finished sagas whose marker must be written again: another writer's
	// record landed after it (see audit). Emptied by every snapshot write.
	markers map[string]*saga.State
	timers  *timerQueue
	offsets map[string]int64 // next offset to commit, by topic
	fence   *fence
	tracer  trace.Tracer // of the global provider when the processor was made
}

func newProcessor(cfg Config, w messageWriter, a pkafka.Assignment) *processor {
	return &processor{
		cfg:       cfg,
		w:         w,
		a:         a,
		partition: a.Partition,
		log:       cfg.Logger.With().Int("partition", a.Partition).Logger(),
		sagas:     make(map[string]*saga.State),
		markers:   make(map[string]*saga.State),
		finished:  newFinishedIndex(a.Partition, cfg.Partitions, cfg.Retention, cfg.DedupeWindow),
		early:     newEarlyCancels(a.Partition, cfg.Partitions, cfg.EarlyCancelWindow, cfg.EarlyCancelMax),
		timers:    newTimerQueue(),
		offsets:   make(map[string]int64),
		tracer:    otel.Tracer(tracerName),
	}
}

// run restores the partition, re-sends in-flight commands and then processes batches until
// ctx ends (nil) or a write fails (the error: the caller ends the generation).
func (p *processor) run(ctx context.Context) error {
	// A stall of half the session timeout may already have cost the partition.
	p.fence = newFence(ctx, p.cfg.SessionTimeout/2)
	start := time.Now()
	end, rewrite, err := p.restore(ctx)
	if err != nil {
		return fmt.Errorf("restoring partition %d: %w", p.partition, err)
	}
	read := time.Since(start)
	p.cfg.Metrics.RestoreSeconds.Observe(read.Seconds())
	p.cfg.Metrics.Sagas.Add(float64(len(p.sagas)))
	p.cfg.Metrics.FinishedSagas.Add(float64(p.finished.Len()))
	defer func() {
		p.cfg.Metrics.Sagas.Sub(float64(len(p.sagas)))
		p.cfg.Metrics.FinishedSagas.Sub(float64(p.finished.Len()))
	}()
	if err := p.rewrite(ctx, rewrite); err != nil {
		return fmt.Errorf("re-writing the newest snapshots of partition %d: %w", p.partition, err)
	}
	// The in-flight commands are re-sent in chunks between batches (resendSome), so that
	// processing starts at once; a saga that moved on meanwhile is not re-sent the old step.
	resend := p.inFlightSagas()
	// restore: from assignment to processing (changelog read, re-writes); changelog:
	// reading podium.saga-state into memory alone.
	p.log.Info().Int("sagas", len(p.sagas)).Int("finished", p.finished.Len()).Int("to_resend", len(resend)).
		Dur("restore", time.Since(start)).Dur("changelog", read).Msg("partition restored")
	resendStart, resent := time.Now(), 0

	// The changelog is read on from where restore ended: a snapshot this processor did not
	// write (a late write of an ended generation) must not stay the saga's last record,
	// or compaction would keep it instead of the owner's (see audit).
	offsets := make(map[pkafka.TopicPartition]int64, len(p.a.Offsets)+1)
	for topic, off := range p.a.Offsets {
		offsets[pkafka.TopicPartition{Topic: topic, Partition: p.partition}] = off
	}
	offsets[pkafka.TopicPartition{Topic: events.TopicSagaState, Partition: p.partition}] = end
	sub, err := p.feed.Subscribe(ctx, offsets)
	if err != nil {
		return fmt.Errorf("reading partition %d: %w", p.partition, err)
	}
	// Shutdown order: stop fetching, then (the loop has returned) nothing is written after,
	// and the last commits are waited for while the generation still lives.
	defer p.a.Flush(commitFlushTimeout)
	defer sub.Close()
	lags := make(map[string]prometheus.Gauge, len(offsets))
	for tp := range offsets {
		lags[tp.Topic] = p.cfg.Metrics.Lag.WithLabelValues(tp.Topic, strconv.Itoa(p.partition))
	}
	defer func() {
		for topic := range lags {
			p.cfg.Metrics.Lag.DeleteLabelValues(topic, strconv.Itoa(p.partition))
		}
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// Housekeeping (index records, tombstones) also runs when no input arrives.
	tick := time.NewTicker(housekeepingInterval)
	defer tick.Stop()
	for {
		if len(resend) > 0 {
			n, rest, err := p.resendSome(ctx, resend)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("re-sending in-flight commands of partition %d: %w", p.partition, err)
			}
			resend, resent = rest, resent+n
			if len(resend) == 0 {
				p.log.Info().Int("commands", resent).Dur("took", time.Since(resendStart)).Msg("in-flight commands re-sent")
			}
		}
		timer.Stop()
		var timerC <-chan time.Time
		if due, ok := p.timers.next(); ok {
			timer.Reset(max(due.Sub(p.cfg.Now()), 0))
			timerC = timer.C
		}
		var more <-chan time.Time // with re-sends left, do not wait for input
		if len(resend) > 0 {
			more = closedTimeChan
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Ready():
		case <-timerC:
		case <-tick.C:
		case <-more:
		}
		batch, err := sub.TryNext(p.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("reading partition %d: %w", p.partition, err)
		}
		for _, m := range batch {
			lags[m.Topic].Set(float64(max(m.HighWaterMark-m.Offset-1, 0)))
		}
		if err := p.process(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil // the generation ended mid-batch: nothing committed, redelivered
			}
			return err
		}
	}
}

// restore rebuilds the partition's sagas from podium.saga-state, keeping for each saga the
// highest version (on a tie, the snapshot of the later generation), and schedules their
// timers. It returns the changelog's end offset, where it stopped reading, and the sagas
// whose last record is not the snapshot kept: a late write of an ended generation landed
// after the owner's, and compaction would keep it, so the kept snapshot must be written
// again.
func (p *processor) restore(ctx context.Context) (int64, []string, error) {
	lastIsKept := map[string]bool{}
	end, err := pkafka.ReadPartition(ctx, p.cfg.Kafka, events.TopicSagaState, p.partition, func(m kafkago.Message) error {
		id := string(m.Key)
		if strings.HasPrefix(id, earlyKeyPrefix) {
			if err := p.early.restoreRecord(id, m.Value); err != nil {
				p.log.Error().Err(err).Int64("offset", m.Offset).Msg("skipping unreadable early cancel record")
			}
			return nil
		}
		if strings.HasPrefix(id, IndexKeyPrefix) {
			if m.Value == nil {
				p.finished.forgetRecord(id)
			} else if err := p.finished.restoreRecord(id, m.Value); err != nil {
				p.log.Error().Err(err).Int64("offset", m.Offset).Msg("skipping unreadable finished-saga index record")
			}
			return nil
		}
		if m.Value == nil { // tombstone
			delete(p.sagas, id)
			delete(lastIsKept, id)
			return nil
		}
		s, err := saga.DecodeState(m.Value)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Int64("offset", m.Offset).Msg("skipping unreadable saga snapshot")
			return nil
		}
		if cur, ok := p.sagas[id]; ok && newer(cur, s) {
			p.cfg.Metrics.StaleSnapshots.Inc()
			p.log.Warn().Str("order_id", id).Uint64("kept_version", cur.Version).Int32("kept_generation", cur.Generation).
				Uint64("stale_version", s.Version).Int32("stale_generation", s.Generation).
				Msg("ignoring stale snapshot from an older writer")
			lastIsKept[id] = false
			return nil
		}
		p.sagas[id] = s
		lastIsKept[id] = true
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
	// Finished sagas leave memory: the index keeps what dedupe and retention need.
	for id, s := range p.sagas {
		if s.Finished() {
			p.finished.add(id, s.Status, s.UpdatedAt)
			delete(p.sagas, id)
			if !lastIsKept[id] {
				p.markers[id] = s // compaction would keep the stale record instead
			}
			delete(lastIsKept, id)
			continue
		}
		if st, done := p.finished.lookup(id); done {
			// A late snapshot of an ended generation outlived the saga's tombstone.
			p.log.Warn().Str("order_id", id).Str("status", string(st)).Uint64("version", s.Version).
				Msg("dropping the snapshot of a saga that already finished")
			delete(p.sagas, id)
			delete(lastIsKept, id)
		}
	}
	p.finished.sortRestored()
	p.early.restored(func(id string) bool {
		_, done := p.finished.lookup(id)
		return done || p.sagas[id] != nil
	})
	var rewrite []string
	for id, kept := range lastIsKept {
		if !kept {
			rewrite = append(rewrite, id)
		}
	}
	for id := range p.markers {
		rewrite = append(rewrite, id)
	}
	sort.Strings(rewrite)
	for id, s := range p.sagas {
		due, ok := s.NextTimer()
		p.timers.schedule(id, due, ok)
	}
	return end, rewrite, nil
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
	snaps, err := p.snapshots(ids)
	if err != nil {
		return err
	}
	return p.w.WriteMessages(ctx, snaps...)
}

// snapshots encodes the current state of the sagas ids as this generation's snapshots.
func (p *processor) snapshots(ids []string) ([]kafkago.Message, error) {
	gen := []byte(strconv.FormatInt(int64(p.a.Generation.ID), 10))
	snaps := make([]kafkago.Message, 0, len(ids))
	for _, id := range ids {
		s := p.sagas[id]
		if s == nil {
			if s = p.markers[id]; s == nil {
				continue
			}
			delete(p.markers, id)
		}
		s.Generation = p.a.Generation.ID
		if s.Finished() {
			s = finishedMarker(s)
		}
		value, err := s.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encoding snapshot of %s: %w", id, err)
		}
		snaps = append(snaps, kafkago.Message{
			Topic:   events.TopicSagaState,
			Key:     []byte(id),
			Value:   value,
			Headers: []kafkago.Header{{Key: HeaderGeneration, Value: gen}},
		})
	}
	return snaps, nil
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
	var ids []string
	for id, s := range p.sagas {
		if p.cfg.Definition.Waiting(s) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids) // a stable order across restores
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
		for _, c := range p.cfg.Definition.InFlight(s) {
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

// batchOutput collects what one batch writes.
type batchOutput struct {
	messages []kafkago.Message // commands, lifecycle events, dead letters, forwards
	dirty    map[string]bool
	order    []string                       // dirty sagas in first-touched order
	timeline map[string][]saga.HistoryEntry // history entries of the batch, by saga
	base     map[string]uint64              // saga version before its first entry of the batch
	applied  map[string][]string            // IDs of the operator requests applied, by saga
	state    []kafkago.Message              // early cancel records, written with the snapshots
	spans    []trace.Span                   // of the inputs applied, ended once written
	current  applySpan                      // of the input being applied (startApply)
}

func (b *batchOutput) touch(id string) {
	if !b.dirty[id] {
		b.dirty[id] = true
		b.order = append(b.order, id)
	}
}

// process applies one batch and writes its effects: first the commands, events, dead
// letters and forwards, then the snapshots, then the offsets. Everything it writes is
// derived deterministically from the inputs and the restored state (command and event IDs
// included), so a crash at any point only repeats work that consumers already dedupe.
func (p *processor) process(ctx context.Context, batch []kafkago.Message) (err error) {
	start := time.Now()
	now := p.cfg.Now()
	out := &batchOutput{dirty: make(map[string]bool), timeline: make(map[string][]saga.HistoryEntry),
		base: make(map[string]uint64), applied: make(map[string][]string), state: p.early.flush()}
	defer func() { out.endSpans(err) }()
	inputs := 0
	for _, m := range batch {
		if m.Topic == events.TopicSagaState {
			p.audit(m, out)
			continue
		}
		inputs++
		p.cfg.Metrics.Records.WithLabelValues(m.Topic).Inc()
		p.handle(m, now, out)
		p.offsets[m.Topic] = m.Offset + 1
	}
	for _, id := range p.timers.popDue(now) {
		s := p.sagas[id]
		if s == nil {
			continue
		}
		p.startApply(nil, nil, id, s, saga.TimerInput(), out)
		p.apply(id, s, saga.TimerInput(), "", now, out)
	}
	out.messages = append(out.messages, p.timelineMessages(out, now)...)
	p.expireEarly(now, out)
	housekeeping, housekept := p.finished.housekeeping(now)
	if len(out.messages) == 0 && len(out.order) == 0 && len(housekeeping) == 0 && len(out.state) == 0 && inputs == 0 {
		return nil
	}
	// A processor writes only while its generation lives: after a rebalance another
	// instance owns these sagas.
	if err := p.writable(ctx); err != nil {
		return err
	}
	if len(out.messages) > 0 {
		if err := p.write(ctx, out.messages); err != nil {
			return fmt.Errorf("writing commands and events: %w", err)
		}
	}
	if len(out.order) > 0 || len(housekeeping) > 0 || len(out.state) > 0 {
		snaps, err := p.snapshots(out.order)
		if err != nil {
			return err
		}
		p.retire(out.order)
		snaps = append(append(snaps, housekeeping...), out.state...)
		if err := p.writable(ctx); err != nil {
			return err
		}
		if err := p.write(ctx, snaps); err != nil {
			return fmt.Errorf("writing snapshots: %w", err)
		}
		housekept()
		p.cfg.Metrics.Tombstones.Add(float64(countTombstones(housekeeping)))
	}
	if inputs > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Sent after the writes, not waited for: the next batch need not wait a round trip,
		// and a lost commit only redelivers inputs already applied, which the sagas ignore.
		// The partition's last commits are flushed before the generation ends (run).
		p.a.CommitAsync(p.offsets, func(err error) {
			if err != nil {
				p.log.Warn().Err(err).Msg("committing offsets; the inputs since the last commit will be delivered again")
			}
		})
	}
	p.cfg.Metrics.BatchSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// writable reports why the processor must not write: its generation ended, or the process
// stalled long enough that the partition may have moved (ErrFenced).
func (p *processor) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.fence.check(time.Now()); err != nil {
		p.cfg.Metrics.Fenced.Inc()
		return err
	}
	return nil
}

// handle decodes one input record and applies it.
func (p *processor) handle(m kafkago.Message, now time.Time, out *batchOutput) {
	env, err := events.Decode(toRecord(m))
	if err != nil {
		p.deadLetter(m, err, out)
		return
	}
	orderID := env.Subject
	if home := pkafka.HomePartition([]byte(orderID), p.cfg.Partitions); home != p.partition {
		p.forward(m, orderID, out)
		return
	}
	log := p.log.With().Str("order_id", orderID).Str("type", env.Type).Str("traceparent", env.TraceParent).Logger()
	s := p.sagas[orderID]
	var in saga.Input
	switch m.Topic {
	case events.TopicOrdersPlaced:
		if env.Type != events.TypeOrderPlaced {
			p.deadLetter(m, fmt.Errorf("unexpected type %s on %s", env.Type, m.Topic), out)
			return
		}
		in = saga.StartInput(orderID, env.Data, seedOf(orderID), "") // the trace: see below
	case events.TopicOrdersControl:
		var req events.ControlRequest
		_ = env.DecodeData(&req) // validated by Decode
		switch env.Type {
		case events.TypeOrderCancel:
			in = saga.CancelInput(req.Reason)
		case events.TypeOrderRetry:
			in = saga.RetryInput(req.Reason)
		default:
			p.deadLetter(m, fmt.Errorf("unexpected type %s on %s", env.Type, m.Topic), out)
			return
		}
	default:
		if env.CorrelationID == "" || env.Outcome == "" {
			p.deadLetter(m, fmt.Errorf("unexpected type %s on %s: not a reply", env.Type, m.Topic), out)
			return
		}
		var r events.Reply
		_ = env.DecodeData(&r) // validated by Decode
		in = saga.ReplyInput(env.CorrelationID, env.Step, env.Outcome, r.Reason, r.Result)
	}
	if s == nil {
		if status, done := p.finished.lookup(orderID); done {
			// The saga finished (its state may be gone): a duplicate start, a late or
			// repeated reply, or a control request. Nothing changes.
			reason := "finished"
			if m.Topic == events.TopicOrdersPlaced {
				reason = "duplicate_start"
			}
			p.cfg.Metrics.Ignored.WithLabelValues(reason).Inc()
			log.Info().Str("topic", m.Topic).Int64("offset", m.Offset).Str("status", string(status)).
				Msg("ignoring record for a finished order")
			if m.Topic == events.TopicOrdersControl {
				req, _ := controlOf(env)
				p.controlUnknown(req, status, true, now, out) // rejected visibly
			}
			return
		}
		if m.Topic == events.TopicOrdersControl {
			req, _ := controlOf(env)
			p.controlUnknown(req, "", false, now, out) // a cancel is held, a retry rejected
			return
		}
		if m.Topic != events.TopicOrdersPlaced {
			reason := "unknown_saga"
			p.cfg.Metrics.Ignored.WithLabelValues(reason).Inc()
			log.Warn().Str("topic", m.Topic).Int64("offset", m.Offset).Msg("ignoring record for an unknown order")
			return
		}
		if err := p.fits(orderID, in, now); err != nil {
			p.deadLetter(m, err, out)
			return
		}
		if held, tombs := p.early.take(orderID); len(held) > 0 {
			// A cancel arrived first: the saga starts cancelled, nothing is dispatched.
			in = saga.StartCancelledInput(orderID, env.Data, seedOf(orderID), "", held[0].Reason)
			out.state = append(out.state, tombs...)
			for _, h := range held {
				out.applied[orderID] = append(out.applied[orderID], h.RequestID)
			}
			log.Info().Int("cancels", len(held)).Msg("applying a cancel that arrived before its order")
		}
	}
	p.startApply(&m, &env, orderID, s, in, out)
	if in.Kind == saga.InputStart {
		// The saga's stored context, parent of its timers' spans: the span that started it,
		// in its producer's trace; without tracing, the producer's traceparent or a new one.
		if in.TraceParent = out.current.traceparent; in.TraceParent == "" {
			in.TraceParent = newTraceParent()
		}
	}
	p.apply(orderID, s, in, env.ID, now, out)
}

// apply runs one saga transition and queues its outputs.
func (p *processor) apply(id string, s *saga.State, in saga.Input, causation string, now time.Time, out *batchOutput) {
	span := out.takeSpan()
	next, outputs, err := p.cfg.Definition.Apply(s, in, now)
	if err != nil {
		reason := "apply_error"
		if errors.Is(err, saga.ErrUnknownSaga) {
			reason = "unknown_saga"
		}
		p.cfg.Metrics.Ignored.WithLabelValues(reason).Inc()
		p.log.Warn().Err(err).Str("order_id", id).Msg("input not applied")
		span.result("error", s, nil, outputs, err)
		return
	}
	if s == nil {
		p.cfg.Metrics.Sagas.Inc()
	}
	if !outputs.Changed && s != nil {
		span.result("unchanged", s, next, outputs, nil)
		return
	}
	span.result("applied", s, next, outputs, nil)
	traceparent := span.traceparentFor(next) // what the commands and events carry
	p.sagas[id] = next
	out.touch(id)
	out.timelineBase(id, s)
	out.timeline[id] = append(out.timeline[id], outputs.History...)
	if in.Kind == saga.InputControl {
		p.controlApplied(id, next, in, causation, outputs, now, out)
	}
	p.observe(outputs, now)
	due, ok := next.NextTimer()
	p.timers.schedule(id, due, ok)
	for _, c := range outputs.Commands {
		m, err := p.commandMessage(next, c, causation, traceparent, now)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Str("step", c.Step).Msg("encoding command")
			continue
		}
		kind := "do"
		if c.Compensation {
			kind = "undo"
		}
		p.cfg.Metrics.Commands.WithLabelValues(c.Worker, kind).Inc()
		p.log.Debug().Str("order_id", id).Str("traceparent", traceparent).Str("step", c.Step).
			Str("command_id", c.ID).Int("attempt", c.Attempt).Str("kind", kind).Msg("command")
		out.messages = append(out.messages, m)
	}
	for _, e := range outputs.Events {
		typ, ok := order.LifecycleType(e)
		if !ok {
			if e.Kind == saga.EventRejected {
				p.log.Info().Str("order_id", id).Str("reason", e.Reason).Msg("operator request rejected")
			}
			continue
		}
		m, err := p.lifecycleMessage(next, typ, e, traceparent, now)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Msg("encoding lifecycle event")
			continue
		}
		p.cfg.Metrics.Lifecycle.WithLabelValues(typ).Inc()
		p.log.Debug().Str("order_id", id).Str("traceparent", traceparent).Str("type", typ).
			Str("reason", e.Reason).Str("step", e.Step).Msg("lifecycle event")
		out.messages = append(out.messages, m)
	}
}

// observe feeds the metrics from one transition: the history entries it made, why it was
// ignored, and the dispatch-to-reply latency of the attempt a reply settled.
func (p *processor) observe(outputs saga.Outputs, now time.Time) {
	m := p.cfg.Metrics
	for _, h := range outputs.History {
		switch h.Kind {
		case saga.HistoryTimeout:
			m.Timeouts.Inc()
		case saga.HistoryRetryScheduled:
			m.Retries.Inc()
		case saga.HistoryCompensationSent:
			m.Compensations.Inc()
		}
	}
	if outputs.Ignored != "" {
		m.Ignored.WithLabelValues(outputs.Ignored).Inc()
	}
	if st := outputs.Settled; st != nil {
		m.StepLatency.WithLabelValues(st.Step, st.Outcome).Observe(now.Sub(st.DispatchedAt).Seconds())
	}
}

// commandMessage encodes a saga command for its worker's topic, carrying the W3C
// traceparent of the span that sends it.
func (p *processor) commandMessage(s *saga.State, c saga.Command, causation, traceparent string, now time.Time) (kafkago.Message, error) {
	env := events.Envelope{
		ID:              c.ID,
		Source:          "podium/orchestrator",
		Type:            c.Type,
		Subject:         c.SagaID,
		Time:            now.UTC(),
		DataContentType: "application/json",
		SagaID:          c.SagaID,
		Step:            c.Step,
		Attempt:         c.Attempt,
		IdempotencyKey:  c.IdempotencyKey,
		CausationID:     causation,
		TraceParent:     traceparent,
		Data:            c.Payload,
	}
	value, headers, err := events.Encode(env)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("encoding command %s: %w", c.ID, err)
	}
	return kafkago.Message{Topic: events.CommandsTopic(c.Worker), Key: []byte(c.SagaID), Value: value, Headers: toKafkaHeaders(headers)}, nil
}

// lifecycleMessage encodes a public lifecycle event for orders.events, carrying the W3C
// traceparent of the span that publishes it.
func (p *processor) lifecycleMessage(s *saga.State, typ string, e saga.Event, traceparent string, now time.Time) (kafkago.Message, error) {
	data, err := json.Marshal(events.OrderLifecycle{
		OrderID: s.SagaID,
		Status:  string(order.StatusOf(s)),
		Reason:  e.Reason,
		Step:    e.Step,
	})
	if err != nil {
		return kafkago.Message{}, err
	}
	env := events.Envelope{
		ID:              uuid.NewSHA1(eventNamespace, []byte(s.SagaID+"/"+typ+"/"+strconv.FormatUint(s.Version, 10))).String(),
		Source:          "podium/orchestrator",
		Type:            typ,
		Subject:         s.SagaID,
		Time:            now.UTC(),
		DataContentType: "application/json",
		SagaID:          s.SagaID,
		TraceParent:     traceparent,
		Data:            data,
	}
	value, headers, err := events.Encode(env)
	if err != nil {
		return kafkago.Message{}, err
	}
	return kafkago.Message{Topic: events.TopicOrdersEvents, Key: []byte(s.SagaID), Value: value, Headers: toKafkaHeaders(headers)}, nil
}

// deadLetter queues the original record for orders.dlq with the reason it was refused.
func (p *processor) deadLetter(m kafkago.Message, reason error, out *batchOutput) {
	label := "unexpected_type"
	var de *events.DecodeError
	if errors.As(reason, &de) {
		label = de.Rule
	}
	p.cfg.Metrics.DeadLetters.WithLabelValues(label).Inc()
	p.log.Warn().Str("topic", m.Topic).Int64("offset", m.Offset).Str("reason", reason.Error()).Msg("dead letter")
	out.messages = append(out.messages, pkafka.DeadLetter(events.TopicOrdersDLQ, m, reason.Error()))
}

// forward re-publishes a record on its order's home partition (same topic).
func (p *processor) forward(m kafkago.Message, orderID string, out *batchOutput) {
	p.cfg.Metrics.Forwarded.Inc()
	headers := append(append([]kafkago.Header(nil), m.Headers...), kafkago.Header{
		Key:   HeaderForwardedFrom,
		Value: []byte(fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)),
	})
	out.messages = append(out.messages, kafkago.Message{Topic: m.Topic, Key: []byte(orderID), Value: m.Value, Headers: headers})
}

func toRecord(m kafkago.Message) events.Record {
	r := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	if len(m.Headers) > 0 {
		r.Headers = make([]events.Header, len(m.Headers))
		for i, h := range m.Headers {
			r.Headers[i] = events.Header{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

func toKafkaHeaders(hs []events.Header) []kafkago.Header {
	out := make([]kafkago.Header, len(hs))
	for i, h := range hs {
		out[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// seedOf derives a saga's jitter seed from its ID, so a re-applied start is identical.
func seedOf(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// newTraceParent starts a W3C trace for an order placed without one.
func newTraceParent() string {
	t := uuid.New()
	s := uuid.New()
	return fmt.Sprintf("00-%x-%x-01", t[:], s[:8])
}

// housekeepingInterval is how often an idle processor writes due index records and
// tombstones.
const housekeepingInterval = 2 * time.Second

// retire drops the finished sagas among ids from memory, into the finished index. Their
// last snapshot (a small marker) is in the batch being written; the index tombstones it
// when the retention ends.
func (p *processor) retire(ids []string) {
	for _, id := range ids {
		s := p.sagas[id]
		if s == nil || !s.Finished() {
			continue
		}
		delete(p.sagas, id)
		p.timers.schedule(id, time.Time{}, false)
		p.finished.add(id, s.Status, s.UpdatedAt)
		p.cfg.Metrics.Sagas.Dec()
		p.cfg.Metrics.FinishedSagas.Inc()
	}
}

// fits reports, as a dead-letter reason, a start whose saga state would exceed
// Config.MaxStateBytes. Small inputs are not measured: a state is its input plus a
// bounded bookkeeping of its steps.
func (p *processor) fits(id string, in saga.Input, now time.Time) error {
	if len(in.Payload) < p.cfg.MaxStateBytes/4 {
		return nil
	}
	next, _, err := p.cfg.Definition.Apply(nil, in, now)
	if err != nil {
		return nil // Apply reports it
	}
	b, err := next.MarshalBinary()
	if err != nil || len(b) <= p.cfg.MaxStateBytes {
		return nil
	}
	return &events.DecodeError{Field: "data", Rule: RuleTooLarge,
		Err: fmt.Errorf("the saga state of order %s would be %d bytes, above the limit of %d", id, len(b), p.cfg.MaxStateBytes)}
}

// RuleTooLarge is the dead-letter reason of an input whose saga state would not fit the
// configured record size (Config.MaxStateBytes).
const RuleTooLarge = "too_large"

// timelineMessages encodes the history entries of the batch as one podium.saga.timeline.v1
// record per saga, in the order the sagas were touched.
func (p *processor) timelineMessages(out *batchOutput, now time.Time) []kafkago.Message {
	var msgs []kafkago.Message
	for _, id := range out.order {
		entries := out.timeline[id]
		s := p.sagas[id]
		if len(entries) == 0 || s == nil {
			continue
		}
		base := out.base[id]
		tl := events.SagaTimeline{SagaID: id, Definition: s.Definition, Version: s.Version, BaseVersion: &base,
			AppliedRequests: out.applied[id], Status: string(s.Status),
			Entries: make([]events.TimelineEntry, len(entries))}
		for i, h := range entries {
			tl.Entries[i] = events.TimelineEntry(h)
		}
		data, err := json.Marshal(tl)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Msg("encoding timeline")
			continue
		}
		env := events.Envelope{
			ID:              uuid.NewSHA1(eventNamespace, []byte(id+"/timeline/"+strconv.FormatUint(s.Version, 10))).String(),
			Source:          "podium/orchestrator",
			Type:            events.TypeSagaTimeline,
			Subject:         id,
			Time:            now.UTC(),
			DataContentType: "application/json",
			SagaID:          id,
			TraceParent:     s.TraceParent,
			Data:            data,
		}
		value, headers, err := events.Encode(env)
		if err != nil {
			p.log.Error().Err(err).Str("order_id", id).Msg("encoding timeline")
			continue
		}
		msgs = append(msgs, kafkago.Message{Topic: events.TopicOrdersEvents, Key: []byte(id), Value: value, Headers: toKafkaHeaders(headers)})
	}
	return msgs
}

func countTombstones(msgs []kafkago.Message) int {
	n := 0
	for _, m := range msgs {
		if m.Value == nil {
			n++
		}
	}
	return n
}

// write writes msgs. When the broker refuses a record for its size (MessageSizeTooLarge:
// a forwarded record that the forwarding header pushed over the limit, an output larger
// than the broker accepts), that record alone is lost to its destination: the records are
// then written one at a time, in order, and each refused one is replaced by a dead letter
// (truncated to fit) on orders.dlq. The batch, the partition and the generation go on.
func (p *processor) write(ctx context.Context, msgs []kafkago.Message) error {
	err := p.w.WriteMessages(ctx, msgs...)
	if err == nil || !errors.Is(err, kafkago.MessageSizeTooLarge) {
		return err
	}
	p.log.Warn().Err(err).Int("records", len(msgs)).Msg("the broker refused a record for its size; writing the batch one record at a time")
	for _, m := range msgs {
		err := p.w.WriteMessages(ctx, m)
		if err == nil {
			continue
		}
		if !errors.Is(err, kafkago.MessageSizeTooLarge) {
			return err
		}
		reason := fmt.Sprintf("%s: the broker refused this record for %s (%d bytes): %v", RuleTooLarge, m.Topic, len(m.Key)+len(m.Value), err)
		p.cfg.Metrics.DeadLetters.WithLabelValues(RuleTooLarge).Inc()
		p.log.Error().Str("topic", m.Topic).Str("order_id", string(m.Key)).Int("bytes", len(m.Value)).Msg("dead-lettering a record the broker refused for its size")
		dl := pkafka.DeadLetter(events.TopicOrdersDLQ, m, reason)
		if err := p.w.WriteMessages(ctx, dl); err != nil {
			return fmt.Errorf("writing the dead letter of a record too large: %w", err)
		}
	}
	return nil
}
