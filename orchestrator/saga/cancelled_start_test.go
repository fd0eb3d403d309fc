package saga

import (
	"testing"
	"time"
)

// TestStartCancelled starts a saga with a cancel held before its start: no command, every
// step skipped (OnCompensated too), compensated at once and finished.
func TestStartCancelled(t *testing.T) {
	d := testDefinition()
	s, out, err := d.Apply(nil, StartCancelledInput("saga-1", []byte(`{}`), 1, "", "customer changed mind"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Commands) != 0 {
		t.Errorf("commands: got %d, want none", len(out.Commands))
	}
	if s.Status != StatusCompensated || !s.Finished() {
		t.Errorf("status: got %s (finished %v), want compensated and finished", s.Status, s.Finished())
	}
	for name, st := range s.Steps {
		if st.Status != StepSkipped {
			t.Errorf("step %s: got %s, want skipped", name, st.Status)
		}
	}
	if len(out.Events) != 1 || out.Events[0].Kind != EventCompensated || out.Events[0].Reason != "customer changed mind" {
		t.Errorf("events: got %+v, want one compensated with the cancel's reason", out.Events)
	}
	kinds := make([]string, len(out.History))
	for i, h := range out.History {
		kinds[i] = h.Kind
	}
	if kinds[0] != HistoryStarted || kinds[1] != HistoryCancel || kinds[len(kinds)-1] != HistoryCompensated {
		t.Errorf("history: got %v, want started, cancel, …, compensated", kinds)
	}
	if s.Version != 1 {
		t.Errorf("version: got %d, want 1", s.Version)
	}
	if _, ok := s.NextTimer(); ok {
		t.Errorf("a timer is set on a finished saga")
	}
	// A reply for a step that never ran is ignored.
	_, out, err = d.Apply(s, ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplySuccess, "", nil), t0.Add(time.Second))
	if err != nil || len(out.Commands) != 0 {
		t.Errorf("late reply: got %d commands, err %v; want none, nil", len(out.Commands), err)
	}
}
