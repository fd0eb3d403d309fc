package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// processor owns one partition index of every input topic for one generation. It is the
// only writer of the sagas homed on that partition. Not safe for concurrent use: run is
// its only goroutine (the process's Feed delivers its input).
//
// Its code is split by concern: this file holds the loop, intake (decode, route, apply)
// and the batch; changelog.go the saga state in podium.saga-state (restore, snapshots,
// audit of foreign writes, re-sends after a restore); output.go what a batch writes
// (commands, lifecycle and timeline events, dead letters, forwards) and how.
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
	// pending is what the batches since the last snapshot write still have to write, after
	// their commands and events: snapshots, index records, then offsets. It goes out with
	// a later batch's commands and events once Config.SnapshotInterval passed, or on its
	// own when no input waits then (flush).
	pending *unsaved
	// commit commits input offsets without waiting (Assignment.CommitAsync).
	commit func(offsets map[string]int64, done func(error))
	fence  *fence
	tracer trace.Tracer // of the global provider when the processor was made
	types  *catalog     // the saga types run, and their definition versions
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
		types:     newCatalog(cfg.Sagas),
		commit:    a.CommitAsync,
	}
}

// definition is the definition s runs on: the version it started on, nil when this
// process does not serve it.
func (p *processor) definition(s *saga.State) *saga.Definition {
	return p.types.defs[s.Definition]
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
	if err := p.checkDefinitions(); err != nil {
		return err
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
	save := time.NewTimer(time.Hour) // when the pending snapshots are due
	save.Stop()
	defer save.Stop()
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
		// Snapshots that waited SnapshotInterval go out with the next batch's write if input
		// is there already, otherwise now, before waiting; younger ones wait for their time.
		// New sagas' first snapshots and finished ones' markers are due at once (see
		// unsaved.takeUrgent).
		var saveC <-chan time.Time
		if p.pending != nil {
			now := p.cfg.Now()
			due := p.pending.due(now, p.cfg.SnapshotInterval)
			switch {
			case (due || p.pending.hasUrgent()) && sub.Buffered():
				more = closedTimeChan
			case due || p.pending.hasUrgent():
				flush := p.flushUrgent
				if due {
					flush = p.flush
				}
				if err := flush(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
			if p.pending != nil && !p.pending.due(now, p.cfg.SnapshotInterval) {
				save.Reset(p.pending.since.Add(p.cfg.SnapshotInterval).Sub(now))
				saveC = save.C
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Ready():
		case <-timerC:
		case <-saveC:
		case <-tick.C:
		case <-more:
		}
		save.Stop()
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
	request  *controlRequest                // the operator request being applied, if any
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
//
// The snapshots and offsets are left in p.pending: they are written with a later batch's
// commands and events, in the same request, once Config.SnapshotInterval passed (pipelined,
// as DESIGN.md §5 orders: a batch's snapshots after its events, its offsets after its
// snapshots), or alone with flush when no input waits. Under load a batch so costs one
// write round trip instead of two, and a saga changed by several batches in the interval
// is written once.
func (p *processor) process(ctx context.Context, batch []kafkago.Message) (err error) {
	start := time.Now()
	now := p.cfg.Now()
	out := &batchOutput{dirty: make(map[string]bool), timeline: make(map[string][]saga.HistoryEntry),
		base: make(map[string]uint64), applied: make(map[string][]string), state: p.early.flush()}
	defer func() { out.endSpans(err) }()
	// Earlier batches' snapshots that are due (all of them once the interval passed, else
	// the urgent ones) are encoded before this batch changes the sagas: a snapshot never
	// holds a change whose commands and events are not written.
	var prev *unsaved
	var saved []kafkago.Message
	switch {
	case p.pending == nil:
	case p.pending.due(now, p.cfg.SnapshotInterval):
		prev, p.pending = p.pending, nil
		if saved, err = p.records(prev); err != nil {
			return err
		}
	default:
		if saved, err = p.urgentRecords(); err != nil {
			return err
		}
	}
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
		p.apply(nil, id, s, saga.TimerInput(), "", now, out)
	}
	out.messages = append(out.messages, p.timelineMessages(out, now)...)
	p.expireEarly(now, out)
	wrote := len(out.messages) > 0 || len(saved) > 0 || prev != nil
	if wrote {
		// A processor writes only while its generation lives: after a rebalance another
		// instance owns these sagas.
		if err := p.writable(ctx); err != nil {
			return err
		}
		if err := p.write(ctx, append(saved, out.messages...)); err != nil {
			return fmt.Errorf("writing commands, events and earlier batches' snapshots: %w", err)
		}
		if prev != nil {
			p.written(ctx, prev)
		}
	}
	// Only once the index records issued before are written and settled (housekept): the
	// same records are not issued twice.
	var housekeeping []kafkago.Message
	var housekept func()
	if p.pending == nil || p.pending.housekept == nil {
		if housekeeping, housekept = p.finished.housekeeping(now); len(housekeeping) == 0 {
			housekept() // nothing to write: settled
			housekept = nil
		}
	}
	if len(out.order) == 0 && len(housekeeping) == 0 && len(out.state) == 0 && inputs == 0 {
		if wrote {
			p.cfg.Metrics.BatchSeconds.Observe(time.Since(start).Seconds())
		}
		return nil
	}
	if p.pending == nil {
		p.pending = newUnsaved(now)
	}
	u := p.pending
	for _, id := range out.order {
		base, ok := out.base[id] // version 0 before the batch: it started the saga
		s := p.sagas[id]
		u.touch(id, (ok && base == 0) || (s != nil && s.Finished()))
	}
	p.retire(out.order, u.retired)
	u.add(housekeeping, false)
	u.add(out.state, true)
	if housekept != nil {
		u.housekept = housekept
	}
	u.tombstones += countTombstones(housekeeping)
	if inputs > 0 {
		u.offsets = maps.Clone(p.offsets)
	}
	p.cfg.Metrics.BatchSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// flush writes the pending snapshots on their own (no input is waiting to take them along)
// and commits their batch's offsets.
func (p *processor) flush(ctx context.Context) error {
	prev := p.pending
	if prev == nil {
		return nil
	}
	if err := p.writable(ctx); err != nil {
		return err
	}
	snaps, err := p.records(prev)
	if err != nil {
		return err
	}
	if len(snaps) > 0 {
		if err := p.write(ctx, snaps); err != nil {
			return fmt.Errorf("writing snapshots: %w", err)
		}
	}
	p.pending = nil
	p.written(ctx, prev)
	return nil
}

// flushUrgent writes what must not wait (new sagas' first snapshots, finished sagas'
// markers, held early cancels) on its own, as no input is waiting to take it along; the
// rest keeps waiting, and no offset is committed.
func (p *processor) flushUrgent(ctx context.Context) error {
	if p.pending == nil {
		return nil
	}
	snaps, err := p.urgentRecords()
	if err != nil || len(snaps) == 0 {
		return err
	}
	if err := p.writable(ctx); err != nil {
		return err
	}
	if err := p.write(ctx, snaps); err != nil {
		return fmt.Errorf("writing new and finished sagas' snapshots and held cancels: %w", err)
	}
	return nil
}

// urgentRecords takes what must not wait out of p.pending and encodes it: the urgent
// sagas' snapshots, then the urgent records.
func (p *processor) urgentRecords() ([]kafkago.Message, error) {
	ids, retired, records := p.pending.takeUrgent()
	snaps, err := p.snapshots(ids, retired)
	if err != nil {
		return nil, err
	}
	return append(snaps, records...), nil
}

// records encodes what u writes to podium.saga-state: each changed saga's snapshot in its
// current state, and the index and early-cancel records, in the order of their last change.
func (p *processor) records(u *unsaved) ([]kafkago.Message, error) {
	gen := []byte(strconv.FormatInt(int64(p.a.Generation.ID), 10))
	out := make([]kafkago.Message, 0, len(u.entries))
	for _, e := range u.entries {
		switch {
		case e.gone:
		case e.record != nil:
			out = append(out, *e.record)
		default:
			m, ok, err := p.snapshot(e.id, gen, u.retired)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// written settles a batch whose snapshots are written: its index records count as written,
// and its input offsets are committed.
func (p *processor) written(ctx context.Context, prev *unsaved) {
	if prev.housekept != nil {
		prev.housekept()
	}
	p.cfg.Metrics.Tombstones.Add(float64(prev.tombstones))
	if prev.offsets == nil || ctx.Err() != nil {
		return
	}
	// Sent after the writes, not waited for: the next batch need not wait a round trip, and
	// a lost commit only redelivers inputs already applied, which the sagas ignore. The
	// partition's last commits are flushed before the generation ends (run).
	p.commit(prev.offsets, func(err error) {
		if err != nil {
			p.log.Warn().Err(err).Msg("committing offsets; the inputs since the last commit will be delivered again")
		}
	})
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
	var (
		in    saga.Input
		start *SagaType // the saga type a start record starts
	)
	switch {
	case p.types.topics[m.Topic]:
		if start = p.types.byStart[env.Type]; start == nil || start.Topic != m.Topic {
			p.deadLetter(m, fmt.Errorf("unexpected type %s on %s", env.Type, m.Topic), out)
			return
		}
		in = saga.StartInput(orderID, env.Data, seedOf(orderID), "") // the trace: see below
	case m.Topic == events.TopicOrdersControl:
		req, ok := controlOf(env)
		if !ok {
			p.deadLetter(m, fmt.Errorf("unexpected type %s on %s", env.Type, m.Topic), out)
			return
		}
		if req.action == saga.ControlCancel {
			in = saga.CancelInput(req.reason)
		} else {
			in = saga.RetryInput(req.reason)
		}
		out.request = &req
		defer func() { out.request = nil }()
	default:
		if env.CorrelationID == "" || env.Outcome == "" {
			p.deadLetter(m, fmt.Errorf("unexpected type %s on %s: not a reply", env.Type, m.Topic), out)
			return
		}
		r, ok := env.Payload.(*events.Reply) // decoded and validated by Decode
		if !ok {
			r = new(events.Reply)
			_ = env.DecodeData(r)
		}
		in = saga.ReplyInput(env.CorrelationID, env.Step, env.Outcome, r.Reason, r.Result)
	}
	if s == nil {
		if status, done := p.finished.lookup(orderID); done {
			// The saga finished (its state may be gone): a duplicate start, a late or
			// repeated reply, or a control request. Nothing changes.
			reason := "finished"
			if start != nil {
				reason = "duplicate_start"
			}
			p.cfg.Metrics.Ignored.WithLabelValues(reason).Inc()
			log.Info().Str("topic", m.Topic).Int64("offset", m.Offset).Str("status", string(status)).
				Msg("ignoring record for a finished saga")
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
		if start == nil {
			reason := "unknown_saga"
			p.cfg.Metrics.Ignored.WithLabelValues(reason).Inc()
			log.Warn().Str("topic", m.Topic).Int64("offset", m.Offset).Msg("ignoring record for an unknown saga")
			return
		}
		if err := p.fits(start.Definition, orderID, in, now); err != nil {
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
			log.Info().Int("cancels", len(held)).Msg("applying a cancel that arrived before its saga started")
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
	var def *saga.Definition
	if s == nil {
		def = start.Definition // new sagas start on the newest version
	}
	p.apply(def, orderID, s, in, env.ID, now, out)
}

// apply runs one saga transition and queues its outputs: on s's definition, or for a saga
// not started yet (s nil), on start.
func (p *processor) apply(start *saga.Definition, id string, s *saga.State, in saga.Input, causation string, now time.Time, out *batchOutput) {
	span := out.takeSpan()
	def := start
	if s != nil {
		def = p.definition(s)
	}
	var (
		next    *saga.State
		outputs saga.Outputs
		err     error
	)
	switch {
	case def == nil && s == nil:
		err = fmt.Errorf("saga %q: %w", id, saga.ErrUnknownSaga)
	case def == nil:
		err = fmt.Errorf("saga %q started on definition %s, which this orchestrator does not run: %w", id, s.Definition, saga.ErrOtherDefinition)
	default:
		next, outputs, err = def.Apply(s, in, now)
	}
	switch {
	case err != nil && s != nil:
		// Never leave a saga waiting for inputs that cannot apply: it fails, visibly.
		p.cfg.Metrics.Ignored.WithLabelValues("apply_error").Inc()
		p.log.Error().Err(err).Str("order_id", id).Str("definition", s.Definition).Msg("input cannot be applied; the saga fails")
		next, outputs = saga.Unapplicable(s, err, now)
	case err != nil:
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
	if in.Kind == saga.InputControl && out.request != nil {
		p.controlApplied(id, next, *out.request, outputs, now, out)
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
	t := p.types.typeOf[next.Definition]
	for _, e := range outputs.Events {
		var (
			typ  string
			data any
			ok   bool
		)
		if t != nil && def != nil {
			typ, data, ok = t.lifecycle(def, next, e)
		}
		if !ok {
			if e.Kind == saga.EventRejected {
				p.log.Info().Str("order_id", id).Str("reason", e.Reason).Msg("operator request rejected")
			}
			continue
		}
		m, err := p.lifecycleMessage(next, typ, data, traceparent, now)
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

// housekeepingInterval is how often an idle processor writes due index records and
// tombstones.
const housekeepingInterval = 2 * time.Second

// fits reports, as a dead-letter reason, a start whose saga state would exceed
// Config.MaxStateBytes. Small inputs are not measured: a state is its input plus a
// bounded bookkeeping of its steps.
func (p *processor) fits(def *saga.Definition, id string, in saga.Input, now time.Time) error {
	if len(in.Payload) < p.cfg.MaxStateBytes/4 {
		return nil
	}
	next, _, err := def.Apply(nil, in, now)
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
