package saga

import (
	"strings"
	"testing"
	"time"
)

// CheckState finds every kind of corruption a buggy engine or a tampered snapshot could
// produce.
func TestCheckStateFindsViolations(t *testing.T) {
	// base: a running saga with a and b succeeded, c and e dispatched.
	base := func(t *testing.T) *run {
		r := newRun(t, testDefinition())
		r.start(`{}`)
		r.ok("a")
		r.ok("b")
		return r
	}
	compensating := func(t *testing.T) *run {
		r := base(t)
		r.ok("e")
		r.fail("c", "x")
		return r
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T) *run
		corrupt func(s *State)
		want    string
	}{
		{"format", base, func(s *State) { s.Format = 1 }, "format 1"},
		{"definition", base, func(s *State) { s.Definition = "x" }, `definition "x"`},
		{"saga ID", base, func(s *State) { s.SagaID = "" }, "empty saga ID"},
		{"unknown step", base, func(s *State) { s.Steps["zz"] = &StepState{Status: StepPending} }, `unknown step "zz"`},
		{"missing step", base, func(s *State) { delete(s.Steps, "d") }, `step "d" missing`},
		{"unknown milestone", base, func(s *State) { s.Milestones = []string{"zz"} }, `unknown milestone "zz"`},
		{"milestone twice", base, func(s *State) { s.Milestones = []string{"ab", "ab"} }, "milestone reached twice"},
		{"unknown step status", base, func(s *State) { s.Steps["d"].Status = "weird" }, `unknown status "weird"`},
		{"unknown saga status", base, func(s *State) { s.Status = "weird" }, `unknown status "weird"`},
		{"pending with attempts", base, func(s *State) { s.Steps["d"].Do.Attempt = 1 }, "pending with attempts"},
		{"dispatched with outcome", base, func(s *State) { s.Steps["c"].Outcome = OutcomeSuccess }, "dispatched with outcome"},
		{"succeeded without success", base, func(s *State) { s.Steps["a"].Outcome = OutcomeUnknown }, "succeeded with outcome"},
		{"failed without outcome", base, func(s *State) { s.Steps["a"].Status = StepFailed; s.Steps["a"].Outcome = "" }, "failed with outcome"},
		{"result without success", base, func(s *State) { s.Steps["c"].Result = []byte(`{}`) }, "result without success"},
		{"undo attempts while forward", base, func(s *State) { s.Steps["a"].Undo.Attempt = 1 }, "succeeded with compensation attempts"},
		{"undo attempts without undo", base, func(s *State) { s.Steps["d"].Undo.Attempt = 1 }, "undo attempts without an undo action"},
		{"base above attempt", base, func(s *State) { s.Steps["c"].Do.Base = 5 }, "do attempt 1, base 5"},
		{"too many attempts", base, func(s *State) {
			s.Steps["c"].Do.Attempt = 9
			s.Steps["c"].Do.CommandID = CommandID(s.SagaID, "c", false, 9)
		}, "do used 9 attempts, max 3"},
		{"wrong command ID", base, func(s *State) { s.Steps["c"].Do.CommandID = "x" }, `do command ID "x" is not attempt 1's`},
		{"command ID before attempts", base, func(s *State) { s.Steps["d"].Do.CommandID = "x" }, "before any attempt"},
		{"answered twice", base, func(s *State) {
			s.Steps["a"].Do.Answered = append(s.Steps["a"].Do.Answered, s.Steps["a"].Do.Answered...)
		}, "answered twice"},
		{"dispatched without deadline", base, func(s *State) { s.Steps["c"].Do.Deadline = time.Time{} }, "in flight needs a deadline"},
		{"waiting without retry time", base, func(s *State) { s.Steps["c"].Status = StepRetryWait }, "waiting needs a retry time"},
		{"timer while settled", base, func(s *State) { s.Steps["a"].Do.RetryAt = t0 }, "has a timer while not awaiting"},
		{"awaiting without attempt", base, func(s *State) {
			s.Steps["d"].Status = StepDispatched
			s.Steps["d"].Do.Deadline = t0
		}, "awaiting without an attempt"},
		{"running with skipped", base, func(s *State) { s.Steps["d"].Status = StepSkipped }, "running with 1 skipped"},
		{"running with notify started", base, func(s *State) { s.Steps["notify"].Status = StepSkipped }, "on-compensated steps started"},
		{"running all settled", base, func(s *State) {
			for _, n := range []string{"c", "d", "e"} {
				s.Steps[n] = &StepState{Status: StepSucceeded, Outcome: OutcomeSuccess, Do: Phase{Attempt: 1, CommandID: CommandID(s.SagaID, n, false, 1)}}
			}
		}, "running with every step settled"},
		{"running with required failed", base, func(s *State) {
			s.Steps["a"].Status = StepFailed
			s.Steps["a"].Outcome = OutcomeFailure
			s.Steps["a"].Result = nil
		}, `running with required step "a" failed`},
		{"started before deps", base, func(s *State) {
			s.Steps["b"] = &StepState{Status: StepPending}
		}, `step "c" started before its dependencies`},
		{"running with reason", base, func(s *State) { s.Reason = "x" }, "running with a compensation reason"},
		{"completed too early", base, func(s *State) { s.Status = StatusCompleted }, "completed with unsettled steps"},
		{"compensating with pending", compensating, func(s *State) {
			s.Steps["d"].Status = StepPending
		}, "with 1 pending or retrying"},
		{"failed step optional", compensating, func(s *State) { s.FailedStep = "d" }, `failed step "d"`},
		{"compensating without need", compensating, func(s *State) {
			s.Steps["c"].Status = StepCompensating
			s.Steps["c"].Undo = Phase{Attempt: 1, CommandID: CommandID(s.SagaID, "c", true, 1), Deadline: t0}
		}, `step "c" compensating without needing it`},
		{"compensating out of order", compensating, func(s *State) {
			s.Steps["a"].Status = StepCompensating
			s.Steps["a"].Undo = Phase{Attempt: 1, CommandID: CommandID(s.SagaID, "a", true, 1), Deadline: t0}
		}, `step "a" compensated before its dependent "e"`},
		{"compensating while in flight", compensating, func(s *State) {
			s.Steps["d"].Status = StepDispatched
			s.Steps["d"].Do = Phase{Attempt: 1, CommandID: CommandID(s.SagaID, "d", false, 1), Deadline: t0}
		}, "compensating while 1 steps are in flight"},
		{"compensated too early", compensating, func(s *State) { s.Status = StatusCompensated }, "compensated but step"},
		{"failed while compensating", compensating, func(s *State) { s.Status = StatusFailed }, "failed with step"},
		{"failed without failure", compensating, func(s *State) { s.Status = StatusFailed }, "failed without a failed compensation"},
		{"notify before compensated", compensating, func(s *State) { s.Steps["notify"].Status = StepSkipped }, "compensating with 1 on-compensated"},
		{"compensated without notify", compensating, func(s *State) {
			for _, n := range []string{"b", "e"} {
				s.Steps[n].Status = StepCompensated
				s.Steps[n].Undo.Deadline = time.Time{}
			}
			s.Steps["a"].Status = StepCompensated
			s.Steps["a"].Undo = Phase{Attempt: 1, CommandID: CommandID(s.SagaID, "a", true, 1)}
			s.Status = StatusCompensated
		}, "compensated with 1 on-compensated steps not started"},
		{"notify is compensating", compensating, func(s *State) {
			s.Steps["notify"].Status = StepCompensated
		}, "compensated without a compensation attempt"},
		{"completed without notify skipped", func(t *testing.T) *run {
			r := base(t)
			r.ok("c")
			r.ok("e")
			r.ok("d")
			return r
		}, func(s *State) { s.Steps["notify"].Status = StepPending }, "completed with 0 of 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.setup(t)
			s := r.s.Clone()
			tt.corrupt(s)
			err := r.d.CheckState(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := testDefinition().CheckState(nil); err == nil {
		t.Errorf("CheckState(nil): got no error")
	}
}
