package saga

import "testing"

func TestLabel(t *testing.T) {
	plain := &Definition{Name: "plain"}
	named := &Definition{Name: "named", Labels: StatusLabels{Running: "requested", Compensating: "rejecting", Completed: "refunded", Compensated: "rejected", Failed: "stuck"}}
	for _, tc := range []struct {
		def  *Definition
		s    *State
		want string
	}{
		{plain, nil, ""},
		{plain, &State{Status: StatusRunning}, "running"},
		{plain, &State{Status: StatusCompensating}, "compensating"},
		{plain, &State{Status: StatusCompleted}, "completed"},
		{plain, &State{Status: StatusCompensated}, "compensated"},
		{plain, &State{Status: StatusFailed}, "failed"},
		{named, &State{Status: StatusRunning}, "requested"},
		{named, &State{Status: StatusRunning, Milestones: []string{"picked-up", "inspected"}}, "inspected"},
		{named, &State{Status: StatusCompensating, Milestones: []string{"picked-up"}}, "rejecting"},
		{named, &State{Status: StatusCompleted}, "refunded"},
		{named, &State{Status: StatusCompensated}, "rejected"},
		{named, &State{Status: StatusFailed}, "stuck"},
	} {
		if got := tc.def.Label(tc.s); got != tc.want {
			t.Errorf("%s.Label(%+v) = %q, want %q", tc.def.Name, tc.s, got, tc.want)
		}
	}
}

func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		status Status
		action string
		ok     bool
	}{
		{StatusRunning, ControlCancel, true},
		{StatusCompensating, ControlCancel, false},
		{StatusCompleted, ControlCancel, false},
		{StatusFailed, ControlCancel, false},
		{StatusFailed, ControlRetry, true},
		{StatusRunning, ControlRetry, false},
		{StatusCompensated, ControlRetry, false},
		{StatusRunning, "pause", false},
	} {
		why := Refusal(&State{Status: tc.status}, tc.action)
		if (why == "") != tc.ok {
			t.Errorf("Refusal(%s, %s) = %q, want applied %v", tc.status, tc.action, why, tc.ok)
		}
	}
	if Refusal(nil, ControlCancel) == "" {
		t.Error("Refusal(nil) applies, want refused")
	}
}

func TestUndoState(t *testing.T) {
	for _, tc := range []struct {
		saga Status
		step StepState
		want string
	}{
		{StatusRunning, StepState{Status: StepSucceeded}, ""},
		{StatusCompensating, StepState{Status: StepCompensating}, "compensating"},
		{StatusCompensated, StepState{Status: StepCompensated}, "compensated"},
		{StatusFailed, StepState{Status: StepCompensationFailed}, "compensation_failed"},
		{StatusCompensating, StepState{Status: StepSkipped}, UndoNotNeeded},
		{StatusCompensated, StepState{Status: StepFailed, Outcome: OutcomeFailure}, UndoNotNeeded},
		{StatusCompensated, StepState{Status: StepFailed, Outcome: OutcomeUnknown}, ""},
		{StatusRunning, StepState{Status: StepSkipped}, ""},
	} {
		st := tc.step
		s := &State{Status: tc.saga, Steps: map[string]*StepState{"a": &st}}
		if got := UndoState(s, "a"); got != tc.want {
			t.Errorf("UndoState(saga %s, step %+v) = %q, want %q", tc.saga, tc.step, got, tc.want)
		}
	}
	if got := UndoState(&State{}, "missing"); got != "" {
		t.Errorf("UndoState of a missing step = %q, want \"\"", got)
	}
}
