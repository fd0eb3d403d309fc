package sagatest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// MaxFuzzOps is the number of (op, arg) pairs of a fuzz input that Fuzz applies; the rest
// is ignored.
const MaxFuzzOps = 200

// Fuzz starts s's saga, applies the fuzz input ops to it, and checks after each input
// that:
//
//   - Apply neither fails nor mutates its input, and the state passes CheckState;
//   - a terminal status stays terminal, and each saga event (but rejections and failures)
//     is announced at most once; Outputs.Changed is true exactly when the version grew;
//   - every command ID is emitted once and is the deterministic ID of its step/attempt;
//     InFlight returns exactly the commands that were sent;
//   - forward commands are sent only while the saga runs (but the OnCompensated steps);
//     compensations are sent only for steps that were dispatched and not business-failed,
//     and when the saga is compensated, exactly those steps were compensated;
//   - the state round-trips through JSON unchanged.
//
// Finally it drives the saga to a terminal status (success replies, timers, operator
// retries) to check that no interleaving leaves it stuck.
//
// ops is a sequence of (op, arg) byte pairs, at most MaxFuzzOps of them. op%10 is:
//
//	0, 1, 2  a success, business failure or retryable error reply to the in-flight command
//	         arg picks (or, with nothing in flight, the next timer fires)
//	3        a duplicate of a reply applied earlier
//	4        a late or superseded reply to any command ever sent
//	5        the next timer fires
//	6        arg×10ms pass, then a timer input
//	7        a cancel
//	8        an operator's retry
//	9        a reply with an unknown command ID (even arg) or a duplicate start (odd arg)
//
// Call it from a fuzz target, with seeds of your saga's interesting paths:
//
//	f.Fuzz(func(t *testing.T, ops []byte) { sagatest.Fuzz(t, s, ops) })
func Fuzz(t testing.TB, s Saga, ops []byte) {
	t.Helper()
	s.validate(t)
	h := &fuzzer{Saga: s, t: t, now: s.start(), sent: map[string]saga.Command{}, events: map[string]int{},
		doSent: map[string]bool{}, failed: map[string]bool{}, onCompensated: map[string]bool{}}
	for _, step := range s.Definition.OnCompensated {
		h.onCompensated[step.Name] = true
	}
	h.apply(saga.StartInput(s.SagaID, s.Input, 99, "00-abc-01"))
	for i := 0; i+1 < len(ops) && i < 2*MaxFuzzOps; i += 2 {
		h.op(ops[i], ops[i+1])
	}
	h.drain()
}

// fuzzer is the state of one Fuzz call.
type fuzzer struct {
	Saga
	t             testing.TB
	s             *saga.State
	now           time.Time
	sent          map[string]saga.Command // every command emitted, by ID
	order         []string                // their IDs, in order
	replies       []saga.Input            // every reply applied
	events        map[string]int          // announcements, by kind (+milestone name)
	doSent        map[string]bool         // steps whose forward command was sent
	failed        map[string]bool         // steps that received a failure reply to a forward command
	hist          []saga.HistoryEntry     // every history entry emitted, in order
	onCompensated map[string]bool         // the definition's OnCompensated steps
}

var fuzzOutcomes = []string{saga.ReplySuccess, saga.ReplyFailure, saga.ReplyError}

func (h *fuzzer) op(op, arg byte) {
	d := h.Definition
	switch op % 10 {
	case 0, 1, 2: // reply to an in-flight command
		inflight := d.InFlight(h.s)
		if len(inflight) == 0 {
			h.fire()
			return
		}
		h.reply(inflight[int(arg)%len(inflight)], fuzzOutcomes[op%10])
	case 3: // duplicate of a reply already applied
		if len(h.replies) > 0 {
			h.apply(h.replies[int(arg)%len(h.replies)])
		}
	case 4: // late or superseded: a reply to any command ever sent
		if len(h.order) > 0 {
			h.reply(h.sent[h.order[int(arg/3)%len(h.order)]], fuzzOutcomes[arg%3])
		}
	case 5: // the next timer fires
		h.fire()
	case 6: // time passes, then a timer input
		h.now = h.now.Add(time.Duration(arg) * 10 * time.Millisecond)
		h.apply(saga.TimerInput())
	case 7:
		h.apply(saga.CancelInput(fmt.Sprintf("cancel-%d", arg%4)))
	case 8:
		h.apply(saga.RetryInput("operator"))
	case 9:
		if arg%2 == 0 {
			h.apply(saga.ReplyInput(fmt.Sprintf("unknown-%d", arg), d.Steps[0].Name, saga.ReplySuccess, "", nil))
		} else {
			h.apply(saga.StartInput(h.SagaID, h.Input, 1, ""))
		}
	}
}

func (h *fuzzer) reply(c saga.Command, outcome string) {
	h.apply(saga.ReplyInput(c.ID, c.Step, outcome, "reason-"+outcome, h.result(c.Step, outcome, c.Compensation)))
}

func (h *fuzzer) fire() {
	if at, ok := h.s.NextTimer(); ok && at.After(h.now) {
		h.now = at
	}
	h.apply(saga.TimerInput())
}

func (h *fuzzer) apply(in saga.Input) {
	t := h.t
	t.Helper()
	d := h.Definition
	prev := h.s
	before := prev.Clone()
	next, out, err := d.Apply(h.s, in, h.now)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", in, err)
	}
	h.hist = append(h.hist, out.History...)
	if prev != nil {
		if !reflect.DeepEqual(prev, before) {
			t.Fatalf("Apply mutated its input")
		}
		if prev.Status.Terminal() && next.Status != prev.Status {
			t.Fatalf("terminal status %s became %s", prev.Status, next.Status)
		}
		if out.Changed != (next.Version == prev.Version+1) || (!out.Changed && next.Version != prev.Version) {
			t.Fatalf("Changed %v but version %d -> %d", out.Changed, prev.Version, next.Version)
		}
	}
	if err := d.CheckState(next); err != nil {
		t.Fatalf("invariants after %+v: %v\n%s", in, err, history(h.hist))
	}
	// A business failure of a forward step counts once the engine applied it: the step was
	// unsettled before and is failed with that outcome now.
	if in.Kind == saga.InputReply && in.Outcome == saga.ReplyFailure && prev != nil {
		if c, ok := h.sent[in.CommandID]; ok && !c.Compensation &&
			prev.Steps[c.Step].Outcome == saga.OutcomeNone && next.Steps[c.Step].Outcome == saga.OutcomeFailure {
			h.failed[c.Step] = true
		}
	}

	for _, c := range out.Commands {
		if _, dup := h.sent[c.ID]; dup {
			t.Fatalf("command %s (%s attempt %d) emitted twice", c.ID, c.Step, c.Attempt)
		}
		if want := saga.CommandID(c.SagaID, c.Step, c.Compensation, c.Attempt); c.ID != want {
			t.Fatalf("command %s of %s attempt %d: want ID %s", c.ID, c.Step, c.Attempt, want)
		}
		switch {
		case c.Compensation:
			if next.Status != saga.StatusCompensating && next.Status != saga.StatusCompensated && next.Status != saga.StatusFailed {
				t.Fatalf("compensation of %s sent while %s", c.Step, next.Status)
			}
			if !h.doSent[c.Step] || h.failed[c.Step] {
				t.Fatalf("compensation of %s, which was not dispatched or business-failed", c.Step)
			}
		case h.onCompensated[c.Step]: // sent once the saga is compensated
		case prev != nil && prev.Status != saga.StatusRunning:
			t.Fatalf("forward command %s sent while %s", c.Step, prev.Status)
		default:
			h.doSent[c.Step] = true
		}
		h.sent[c.ID] = c
		h.order = append(h.order, c.ID)
	}
	inflight := d.InFlight(next)
	for _, c := range inflight {
		if sent, ok := h.sent[c.ID]; !ok || !reflect.DeepEqual(sent, c) {
			t.Fatalf("InFlight %s differs from what was sent:\n got %+v\nwant %+v", c.ID, c, sent)
		}
	}
	for _, c := range out.Commands {
		if !slices.ContainsFunc(inflight, func(f saga.Command) bool { return f.ID == c.ID }) {
			t.Fatalf("command %s just sent is not in flight", c.ID)
		}
	}

	for _, e := range out.Events {
		key := string(e.Kind) + ":" + e.Name
		h.events[key]++
		if e.Kind != saga.EventRejected && e.Kind != saga.EventFailed && h.events[key] > 1 {
			t.Fatalf("event %s announced %d times", key, h.events[key])
		}
	}

	if next.Status == saga.StatusCompensated && (prev == nil || prev.Status != saga.StatusCompensated) {
		want := map[string]bool{}
		for _, step := range d.Steps {
			if step.Undo != nil && h.doSent[step.Name] && !h.failed[step.Name] {
				want[step.Name] = true
			}
		}
		got := map[string]bool{}
		for _, id := range h.order {
			if c := h.sent[id]; c.Compensation {
				got[c.Step] = true
			}
		}
		for name, st := range next.Steps {
			if (st.Status == saga.StepCompensated) != want[name] {
				t.Fatalf("compensated: step %s is %s, want compensated=%v\n%s", name, st.Status, want[name], history(h.hist))
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("compensations sent for %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}

	b, err := json.Marshal(next)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var rt saga.State
	if err := json.Unmarshal(b, &rt); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if !reflect.DeepEqual(&rt, next) {
		t.Fatalf("JSON round trip differs:\n got %+v\nwant %+v", &rt, next)
	}
	if in.Kind == saga.InputReply {
		h.replies = append(h.replies, in)
	}
	h.s = next
}

// drain drives the saga to a terminal status and lets everything in flight finish.
func (h *fuzzer) drain() {
	h.t.Helper()
	for i := 0; ; i++ {
		if i > 500 {
			h.t.Fatalf("saga does not settle: status %s\n%s", h.s.Status, history(h.hist))
		}
		if inflight := h.Definition.InFlight(h.s); len(inflight) > 0 {
			h.reply(inflight[0], saga.ReplySuccess)
			continue
		}
		if _, ok := h.s.NextTimer(); ok {
			h.fire()
			continue
		}
		if h.s.Status == saga.StatusFailed {
			h.apply(saga.RetryInput("drain"))
			continue
		}
		break
	}
	if !h.s.Status.Terminal() {
		h.t.Fatalf("stuck in %s with nothing in flight and no timer\n%s", h.s.Status, history(h.hist))
	}
}

// history formats the history entries for a failure message.
func history(hist []saga.HistoryEntry) string {
	out := ""
	for _, e := range hist {
		out += fmt.Sprintf("  %s %s %s #%d %s\n", e.Time.Format("04:05.000"), e.Kind, e.Step, e.Attempt, e.Detail)
	}
	return out
}
