package saga

import (
	"errors"
	"fmt"
	"slices"
)

// CheckState verifies the internal invariants of a state of this definition and reports
// every violation at once (errors.Join). States produced by Apply always pass; the runtime
// can use it to vet a restored snapshot, tests and fuzzers to vet the engine.
func (d *Definition) CheckState(s *State) error {
	if s == nil {
		return errors.New("checking saga state: nil state")
	}
	ix := d.index()
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("saga %q: "+format, append([]any{s.SagaID}, args...)...))
	}
	if s.Format != FormatVersion {
		add("format %d, want %d", s.Format, FormatVersion)
	}
	if s.Definition != d.ID() {
		add("definition %q, want %q", s.Definition, d.ID())
	}
	if s.SagaID == "" {
		add("empty saga ID")
	}
	for name := range s.Steps {
		if ix.steps[name] == nil {
			add("unknown step %q in state", name)
		}
	}
	for _, m := range s.Milestones {
		if !slices.ContainsFunc(d.Milestones, func(dm Milestone) bool { return dm.Name == m }) {
			add("unknown milestone %q reached", m)
		}
	}
	if len(s.Milestones) != len(uniq(s.Milestones)) {
		add("milestone reached twice: %v", s.Milestones)
	}
	all := append(slices.Clone(ix.main), ix.onComp...)
	for _, name := range all {
		st := s.Steps[name]
		if st == nil {
			add("step %q missing", name)
			continue
		}
		errs = append(errs, checkStep(ix, s, name, st)...)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	count := func(pred func(name string, st *StepState) bool, names []string) int {
		n := 0
		for _, name := range names {
			if pred(name, s.Steps[name]) {
				n++
			}
		}
		return n
	}
	is := func(statuses ...StepStatus) func(string, *StepState) bool {
		return func(_ string, st *StepState) bool { return slices.Contains(statuses, st.Status) }
	}
	settled := func(name string, st *StepState) bool {
		return st.Status == StepSucceeded || (st.Status == StepFailed && ix.steps[name].Optional)
	}
	undoStatuses := is(StepCompensating, StepCompensated, StepCompensationFailed)

	switch s.Status {
	case StatusRunning:
		if n := count(is(StepSkipped), ix.main) + count(undoStatuses, ix.main); n > 0 {
			add("running with %d skipped or compensation steps", n)
		}
		if n := count(func(_ string, st *StepState) bool { return st.Status != StepPending }, ix.onComp); n > 0 {
			add("running with %d on-compensated steps started", n)
		}
		if count(settled, ix.main) == len(ix.main) {
			add("running with every step settled")
		}
		for _, name := range ix.main {
			st := s.Steps[name]
			if st.Status == StepFailed && !ix.steps[name].Optional {
				add("running with required step %q failed", name)
			}
			if st.Status != StepPending && !depsMetIn(ix, s, name) {
				add("step %q started before its dependencies", name)
			}
		}
		if s.Reason != "" || s.FailedStep != "" {
			add("running with a compensation reason")
		}
	case StatusCompleted:
		if count(settled, ix.main) != len(ix.main) {
			add("completed with unsettled steps")
		}
		if n := count(is(StepSkipped), ix.onComp); n != len(ix.onComp) {
			add("completed with %d of %d on-compensated steps skipped", n, len(ix.onComp))
		}
	case StatusCompensating, StatusCompensated, StatusFailed:
		if n := count(is(StepPending, StepRetryWait), ix.main); n > 0 {
			add("%s with %d pending or retrying steps", s.Status, n)
		}
		if s.FailedStep != "" {
			if st := s.Steps[s.FailedStep]; st == nil || st.Status == StepPending || st.Status == StepSkipped || ix.steps[s.FailedStep].Optional {
				add("failed step %q is not a started required step", s.FailedStep)
			}
		}
		inFlight := count(is(StepDispatched), ix.main)
		for _, name := range ix.main {
			st := s.Steps[name]
			need := needsUndo(ix, s, name)
			if undoStatuses(name, st) && !need {
				add("step %q compensating without needing it", name)
			}
			if undoStatuses(name, st) && inFlight > 0 {
				add("step %q compensating while %d steps are in flight", name, inFlight)
			}
			if undoStatuses(name, st) {
				for _, dep := range ix.dependents[name] {
					if needsUndo(ix, s, dep) && s.Steps[dep].Status != StepCompensated {
						add("step %q compensated before its dependent %q", name, dep)
					}
				}
			}
			switch s.Status {
			case StatusCompensated:
				if need && st.Status != StepCompensated {
					add("compensated but step %q is %s", name, st.Status)
				}
			case StatusFailed:
				if st.Status == StepDispatched || st.Status == StepCompensating {
					add("failed with step %q %s", name, st.Status)
				}
			}
		}
		if s.Status == StatusFailed && count(is(StepCompensationFailed), ix.main) == 0 {
			add("failed without a failed compensation")
		}
		if s.Status != StatusCompensated {
			if n := count(func(_ string, st *StepState) bool { return st.Status != StepPending }, ix.onComp); n > 0 {
				add("%s with %d on-compensated steps started", s.Status, n)
			}
		} else if n := count(is(StepPending, StepSkipped), ix.onComp); n > 0 {
			add("compensated with %d on-compensated steps not started", n)
		}
	default:
		add("unknown status %q", s.Status)
	}
	return errors.Join(errs...)
}

func checkStep(ix *index, s *State, name string, st *StepState) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("saga %q step %q: "+format, append([]any{s.SagaID, name}, args...)...))
	}
	step := ix.steps[name]
	checkPhase := func(undo bool, p Phase, awaiting, waiting bool) {
		a := step.Do
		if undo {
			if step.Undo == nil {
				if p.Attempt != 0 {
					add("undo attempts without an undo action")
				}
				return
			}
			a = *step.Undo
		}
		which := phaseName(undo)
		if p.Attempt < 0 || p.Base < 0 || p.Base > p.Attempt {
			add("%s attempt %d, base %d", which, p.Attempt, p.Base)
		}
		if n := p.Attempt - p.Base; n > a.Retry.WithDefaults().MaxAttempts {
			add("%s used %d attempts, max %d", which, n, a.Retry.WithDefaults().MaxAttempts)
		}
		if p.Attempt > 0 && p.CommandID != CommandID(s.SagaID, name, undo, p.Attempt) {
			add("%s command ID %q is not attempt %d's", which, p.CommandID, p.Attempt)
		}
		if p.Attempt == 0 && (p.CommandID != "" || len(p.Answered) > 0) {
			add("%s has a command ID or answers before any attempt", which)
		}
		if len(p.Answered) != len(uniq(p.Answered)) {
			add("%s answered twice: %v", which, p.Answered)
		}
		if awaiting && !waiting && (p.Deadline.IsZero() || !p.RetryAt.IsZero()) {
			add("%s in flight needs a deadline and no retry time", which)
		}
		if awaiting && waiting && (!p.Deadline.IsZero() || p.RetryAt.IsZero()) {
			add("%s waiting needs a retry time and no deadline", which)
		}
		if !awaiting && (!p.Deadline.IsZero() || !p.RetryAt.IsZero()) {
			add("%s has a timer while not awaiting", which)
		}
		if awaiting && p.Attempt == 0 {
			add("%s awaiting without an attempt", which)
		}
	}
	switch st.Status {
	case StepPending, StepSkipped:
		if st.Do.Attempt != 0 || st.Outcome != OutcomeNone {
			add("%s with attempts or an outcome", st.Status)
		}
	case StepDispatched, StepRetryWait:
		if st.Outcome != OutcomeNone {
			add("%s with outcome %q", st.Status, st.Outcome)
		}
	case StepSucceeded:
		if st.Outcome != OutcomeSuccess {
			add("succeeded with outcome %q", st.Outcome)
		}
	case StepFailed:
		if st.Outcome != OutcomeFailure && st.Outcome != OutcomeUnknown {
			add("failed with outcome %q", st.Outcome)
		}
	case StepCompensating, StepCompensated, StepCompensationFailed:
		// A compensation whose builder failed has no attempt.
		if ix.isOnComp[name] || (st.Undo.Attempt == 0 && st.Status != StepCompensationFailed) {
			add("%s without a compensation attempt", st.Status)
		}
	default:
		add("unknown status %q", st.Status)
	}
	if st.Status != StepCompensating && st.Status != StepCompensated && st.Status != StepCompensationFailed && st.Undo.Attempt != 0 {
		add("%s with compensation attempts", st.Status)
	}
	if st.Result != nil && st.Outcome != OutcomeSuccess {
		add("result without success")
	}
	checkPhase(false, st.Do, st.Status == StepDispatched || st.Status == StepRetryWait, st.Status == StepRetryWait)
	undoAwaiting := st.Status == StepCompensating
	checkPhase(true, st.Undo, undoAwaiting, undoAwaiting && st.Undo.Deadline.IsZero())
	return errs
}

func depsMetIn(ix *index, s *State, name string) bool {
	for _, dep := range ix.steps[name].After {
		st := s.Steps[dep]
		if st == nil || (st.Status != StepSucceeded && (st.Status != StepFailed || !ix.steps[dep].Optional)) {
			return false
		}
	}
	return true
}

func uniq(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
