package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ErrUnknownSaga is returned by Apply for a non-start input without a state.
var ErrUnknownSaga = errors.New("unknown saga")

// ErrOtherDefinition is returned by Apply for a state that another definition (or another
// version of this one) started: the caller must apply it with that one.
var ErrOtherDefinition = errors.New("state of another definition")

// Apply is the saga's transition function: it returns the state after in happened at now,
// and the commands and events that follow. It never mutates s. The returned state shares
// with s what the input did not change (see State): treat both as immutable, and change a
// copy made by Clone if you must. It returns an error only
// for inputs that cannot be applied at all: a non-start input without a state
// (ErrUnknownSaga), a state of another definition or format, a malformed input kind, or a
// start payload that is not JSON. Replies that do not match anything are recorded in the
// history, never an error.
func (d *Definition) Apply(s *State, in Input, now time.Time) (*State, Outputs, error) {
	now = now.UTC() // lossless JSON: no monotonic reading, no local zone
	e := &engine{d: d, ix: d.index(), now: now}
	if s == nil {
		if in.Kind != InputStart {
			return nil, Outputs{}, ErrUnknownSaga
		}
		if err := e.start(in); err != nil {
			return nil, Outputs{}, err
		}
		return e.s, e.finish(), nil
	}
	if err := e.check(s); err != nil {
		return nil, Outputs{}, err
	}
	e.s, e.prev = s.successor(), s
	switch in.Kind {
	case InputStart:
		e.record(HistoryDuplicateStart, "", 0, "", clean(in.SagaID))
	case InputReply:
		e.reply(in)
	case InputTimer:
		e.timers()
	case InputControl:
		switch in.Action {
		case ControlCancel:
			e.cancel(clean(in.Reason))
		case ControlRetry:
			e.retry(clean(in.Reason))
		default:
			return nil, Outputs{}, fmt.Errorf("applying control input: unknown action %q", in.Action)
		}
	default:
		return nil, Outputs{}, fmt.Errorf("applying input: unknown kind %q", in.Kind)
	}
	e.advance()
	return e.s, e.finish(), nil
}

// InFlight returns the commands s currently waits on (forward steps, compensations and
// OnCompensated steps), with the same ID, payload and deadline as when they were sent: the
// runtime re-sends them after restoring the state. Commands that cannot be rebuilt (a
// builder error, which a pure builder cannot produce for a payload it built before) are
// left out.
func (d *Definition) InFlight(s *State) []Command {
	if s == nil {
		return nil
	}
	e := &engine{d: d, ix: d.index(), s: s}
	var cmds []Command
	for _, name := range e.allSteps() {
		st := s.Steps[name]
		if st == nil {
			continue
		}
		switch {
		case st.Status == StepDispatched:
			if c, err := e.command(name, false, st.Do); err == nil {
				cmds = append(cmds, c)
			}
		case st.Status == StepCompensating && !st.Undo.Deadline.IsZero():
			if c, err := e.command(name, true, st.Undo); err == nil {
				cmds = append(cmds, c)
			}
		}
	}
	return cmds
}

// Waiting reports whether s waits on a command, that is whether InFlight(s) has one (or
// would, but for a command it cannot build), without building the commands: cheap enough
// to ask of every saga of a restored partition.
func (d *Definition) Waiting(s *State) bool {
	if s == nil {
		return false
	}
	for _, st := range s.Steps {
		if st != nil && (st.Status == StepDispatched || (st.Status == StepCompensating && !st.Undo.Deadline.IsZero())) {
			return true
		}
	}
	return false
}

// UnapplicablePrefix starts the Reason of a saga failed by Unapplicable.
const UnapplicablePrefix = "state cannot be applied: "

// Unapplicable fails a saga whose state Apply refused with err (a state of a definition
// version this process does not run, a state the definition does not match): rather than
// leaving it waiting for inputs that can never apply, the saga becomes StatusFailed with
// the reason, its awaited steps fail with an unknown outcome, its pending compensations
// fail, and no timer is left. An operator sees it (lifecycle event, timeline) and can act.
// A saga it already failed is returned unchanged (Outputs.Changed false).
func Unapplicable(s *State, err error, now time.Time) (*State, Outputs) {
	if s == nil || (s.Status == StatusFailed && strings.HasPrefix(s.Reason, UnapplicablePrefix)) {
		return s, Outputs{}
	}
	next := s.successor()
	reason := clean(UnapplicablePrefix + err.Error())
	e := &engine{s: next, prev: s, now: now}
	for _, name := range slices.Sorted(maps.Keys(next.Steps)) { // a deterministic history
		st := e.mut(name)
		if st == nil {
			continue
		}
		switch st.Status {
		case StepDispatched, StepRetryWait:
			st.Status, st.Outcome = StepFailed, OutcomeUnknown
			e.record(HistoryAbandoned, name, st.Do.Attempt, "", reason)
		case StepCompensating:
			st.Status = StepCompensationFailed
			e.record(HistoryCompensationFailed, name, st.Undo.Attempt, "", reason)
		}
		st.Do.Deadline, st.Do.RetryAt = time.Time{}, time.Time{}
		st.Undo.Deadline, st.Undo.RetryAt = time.Time{}, time.Time{}
	}
	next.Status, next.Reason = StatusFailed, reason
	e.record(HistorySagaFailed, "", 0, "", reason)
	e.emit(Event{Kind: EventFailed, Reason: reason})
	return next, e.finish()
}

// engine applies one input to a copy of the state (State.successor). Every write to a
// step's state goes through mut.
type engine struct {
	d       *Definition
	ix      *index
	s       *State
	prev    *State // the state s is a successor of; nil for a start
	now     time.Time
	out     Outputs
	changed bool

	// decoded, decodeErr: the result of d.DecodeInput, once decodedOK.
	decoded   any
	decodeErr error
	decodedOK bool
}

func (e *engine) check(s *State) error {
	if s.Format != FormatVersion {
		return fmt.Errorf("applying to saga %q: unknown state format %d", s.SagaID, s.Format)
	}
	if s.Definition != e.ix.id {
		return fmt.Errorf("applying to saga %q: state of definition %q, not %q: %w", s.SagaID, s.Definition, e.ix.id, ErrOtherDefinition)
	}
	for _, name := range e.allSteps() {
		if s.Steps[name] == nil {
			return fmt.Errorf("applying to saga %q: state lacks step %q", s.SagaID, name)
		}
	}
	return nil
}

// allSteps lists the main, then the on-compensated steps. Read-only.
func (e *engine) allSteps() []string { return e.ix.all }

// mut returns the state of step name for writing. The successor shares the steps' states
// with its predecessor until one is written: the first write copies it (a pointer read
// from e.s.Steps before a mut of the same step is stale after it). Nil for no such step.
func (e *engine) mut(name string) *StepState {
	st := e.s.Steps[name]
	if st == nil || e.prev == nil || e.prev.Steps[name] != st {
		return st
	}
	c := *st
	c.Do.Answered = slices.Clip(c.Do.Answered) // appending copies
	c.Undo.Answered = slices.Clip(c.Undo.Answered)
	e.s.Steps[name] = &c
	return &c
}

func (e *engine) finish() Outputs {
	if e.changed {
		e.s.Version++
		e.s.UpdatedAt = e.now
	}
	e.out.Changed = e.changed
	return e.out
}

func (e *engine) record(kind, step string, attempt int, commandID, detail string) {
	if e.out.History == nil {
		e.out.History = make([]HistoryEntry, 0, 4) // what most inputs make, in one allocation
	}
	e.out.History = append(e.out.History, HistoryEntry{
		Time: e.now, Kind: kind, Step: step, Attempt: attempt, CommandID: commandID, Detail: detail,
	})
	e.changed = true
}

func (e *engine) emit(ev Event) { e.out.Events = append(e.out.Events, ev) }

// clean keeps strings stored in the state valid UTF-8, so JSON round trips are lossless.
func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func (e *engine) start(in Input) error {
	if in.SagaID == "" {
		return errors.New("starting saga: empty saga ID")
	}
	payload, ok := canonicalJSON(in.Payload)
	if !ok {
		return fmt.Errorf("starting saga %q: payload is not JSON", in.SagaID)
	}
	e.s = &State{
		Format:      FormatVersion,
		SagaID:      clean(in.SagaID),
		Definition:  e.ix.id,
		Status:      StatusRunning,
		Input:       payload,
		Seed:        in.Seed,
		TraceParent: clean(in.TraceParent),
		Steps:       make(map[string]*StepState, len(e.ix.steps)),
		CreatedAt:   e.now,
	}
	steps := make([]StepState, len(e.ix.all)) // one allocation for every step
	for i, name := range e.ix.all {
		steps[i].Status = StepPending
		e.s.Steps[name] = &steps[i]
	}
	e.record(HistoryStarted, "", 0, "", "")
	if in.Action == ControlCancel {
		e.cancelBeforeStart(clean(in.Reason))
		return nil
	}
	e.advance()
	return nil
}

// cancelBeforeStart ends a saga that was just created, before any step ran: every step
// is skipped and the saga is compensated, without a command.
func (e *engine) cancelBeforeStart(reason string) {
	if reason == "" {
		reason = "cancelled"
	}
	e.record(HistoryCancel, "", 0, "", reason)
	e.beginCompensation(reason, "")
	for _, name := range e.ix.onComp {
		e.mut(name).Status = StepSkipped
		e.record(HistorySkipped, name, 0, "", "")
	}
	e.s.Status = StatusCompensated
	e.record(HistoryCompensated, "", 0, "", reason)
	e.emit(Event{Kind: EventCompensated, Reason: reason})
}

// action returns the forward or compensation action of a step (nil if it has none).
func (e *engine) action(name string, undo bool) *Action {
	step := e.ix.steps[name]
	if undo {
		return step.Undo
	}
	return &step.Do
}

// buildContext is what the builder of a step's command sees. It depends only on data that
// no longer changes once the command is sent, so InFlight rebuilds identical payloads.
func (e *engine) buildContext(name string, undo bool) BuildContext {
	bc := BuildContext{SagaID: e.s.SagaID, Input: e.s.Input}
	results := e.ix.ancestors[name] // forward step: its dependencies, settled before dispatch
	if undo || e.ix.isOnComp[name] {
		results = e.ix.main // compensating: no forward step changes any more
		bc.Reason = e.s.Reason
	}
	n := 0
	for _, dep := range results {
		if st := e.s.Steps[dep]; st != nil && st.Outcome == OutcomeSuccess && st.Result != nil {
			n++
		}
	}
	bc.Results = make(map[string]json.RawMessage, n)
	for _, dep := range results {
		if st := e.s.Steps[dep]; st != nil && st.Outcome == OutcomeSuccess && st.Result != nil {
			bc.Results[dep] = st.Result
		}
	}
	return bc
}

// decode is d.DecodeInput of the state's input, computed once per engine.
func (e *engine) decode() (any, error) {
	if !e.decodedOK {
		e.decoded, e.decodeErr = e.d.DecodeInput(e.s.SagaID, e.s.Input)
		e.decodedOK = true
	}
	return e.decoded, e.decodeErr
}

// command builds the command of phase p's latest attempt.
func (e *engine) command(name string, undo bool, p Phase) (Command, error) {
	a := e.action(name, undo)
	if a == nil || a.Build == nil {
		return Command{}, fmt.Errorf("building %s command of step %q: no builder", phaseName(undo), name)
	}
	bc := e.buildContext(name, undo)
	if e.d.DecodeInput != nil {
		v, err := e.decode()
		if err != nil {
			return Command{}, fmt.Errorf("building %s command of step %q: %w", phaseName(undo), name, err)
		}
		bc.Decoded = v
	}
	payload, err := a.Build(bc)
	if err != nil {
		return Command{}, fmt.Errorf("building %s command of step %q: %w", phaseName(undo), name, err)
	}
	return Command{
		ID:             p.CommandID,
		SagaID:         e.s.SagaID,
		Step:           name,
		Worker:         a.Worker,
		Type:           a.Type,
		Attempt:        p.Attempt,
		IdempotencyKey: IdempotencyKey(e.s.SagaID, name, undo),
		Compensation:   undo,
		Payload:        payload,
		Deadline:       p.Deadline,
	}, nil
}

// phase returns the bookkeeping of a step's forward action or compensation.
func phase(st *StepState, undo bool) *Phase {
	if undo {
		return &st.Undo
	}
	return &st.Do
}

// dispatch sends the next attempt of a step's action. On a builder error nothing is sent
// and the phase is left unchanged.
func (e *engine) dispatch(name string, undo bool) error {
	next := *phase(e.s.Steps[name], undo)
	next.Attempt++
	next.CommandID = CommandID(e.s.SagaID, name, undo, next.Attempt)
	next.RetryAt = time.Time{}
	if a := e.action(name, undo); a != nil {
		next.Deadline = e.now.Add(a.Timeout)
	}
	cmd, err := e.command(name, undo, next)
	if err != nil {
		return err
	}
	p := phase(e.mut(name), undo)
	p.Attempt, p.CommandID, p.Deadline, p.RetryAt = next.Attempt, next.CommandID, next.Deadline, next.RetryAt
	if e.out.Commands == nil {
		e.out.Commands = make([]Command, 0, 2) // steps tend to start in pairs
	}
	e.out.Commands = append(e.out.Commands, cmd)
	kind := HistoryDispatched
	if undo {
		kind = HistoryCompensationSent
	}
	e.record(kind, name, next.Attempt, next.CommandID, cmd.Type)
	return nil
}

// startDo dispatches a step's forward action (first attempt or a retry).
func (e *engine) startDo(name string) {
	err := e.dispatch(name, false)
	st := e.mut(name)
	if err != nil {
		st.Do.RetryAt = time.Time{}
		e.record(HistoryBuildFailed, name, st.Do.Attempt+1, "", clean(err.Error()))
		// Nothing was sent for this attempt; earlier attempts (if any) may have happened.
		outcome := OutcomeFailure
		if st.Do.Attempt > 0 {
			outcome = OutcomeUnknown
		}
		e.failStep(name, "build_failed", outcome, st.Do.Attempt, "")
		return
	}
	st.Status = StepDispatched
}

// startUndo dispatches a step's compensation (first attempt or a retry).
func (e *engine) startUndo(name string) {
	err := e.dispatch(name, true)
	st := e.mut(name)
	if err != nil {
		st.Undo.RetryAt = time.Time{}
		e.record(HistoryBuildFailed, name, st.Undo.Attempt+1, "", clean(err.Error()))
		e.undoFailed(name, "build_failed", st.Undo.Attempt, "")
		return
	}
	st.Status = StepCompensating
}

// retriesAllowed: forward steps are retried while running; once compensating, in-flight
// steps only get awaited. OnCompensated steps are always retried.
func (e *engine) retriesAllowed(name string) bool {
	return e.s.Status == StatusRunning || e.ix.isOnComp[name]
}

func (e *engine) attemptsLeft(name string, undo bool) bool {
	p := phase(e.s.Steps[name], undo)
	a := e.action(name, undo)
	if a == nil {
		return false
	}
	return p.Attempt-p.Base < a.Retry.WithDefaults().MaxAttempts
}

// retryOrFail handles a retryable error or a timeout of the latest attempt.
func (e *engine) retryOrFail(name string, undo bool, reason string) {
	st := e.mut(name)
	p := phase(st, undo)
	p.Deadline = time.Time{}
	p.Reason = reason
	canRetry := undo || e.retriesAllowed(name)
	if canRetry && e.attemptsLeft(name, undo) {
		a := e.action(name, undo)
		wait := a.Retry.Backoff(p.Attempt-p.Base, e.s.Seed, name+"/"+phaseName(undo))
		p.RetryAt = e.now.Add(wait)
		if !undo {
			st.Status = StepRetryWait
		}
		e.record(HistoryRetryScheduled, name, p.Attempt+1, "", p.RetryAt.Format(time.RFC3339Nano))
		return
	}
	if undo {
		e.undoFailed(name, reason, p.Attempt, "")
		return
	}
	e.failStep(name, reason, OutcomeUnknown, p.Attempt, "")
}

// failStep settles a forward step as failed and cancels the saga if it was required.
func (e *engine) failStep(name, reason string, outcome Outcome, attempt int, cmdID string) {
	st := e.mut(name)
	st.Status = StepFailed
	st.Outcome = outcome
	st.Do.Reason = reason
	st.Do.Deadline, st.Do.RetryAt = time.Time{}, time.Time{}
	e.record(HistoryFailed, name, attempt, cmdID, reason+" (outcome "+string(outcome)+")")
	if e.s.Status == StatusRunning && !e.ix.steps[name].Optional && !e.ix.isOnComp[name] {
		e.beginCompensation(reason, name)
	}
}

func (e *engine) undoFailed(name, reason string, attempt int, cmdID string) {
	st := e.mut(name)
	st.Status = StepCompensationFailed
	st.Undo.Reason = reason
	st.Undo.Deadline, st.Undo.RetryAt = time.Time{}, time.Time{}
	e.record(HistoryCompensationFailed, name, attempt, cmdID, reason)
}

// beginCompensation stops the forward path: pending steps are skipped, waiting retries
// are abandoned (outcome unknown); dispatched steps are awaited.
func (e *engine) beginCompensation(reason, failedStep string) {
	e.s.Status = StatusCompensating
	e.s.Reason = reason
	e.s.FailedStep = failedStep
	e.record(HistoryCompensating, failedStep, 0, "", reason)
	for _, name := range e.ix.main {
		switch e.s.Steps[name].Status {
		case StepPending:
			e.mut(name).Status = StepSkipped
			e.record(HistorySkipped, name, 0, "", "")
		case StepRetryWait:
			st := e.mut(name)
			st.Status = StepFailed
			st.Outcome = OutcomeUnknown
			st.Do.RetryAt = time.Time{}
			e.record(HistoryAbandoned, name, st.Do.Attempt, "", st.Do.Reason)
		}
	}
}

// reply correlates and applies a worker's reply.
func (e *engine) reply(in Input) {
	cmdID, stepName, reason := clean(in.CommandID), clean(in.Step), clean(in.Reason)
	ignore := func(why string) {
		e.out.Ignored = why
		e.record(HistoryIgnored, stepName, 0, cmdID, why+": "+clean(in.Outcome))
	}
	st := e.s.Steps[stepName]
	if st == nil || e.ix.steps[stepName] == nil {
		ignore("unknown")
		return
	}
	undo, attempt, ok := e.issued(stepName, st, cmdID)
	if !ok {
		ignore("unknown")
		return
	}
	p := phase(st, undo)
	awaiting := st.Status == StepDispatched || st.Status == StepRetryWait
	if undo {
		awaiting = st.Status == StepCompensating
	}
	switch {
	case slices.Contains(p.Answered, cmdID):
		ignore("duplicate")
		return
	case !awaiting:
		ignore("late")
		return
	case in.Outcome == ReplyError && (cmdID != p.CommandID || p.Deadline.IsZero()):
		// An error for a superseded attempt: the step is already being retried.
		ignore("late")
		return
	case in.Outcome != ReplySuccess && in.Outcome != ReplyFailure && in.Outcome != ReplyError:
		ignore("invalid outcome")
		return
	}
	st = e.mut(stepName)
	p = phase(st, undo)
	p.Answered = append(p.Answered, cmdID)
	if action := e.action(stepName, undo); action != nil && !p.Deadline.IsZero() {
		e.out.Settled = &Settlement{Step: stepName, Compensation: undo, Attempt: attempt,
			Outcome: in.Outcome, DispatchedAt: p.Deadline.Add(-action.Timeout)}
	}
	switch in.Outcome {
	case ReplySuccess:
		p.Deadline, p.RetryAt = time.Time{}, time.Time{}
		if undo {
			st.Status = StepCompensated
			e.record(HistoryCompensated, stepName, attempt, cmdID, "")
			return
		}
		st.Status = StepSucceeded
		st.Outcome = OutcomeSuccess
		if result, ok := canonicalJSON(in.Result); ok {
			st.Result = result
		}
		e.record(HistorySucceeded, stepName, attempt, cmdID, "")
	case ReplyFailure:
		if reason == "" {
			reason = "failure"
		}
		if undo {
			e.undoFailed(stepName, reason, attempt, cmdID)
			return
		}
		e.failStep(stepName, reason, OutcomeFailure, attempt, cmdID)
	case ReplyError:
		e.record(HistoryError, stepName, attempt, cmdID, reason)
		if reason == "" {
			reason = "error"
		}
		e.retryOrFail(stepName, undo, reason)
	}
}

// issued finds which phase and attempt of a step issued cmdID.
func (e *engine) issued(name string, st *StepState, cmdID string) (undo bool, attempt int, ok bool) {
	for _, undo := range []bool{false, true} {
		p := phase(st, undo)
		for a := p.Attempt; a >= 1; a-- {
			if id := commandID(e.s.SagaID, name, undo, a); string(id[:]) == cmdID {
				return undo, a, true
			}
		}
	}
	return false, 0, false
}

// timers fires every deadline and retry time due at now.
func (e *engine) timers() {
	for _, name := range e.allSteps() {
		st := e.s.Steps[name]
		due := func(t time.Time) bool { return !t.IsZero() && !t.After(e.now) }
		switch st.Status {
		case StepDispatched:
			if due(st.Do.Deadline) {
				e.record(HistoryTimeout, name, st.Do.Attempt, st.Do.CommandID, "")
				e.retryOrFail(name, false, "timeout")
			}
		case StepRetryWait:
			if due(st.Do.RetryAt) {
				e.startDo(name)
			}
		case StepCompensating:
			switch {
			case due(st.Undo.Deadline):
				e.record(HistoryTimeout, name, st.Undo.Attempt, st.Undo.CommandID, "undo")
				e.retryOrFail(name, true, "timeout")
			case due(st.Undo.RetryAt):
				e.startUndo(name)
			}
		}
	}
}

func (e *engine) cancel(reason string) {
	if reason == "" {
		reason = "cancelled"
	}
	e.record(HistoryCancel, "", 0, "", reason)
	if why := Refusal(e.s, ControlCancel); why != "" {
		e.reject(ControlCancel, why)
		return
	}
	e.beginCompensation(reason, "")
}

func (e *engine) retry(reason string) {
	e.record(HistoryRetry, "", 0, "", reason)
	if why := Refusal(e.s, ControlRetry); why != "" {
		e.reject(ControlRetry, why)
		return
	}
	e.s.Status = StatusCompensating
	for _, name := range e.ix.main {
		if e.s.Steps[name].Status == StepCompensationFailed {
			st := e.mut(name)
			st.Undo.Base = st.Undo.Attempt // a fresh attempt budget
			e.startUndo(name)
		}
	}
}

// Refusal is why Apply rejects the control action (ControlCancel, ControlRetry) on s, or ""
// when it applies it: only a running saga can be cancelled, only a failed one retried.
// Readers that show what an operator may do (the API) ask the engine through it.
func Refusal(s *State, action string) string {
	switch {
	case s == nil:
		return "unknown saga"
	case action == ControlCancel && s.Status != StatusRunning:
		return "saga is " + string(s.Status)
	case action == ControlRetry && s.Status != StatusFailed:
		return "saga is " + string(s.Status)
	case action != ControlCancel && action != ControlRetry:
		return "unknown action " + action
	}
	return ""
}

// UndoNotNeeded is UndoState's answer for a step that a compensating saga leaves alone.
const UndoNotNeeded = "not_needed"

// UndoState is how a step of s stands with respect to compensation, for display: its
// compensation's status once that started (compensating, compensated,
// compensation_failed); UndoNotNeeded when the saga compensates, compensated or failed and
// the step needs nothing undone (it was skipped, or failed with a business failure); ""
// otherwise (no compensation in sight).
func UndoState(s *State, step string) string {
	if s == nil {
		return ""
	}
	st := s.Steps[step]
	if st == nil {
		return ""
	}
	switch st.Status {
	case StepCompensating, StepCompensated, StepCompensationFailed:
		return string(st.Status)
	}
	if s.Status == StatusCompensating || s.Status == StatusCompensated || s.Status == StatusFailed {
		if st.Status == StepSkipped || (st.Status == StepFailed && st.Outcome == OutcomeFailure) {
			return UndoNotNeeded
		}
	}
	return ""
}

func (e *engine) reject(action, why string) {
	e.record(HistoryRejected, "", 0, "", action+": "+why)
	e.emit(Event{Kind: EventRejected, Name: action, Reason: why})
}

// advance makes every transition that follows from the current state.
func (e *engine) advance() {
	if e.s.Status == StatusRunning {
		e.progressRunning()
	}
	if e.s.Status == StatusCompensating {
		e.progressCompensation()
	}
}

// depsMet: every dependency succeeded, or failed while optional.
func (e *engine) depsMet(name string) bool {
	for _, dep := range e.ix.steps[name].After {
		st := e.s.Steps[dep]
		if st == nil {
			return false
		}
		if st.Status != StepSucceeded && (st.Status != StepFailed || !e.ix.steps[dep].Optional) {
			return false
		}
	}
	return true
}

func (e *engine) progressRunning() {
	for progressed := true; progressed && e.s.Status == StatusRunning; {
		progressed = false
		for _, name := range e.ix.main {
			if e.s.Status != StatusRunning {
				return
			}
			if e.s.Steps[name].Status == StepPending && e.depsMet(name) {
				e.startDo(name)
				progressed = true
			}
		}
	}
	for _, m := range e.d.Milestones {
		if slices.Contains(e.s.Milestones, m.Name) || len(m.After) == 0 {
			continue
		}
		reached := true
		for _, dep := range m.After {
			if st := e.s.Steps[dep]; st == nil || st.Status != StepSucceeded {
				reached = false
				break
			}
		}
		if reached {
			e.s.Milestones = append(e.s.Milestones, m.Name)
			e.record(HistoryMilestone, "", 0, "", m.Name)
			e.emit(Event{Kind: EventMilestone, Name: m.Name})
		}
	}
	for _, name := range e.ix.main {
		st := e.s.Steps[name]
		if st.Status != StepSucceeded && (st.Status != StepFailed || !e.ix.steps[name].Optional) {
			return
		}
	}
	e.s.Status = StatusCompleted
	for _, name := range e.ix.onComp {
		e.mut(name).Status = StepSkipped
	}
	e.record(HistoryCompleted, "", 0, "", "")
	e.emit(Event{Kind: EventCompleted})
}

// NeedsCompensation reports whether a step's forward action must be compensated once the
// saga compensates: it has an Undo and was dispatched at least once, and was not answered
// with a business failure (unknown outcomes are compensated).
func (d *Definition) NeedsCompensation(s *State, step string) bool {
	return needsUndo(d.index(), s, step)
}

func needsUndo(ix *index, s *State, name string) bool {
	step, st := ix.steps[name], s.Steps[name]
	return step != nil && st != nil && !ix.isOnComp[name] && step.Undo != nil &&
		st.Do.Attempt > 0 && st.Outcome != OutcomeFailure
}

func (e *engine) progressCompensation() {
	for _, name := range e.ix.main {
		if e.s.Steps[name].Status == StepDispatched {
			return // await every step in flight before compensating
		}
	}
	for i := len(e.ix.main) - 1; i >= 0; i-- {
		name := e.ix.main[i]
		st := e.s.Steps[name]
		if !needsUndo(e.ix, e.s, name) || (st.Status != StepSucceeded && st.Status != StepFailed) {
			continue
		}
		ready := true
		for _, dep := range e.ix.dependents[name] {
			if needsUndo(e.ix, e.s, dep) && e.s.Steps[dep].Status != StepCompensated {
				ready = false
				break
			}
		}
		if ready {
			e.startUndo(name)
		}
	}
	done, busy := true, false
	firstFailed := ""
	for _, name := range e.ix.main {
		if !needsUndo(e.ix, e.s, name) {
			continue
		}
		switch e.s.Steps[name].Status {
		case StepCompensated:
			continue
		case StepCompensating:
			busy = true
		case StepCompensationFailed:
			if firstFailed == "" {
				firstFailed = name
			}
		}
		done = false
	}
	switch {
	case done:
		e.s.Status = StatusCompensated
		e.record(HistoryCompensated, "", 0, "", e.s.Reason)
		e.emit(Event{Kind: EventCompensated, Reason: e.s.Reason, Step: e.s.FailedStep})
		for _, name := range e.ix.onComp {
			e.startDo(name)
		}
	case !busy && firstFailed != "":
		e.s.Status = StatusFailed
		reason := e.s.Steps[firstFailed].Undo.Reason
		e.record(HistorySagaFailed, firstFailed, 0, "", reason)
		e.emit(Event{Kind: EventFailed, Reason: reason, Step: firstFailed})
	}
}
