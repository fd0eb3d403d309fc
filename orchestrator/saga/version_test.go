package saga

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefinitionIDAndVersionOf(t *testing.T) {
	for _, tc := range []struct {
		version int
		id      string
	}{{0, "order"}, {1, "order"}, {2, "order@v2"}, {17, "order@v17"}} {
		d := &Definition{Name: "order", Version: tc.version}
		if got := d.ID(); got != tc.id {
			t.Errorf("version %d: ID %q, want %q", tc.version, got, tc.id)
		}
		if got, want := VersionOf(tc.id), max(tc.version, 1); got != want {
			t.Errorf("VersionOf(%q) = %d, want %d", tc.id, got, want)
		}
	}
	for _, bad := range []string{"order@v1", "order@vx", "order@v"} {
		if got := VersionOf(bad); got != 0 {
			t.Errorf("VersionOf(%q) = %d, want 0", bad, got)
		}
	}
}

// A saga records the version it started on, and another version refuses to apply to it.
func TestVersionsDoNotApplyToEachOther(t *testing.T) {
	v1 := testDefinition()
	v2 := testDefinition()
	v2.Version = 2
	s, _, err := v1.Apply(nil, StartInput("saga-1", []byte(`{}`), 1, ""), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if s.Definition != v1.ID() {
		t.Fatalf("state records %q, want %q", s.Definition, v1.ID())
	}
	if _, _, err := v2.Apply(s, TimerInput(), time.Unix(1, 0)); !errors.Is(err, ErrOtherDefinition) {
		t.Errorf("version 2 applied to a version-1 state: %v, want ErrOtherDefinition", err)
	}
	s2, _, err := v2.Apply(nil, StartInput("saga-2", []byte(`{}`), 1, ""), time.Unix(0, 0))
	if err != nil || s2.Definition != "test@v2" {
		t.Fatalf("version 2 start: %v, definition %q", err, s2.Definition)
	}
}

// A state that cannot be applied fails the saga visibly, leaves no timer and nothing in
// flight, and failing it again changes nothing.
func TestUnapplicableFailsTheSaga(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("a") // b and e dispatched
	if !r.d.Waiting(r.s) {
		t.Fatal("nothing in flight before")
	}
	cause := errors.New("state lacks step x")
	next, out := Unapplicable(r.s, cause, r.now)
	if next.Status != StatusFailed || !strings.HasPrefix(next.Reason, UnapplicablePrefix) || !strings.Contains(next.Reason, cause.Error()) {
		t.Errorf("status %s reason %q, want failed with the cause", next.Status, next.Reason)
	}
	if _, ok := next.NextTimer(); ok {
		t.Error("a timer is left")
	}
	if r.d.Waiting(next) || len(r.d.InFlight(next)) != 0 {
		t.Error("commands still in flight")
	}
	if !out.Changed || next.Version != r.s.Version+1 {
		t.Errorf("Changed %v, version %d → %d", out.Changed, r.s.Version, next.Version)
	}
	if len(out.Events) != 1 || out.Events[0].Kind != EventFailed {
		t.Errorf("events %+v, want one failed event", out.Events)
	}
	if last := out.History[len(out.History)-1]; last.Kind != HistorySagaFailed {
		t.Errorf("last history entry %s, want %s", last.Kind, HistorySagaFailed)
	}
	if again, out := Unapplicable(next, cause, r.now); again != next || out.Changed {
		t.Error("failing an unapplicable saga again changed it")
	}
	if r.s.Status == StatusFailed {
		t.Error("the input state was modified")
	}
}
