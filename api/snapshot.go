package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unique"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// sym is an interned string: 8 bytes, one copy per distinct value (unique.Handle), freed by
// the garbage collector once no order refers to it. The zero sym is "".
type sym struct{ h unique.Handle[string] }

func intern(s string) sym {
	if s == "" {
		return sym{}
	}
	return sym{unique.Make(s)}
}

func (s sym) String() string {
	if s == (sym{}) {
		return ""
	}
	return s.h.Value()
}

// nanos is t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// JSON snapshot formats the read model reads: 1 carries the history in the snapshot, 2 does
// not (the history is on orders.events as timeline records), and a finished saga's format-2
// snapshot may omit its input and step results. The engine's binary encoding
// (saga.State.MarshalBinary) is read too, with saga.DecodeState.
const (
	snapshotFormatHistory = 1
	snapshotFormatCompact = 2
)

// snapshotJSON is a snapshot of podium.saga-state as written: the JSON of saga.State
// (format 2), or of a format-1 state with its history. The read model decodes the fields
// it shows and nothing else (answered command lists, seeds and trace parents are skipped).
type snapshotJSON struct {
	Format     int                  `json:"format"`
	SagaID     string               `json:"saga_id"`
	Definition string               `json:"definition"`
	Status     saga.Status          `json:"status"`
	Input      json.RawMessage      `json:"input"`
	Steps      map[string]*stepJSON `json:"steps"`
	Milestones []string             `json:"milestones"`
	Reason     string               `json:"reason"`
	FailedStep string               `json:"failed_step"`
	Version    uint64               `json:"version"`
	CreatedAt  time.Time            `json:"created_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	// History and HistoryDropped are format 1 only.
	History        []timelineEntryJSON `json:"history"`
	HistoryDropped int                 `json:"history_dropped"`
}

type stepJSON struct {
	Status  saga.StepStatus `json:"status"`
	Outcome saga.Outcome    `json:"outcome"`
	Result  json.RawMessage `json:"result"`
	Do      phaseJSON       `json:"do"`
	Undo    phaseJSON       `json:"undo"`
}

type phaseJSON struct {
	Attempt   int       `json:"attempt"`
	CommandID string    `json:"command_id"`
	Deadline  time.Time `json:"deadline"`
	RetryAt   time.Time `json:"retry_at"`
	Reason    string    `json:"reason"`
}

// snapState is what the read model keeps of a snapshot: its summary fields and its steps,
// compactly (interned strings, times as integers, the engine's derived command IDs not
// stored). Its slices are never modified once built: a new snapshot replaces them.
type snapState struct {
	version          uint64
	sagaStatus       sym
	definition       sym
	created, updated int64
	reason           sym
	failedStep       sym
	total            int64
	currency         sym
	// milestones are the milestones reached, in order, joined by milestoneSep.
	milestones sym
	steps      []stepRec // by name
	// input is the OrderPlaced document; a finished saga's format-2 snapshot omits it.
	input      json.RawMessage
	stepsDone  uint16
	stepsTotal uint16
}

const milestoneSep = "\x00"

// lastMilestone is the latest milestone of the snapshot, "" if none was reached.
func (s *snapState) lastMilestone() string {
	ms := s.milestones.String()
	return ms[strings.LastIndex(ms, milestoneSep)+1:]
}

// stepRec is one step of a snapshot in 24 bytes.
type stepRec struct {
	name        sym
	x           *stepExtra // nil when the step has none of it (most settled steps)
	doAttempt   uint16
	undoAttempt uint16
	status      uint8 // index in stepStatuses, or codeOther (x.status)
	outcome     uint8 // index in outcomes, or codeOther (x.outcome)
}

// stepExtra holds a step's rarer data.
type stepExtra struct {
	doCmd, undoCmd            string // set only when not the engine's saga.CommandID
	doDeadline, doRetryAt     int64
	undoDeadline, undoRetryAt int64
	doReason, undoReason      string
	result                    json.RawMessage
	status                    saga.StepStatus // when not one of stepStatuses
	outcome                   saga.Outcome    // when not one of outcomes
}

// The step statuses and outcomes a stepRec holds as a number; codeOther marks another value.
var (
	stepStatuses = []saga.StepStatus{"", saga.StepPending, saga.StepDispatched, saga.StepRetryWait, saga.StepSucceeded,
		saga.StepFailed, saga.StepCompensating, saga.StepCompensated, saga.StepCompensationFailed, saga.StepSkipped}
	outcomes = []saga.Outcome{saga.OutcomeNone, saga.OutcomeSuccess, saga.OutcomeFailure, saga.OutcomeUnknown}
)

const codeOther = 255

func codeOf[T comparable](known []T, v T) uint8 {
	if i := slices.Index(known, v); i >= 0 {
		return uint8(i)
	}
	return codeOther
}

func (r *stepRec) stepStatus() saga.StepStatus {
	if r.status == codeOther {
		return r.x.status
	}
	return stepStatuses[r.status]
}

func (r *stepRec) stepOutcome() saga.Outcome {
	if r.outcome == codeOther {
		return r.x.outcome
	}
	return outcomes[r.outcome]
}

// decodedSnapshot is a snapshot decoded outside the read model's lock.
type decodedSnapshot struct {
	id    string
	state snapState
	// history is the format-1 history (nil for format 2), prepared for the timeline.
	history        []preEntry
	historyDropped int
}

// isJSON reports whether a podium.saga-state value is JSON (format 1 or 2) rather than the
// engine's binary encoding.
func isJSON(value []byte) bool {
	for _, c := range value {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return true // empty: let the JSON decoder say what is wrong
}

// decodeSnapshot decodes a podium.saga-state value: JSON of format 1 (with the history) or
// 2, or the engine's binary encoding (saga.DecodeState). key is the order ID (the saga ID
// when empty).
func (m *ReadModel) decodeSnapshot(key, value []byte) (*decodedSnapshot, error) {
	var js snapshotJSON
	if isJSON(value) {
		if err := json.Unmarshal(value, &js); err != nil {
			return nil, fmt.Errorf("decoding snapshot of %s: %w", key, err)
		}
		if js.Format != snapshotFormatHistory && js.Format != snapshotFormatCompact {
			return nil, fmt.Errorf("decoding snapshot of %s: unknown format version %d (want %d or %d)", key, js.Format,
				snapshotFormatHistory, snapshotFormatCompact)
		}
	} else {
		st, err := saga.DecodeState(value)
		if err != nil {
			return nil, fmt.Errorf("decoding snapshot of %s: %w", key, err)
		}
		js = fromState(st)
	}
	id := string(key)
	if id == "" {
		id = js.SagaID
	}
	if id == "" {
		return nil, errors.New("decoding snapshot: no order ID in key or state")
	}
	var in struct {
		Total    int64  `json:"total"`  // an order's
		Refund   int64  `json:"refund"` // a return's
		Currency string `json:"currency"`
		Payment  struct {
			Token string `json:"token"`
		} `json:"payment"`
	}
	hasInput := len(js.Input) > 0 && json.Unmarshal(js.Input, &in) == nil
	if hasInput {
		// The payment token never reaches the free text the read model holds (see
		// privacy); the input itself is redacted when shown.
		scrubSnapshot(&js, in.Payment.Token)
	}
	s := snapState{
		version:    js.Version,
		sagaStatus: intern(string(js.Status)),
		definition: intern(js.Definition),
		created:    nanos(js.CreatedAt),
		updated:    nanos(js.UpdatedAt),
		reason:     intern(js.Reason),
		failedStep: intern(js.FailedStep),
		input:      js.Input,
	}
	if hasInput {
		s.total, s.currency = in.Total, intern(in.Currency)
		if in.Total == 0 {
			s.total = in.Refund
		}
	}
	s.milestones = intern(strings.Join(js.Milestones, milestoneSep))
	d := m.defs[js.Definition]
	names := make([]string, 0, len(js.Steps))
	for name := range js.Steps {
		names = append(names, name)
	}
	slices.Sort(names)
	s.steps = make([]stepRec, 0, len(names))
	for _, name := range names {
		st := js.Steps[name]
		if st == nil {
			st = &stepJSON{Status: saga.StepPending}
		}
		s.steps = append(s.steps, compactStep(id, name, st))
		if d != nil && slices.ContainsFunc(d.OnCompensated, func(x saga.Step) bool { return x.Name == name }) {
			continue
		}
		s.stepsTotal++
		if st.Status == saga.StepSucceeded || st.Outcome == saga.OutcomeSuccess {
			s.stepsDone++
		}
	}
	ds := &decodedSnapshot{id: id, state: s}
	if js.Format == snapshotFormatHistory && (len(js.History) > 0 || js.HistoryDropped > 0) {
		if err := checkEntries(js.History); err != nil {
			return nil, fmt.Errorf("decoding the history of %s: %w", id, err)
		}
		ds.history = m.syms.prepare(id, js.History)
		if ds.history == nil {
			ds.history = []preEntry{}
		}
		ds.historyDropped = js.HistoryDropped
	}
	return ds, nil
}

// fromState is a state decoded by the engine as the read model's snapshot fields (a binary
// snapshot has no history).
func fromState(st *saga.State) snapshotJSON {
	js := snapshotJSON{
		Format: snapshotFormatCompact, SagaID: st.SagaID, Definition: st.Definition, Status: st.Status, Input: st.Input,
		Steps: make(map[string]*stepJSON, len(st.Steps)), Milestones: st.Milestones, Reason: st.Reason,
		FailedStep: st.FailedStep, Version: st.Version, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt,
	}
	phase := func(p *saga.Phase) phaseJSON {
		return phaseJSON{Attempt: p.Attempt, CommandID: p.CommandID, Deadline: p.Deadline, RetryAt: p.RetryAt, Reason: p.Reason}
	}
	for name, ss := range st.Steps {
		if ss == nil {
			js.Steps[name] = nil
			continue
		}
		js.Steps[name] = &stepJSON{Status: ss.Status, Outcome: ss.Outcome, Result: ss.Result, Do: phase(&ss.Do), Undo: phase(&ss.Undo)}
	}
	return js
}

func compactStep(sagaID, name string, st *stepJSON) stepRec {
	r := stepRec{
		name:   intern(name),
		status: codeOf(stepStatuses, st.Status), outcome: codeOf(outcomes, st.Outcome),
		doAttempt: attempt16(st.Do.Attempt), undoAttempt: attempt16(st.Undo.Attempt),
	}
	x := stepExtra{
		doDeadline: nanos(st.Do.Deadline), doRetryAt: nanos(st.Do.RetryAt),
		undoDeadline: nanos(st.Undo.Deadline), undoRetryAt: nanos(st.Undo.RetryAt),
		doReason: st.Do.Reason, undoReason: st.Undo.Reason,
		result: st.Result,
	}
	if r.status == codeOther {
		x.status = st.Status
	}
	if r.outcome == codeOther {
		x.outcome = st.Outcome
	}
	if st.Do.CommandID != "" && (int(r.doAttempt) != st.Do.Attempt || st.Do.CommandID != saga.CommandID(sagaID, name, false, st.Do.Attempt)) {
		x.doCmd = st.Do.CommandID
	}
	if st.Undo.CommandID != "" && (int(r.undoAttempt) != st.Undo.Attempt || st.Undo.CommandID != saga.CommandID(sagaID, name, true, st.Undo.Attempt)) {
		x.undoCmd = st.Undo.CommandID
	}
	if x.doCmd != "" || x.undoCmd != "" || x.doDeadline != 0 || x.doRetryAt != 0 || x.undoDeadline != 0 ||
		x.undoRetryAt != 0 || x.doReason != "" || x.undoReason != "" || len(x.result) > 0 || x.status != "" || x.outcome != "" {
		r.x = &x
	}
	return r
}

// attempt16 is an attempt number as a stepRec holds it (clamped: the engine's are small).
func attempt16(n int) uint16 { return uint16(min(max(n, 0), math.MaxUint16)) }

// commandID is the latest command ID of a phase: stored, or derived from the attempt.
func commandID(sagaID, step string, undo bool, attempt uint16, stored string) string {
	if stored != "" || attempt == 0 {
		return stored
	}
	return saga.CommandID(sagaID, step, undo, int(attempt))
}

// sagaState rebuilds the saga.State the detail view and the DAG show (without what the
// read model does not keep).
func (s *snapState) sagaState(id string, status saga.Status, updated int64, version uint64) *saga.State {
	st := &saga.State{
		SagaID:     id,
		Definition: s.definition.String(),
		Status:     status,
		Input:      s.input,
		Steps:      make(map[string]*saga.StepState, len(s.steps)),
		Reason:     s.reason.String(),
		FailedStep: s.failedStep.String(),
		Version:    version,
		CreatedAt:  fromNanos(s.created),
		UpdatedAt:  fromNanos(updated),
	}
	if ms := s.milestones.String(); ms != "" {
		st.Milestones = strings.Split(ms, milestoneSep)
	}
	for i := range s.steps {
		r := &s.steps[i]
		name := r.name.String()
		ss := &saga.StepState{
			Status:  r.stepStatus(),
			Outcome: r.stepOutcome(),
			Do:      saga.Phase{Attempt: int(r.doAttempt)},
			Undo:    saga.Phase{Attempt: int(r.undoAttempt)},
		}
		var x stepExtra
		if r.x != nil {
			x = *r.x
		}
		ss.Result = x.result
		ss.Do.CommandID = commandID(id, name, false, r.doAttempt, x.doCmd)
		ss.Do.Deadline, ss.Do.RetryAt, ss.Do.Reason = fromNanos(x.doDeadline), fromNanos(x.doRetryAt), x.doReason
		ss.Undo.CommandID = commandID(id, name, true, r.undoAttempt, x.undoCmd)
		ss.Undo.Deadline, ss.Undo.RetryAt, ss.Undo.Reason = fromNanos(x.undoDeadline), fromNanos(x.undoRetryAt), x.undoReason
		st.Steps[name] = ss
	}
	return st
}
