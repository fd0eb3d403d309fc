package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// echo builds a payload naming the step, the results it sees and the reason.
func echo(step string) Builder {
	return func(bc BuildContext) (json.RawMessage, error) {
		var in struct {
			Fail string `json:"fail_build"`
		}
		_ = json.Unmarshal(bc.Input, &in)
		if in.Fail == step {
			return nil, errors.New("boom")
		}
		return json.Marshal(map[string]any{"step": step, "saga": bc.SagaID, "results": bc.Results, "reason": bc.Reason})
	}
}

func act(worker, typ string) Action {
	return Action{Worker: worker, Type: typ, Build: echo(typ), Timeout: time.Second,
		Retry: RetryPolicy{MaxAttempts: 3, Initial: 100 * time.Millisecond, Max: time.Second}}
}

func undo(worker, typ string) *Action {
	a := act(worker, typ)
	a.Retry.MaxAttempts = 2
	return &a
}

// testDefinition is a small diamond:
//
//	a ─┬─ c ─ d (optional, no undo)
//	b ─┘
//	a ─── e
//
// with a milestone "ab" after a and b, and OnCompensated "notify".
func testDefinition() *Definition {
	return &Definition{
		Name:    "test",
		Workers: []string{"w1", "w2", "w3"},
		Steps: []Step{
			{Name: "a", Do: act("w1", "a.do"), Undo: undo("w1", "a.undo")},
			{Name: "b", Do: act("w2", "b.do"), Undo: undo("w2", "b.undo")},
			{Name: "c", Do: act("w1", "c.do"), Undo: undo("w1", "c.undo"), After: []string{"a", "b"}},
			{Name: "e", Do: act("w2", "e.do"), Undo: undo("w2", "e.undo"), After: []string{"a"}},
			{Name: "d", Do: act("w3", "d.do"), After: []string{"c"}, Optional: true},
		},
		Milestones:    []Milestone{{Name: "ab", After: []string{"a", "b"}}},
		OnCompensated: []Step{{Name: "notify", Do: act("w3", "notify.do")}},
	}
}

// run drives one saga and checks, after every input, the invariants every transition must
// keep: Apply does not mutate its input, the state passes CheckState, JSON round-trips
// exactly, no command ID is emitted twice, a terminal status stays terminal, and InFlight
// matches what was sent.
type run struct {
	t    *testing.T
	d    *Definition
	s    *State
	now  time.Time
	sent map[string]Command
	cmds []Command // every command emitted, in order
	evs  []Event
	hist []HistoryEntry // every history entry emitted, in order
}

func newRun(t *testing.T, d *Definition) *run {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return &run{t: t, d: d, now: t0, sent: map[string]Command{}}
}

func (r *run) start(payload string) Outputs {
	r.t.Helper()
	return r.apply(StartInput("saga-1", json.RawMessage(payload), 42, "00-trace-01"))
}

func (r *run) apply(in Input) Outputs {
	r.t.Helper()
	var before []byte
	var beforeClone *State
	if r.s != nil {
		beforeClone = r.s.Clone()
		b, err := json.Marshal(r.s)
		if err != nil {
			r.t.Fatalf("marshal before: %v", err)
		}
		before = b
	}
	next, out, err := r.d.Apply(r.s, in, r.now)
	if err != nil {
		r.t.Fatalf("Apply(%+v): %v", in, err)
	}
	if r.s != nil {
		if after, _ := json.Marshal(r.s); string(after) != string(before) || !reflect.DeepEqual(r.s, beforeClone) {
			r.t.Fatalf("Apply mutated its input state")
		}
		if r.s.Status.Terminal() && next.Status != r.s.Status {
			r.t.Fatalf("terminal status %s changed to %s", r.s.Status, next.Status)
		}
		if !out.Changed && !reflect.DeepEqual(next, r.s) {
			r.t.Fatalf("Changed = false but the state changed")
		}
		if out.Changed && next.Version != r.s.Version+1 {
			r.t.Fatalf("Changed: got version %d, want %d", next.Version, r.s.Version+1)
		}
	}
	if err := r.d.CheckState(next); err != nil {
		r.t.Fatalf("invariants after %+v: %v", in, err)
	}
	assertRoundTrip(r.t, next)
	for _, c := range out.Commands {
		if _, dup := r.sent[c.ID]; dup {
			r.t.Fatalf("command %s (%s attempt %d) emitted twice", c.ID, c.Step, c.Attempt)
		}
		r.sent[c.ID] = c
		r.cmds = append(r.cmds, c)
	}
	r.evs = append(r.evs, out.Events...)
	if out.Changed != (len(out.History) > 0) {
		r.t.Fatalf("Changed = %v with %d history entries: every change is recorded", out.Changed, len(out.History))
	}
	r.hist = append(r.hist, out.History...)
	for _, c := range r.d.InFlight(next) {
		if sent, ok := r.sent[c.ID]; !ok || !reflect.DeepEqual(sent, c) {
			r.t.Fatalf("InFlight command %s differs from the one sent:\n got %+v\nwant %+v", c.ID, c, sent)
		}
	}
	r.s = next
	return out
}

func assertRoundTrip(t *testing.T, s *State) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var got State
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if !reflect.DeepEqual(&got, s) {
		t.Fatalf("JSON round trip differs:\n got %+v\nwant %+v\njson %s", &got, s, b)
	}
	bin, err := s.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	fromBin, err := DecodeState(bin)
	if err != nil {
		t.Fatalf("DecodeState(binary): %v", err)
	}
	if !reflect.DeepEqual(fromBin, s) {
		t.Fatalf("binary round trip differs:\n got %+v\nwant %+v", fromBin, s)
	}
	if v, g, err := PeekVersion(bin); err != nil || v != s.Version || g != s.Generation {
		t.Fatalf("PeekVersion: got %d %d %v, want %d %d", v, g, err, s.Version, s.Generation)
	}
}

// cmd returns the ID of the latest command of a step's phase.
func (r *run) cmd(step string, compensation bool) string {
	r.t.Helper()
	st := r.s.Steps[step]
	if st == nil {
		r.t.Fatalf("no step %q", step)
	}
	if compensation {
		return st.Undo.CommandID
	}
	return st.Do.CommandID
}

func (r *run) ok(step string) Outputs {
	r.t.Helper()
	return r.apply(ReplyInput(r.cmd(step, false), step, ReplySuccess, "", json.RawMessage(`{"id":"`+step+`-1"}`)))
}

func (r *run) fail(step, reason string) Outputs {
	r.t.Helper()
	return r.apply(ReplyInput(r.cmd(step, false), step, ReplyFailure, reason, nil))
}

func (r *run) errReply(step string) Outputs {
	r.t.Helper()
	return r.apply(ReplyInput(r.cmd(step, false), step, ReplyError, "busy", nil))
}

func (r *run) undone(step string) Outputs {
	r.t.Helper()
	return r.apply(ReplyInput(r.cmd(step, true), step, ReplySuccess, "", nil))
}

func (r *run) undoFail(step string) Outputs {
	r.t.Helper()
	return r.apply(ReplyInput(r.cmd(step, true), step, ReplyFailure, "nope", nil))
}

// advance moves the clock to the next timer and fires it.
func (r *run) fire() Outputs {
	r.t.Helper()
	at, ok := r.s.NextTimer()
	if !ok {
		r.t.Fatalf("no timer to fire (status %s)", r.s.Status)
	}
	r.now = at
	return r.apply(TimerInput())
}

func (r *run) wantStatus(want Status) {
	r.t.Helper()
	if r.s.Status != want {
		r.t.Fatalf("saga status: got %s, want %s\n%s", r.s.Status, want, r.dump())
	}
}

func (r *run) wantSteps(want map[string]StepStatus) {
	r.t.Helper()
	for name, w := range want {
		if got := r.s.Steps[name].Status; got != w {
			r.t.Errorf("step %s: got %s, want %s\n%s", name, got, w, r.dump())
		}
	}
}

func (r *run) dump() string {
	var b strings.Builder
	for _, h := range r.hist {
		fmt.Fprintf(&b, "  %s %s %s #%d %s\n", h.Time.Format("15:04:05.000"), h.Kind, h.Step, h.Attempt, h.Detail)
	}
	return b.String()
}

// stepsOf lists "step" or "step/undo" for each command.
func stepsOf(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		name := c.Step
		if c.Compensation {
			name += "/undo"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func kindsOf(evs []Event) []string {
	var out []string
	for _, e := range evs {
		k := string(e.Kind)
		if e.Name != "" {
			k += ":" + e.Name
		}
		out = append(out, k)
	}
	return out
}

func (r *run) lastHistory() HistoryEntry {
	return r.hist[len(r.hist)-1]
}
