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

func TestStartDispatchesRootSteps(t *testing.T) {
	r := newRun(t, testDefinition())
	out := r.start(`{"order": 1}`)

	if got, want := stepsOf(out.Commands), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("commands: got %v, want %v", got, want)
	}
	r.wantStatus(StatusRunning)
	r.wantSteps(map[string]StepStatus{"a": StepDispatched, "b": StepDispatched, "c": StepPending, "notify": StepPending})
	if got, want := string(r.s.Input), `{"order":1}`; got != want {
		t.Errorf("input: got %s, want %s", got, want)
	}
	c := out.Commands[0]
	if got, want := c.ID, CommandID("saga-1", "a", false, 1); got != want {
		t.Errorf("command ID: got %s, want %s", got, want)
	}
	if got, want := c.IdempotencyKey, "saga-1/a"; got != want {
		t.Errorf("idempotency key: got %s, want %s", got, want)
	}
	if got, want := c.Deadline, t0.Add(time.Second); !got.Equal(want) {
		t.Errorf("deadline: got %v, want %v", got, want)
	}
	if got, want := r.s.Version, uint64(1); got != want {
		t.Errorf("version: got %d, want %d", got, want)
	}
	if at, ok := r.s.NextTimer(); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("NextTimer: got %v %v, want %v true", at, ok, t0.Add(time.Second))
	}
}

func TestDuplicateStartIsRecordedOnly(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	before := r.s.Clone()
	out := r.start(`{"other": true}`)

	if len(out.Commands) != 0 || len(out.Events) != 0 {
		t.Errorf("outputs: got %d commands %d events, want none", len(out.Commands), len(out.Events))
	}
	if !out.Changed {
		t.Errorf("Changed: got false, want true (history entry)")
	}
	if got, want := r.lastHistory().Kind, HistoryDuplicateStart; got != want {
		t.Errorf("history: got %s, want %s", got, want)
	}
	if !reflect.DeepEqual(r.s.Steps, before.Steps) || string(r.s.Input) != string(before.Input) {
		t.Errorf("duplicate start changed steps or input")
	}
}

func TestApplyErrors(t *testing.T) {
	d := testDefinition()
	good, _, err := d.Apply(nil, StartInput("s", json.RawMessage(`{}`), 1, ""), t0)
	if err != nil {
		t.Fatal(err)
	}
	other := *good
	other.Definition = "other"
	old := *good
	old.Format = 7
	partial := good.Clone()
	delete(partial.Steps, "c")

	tests := []struct {
		name    string
		s       *State
		in      Input
		wantErr string
	}{
		{"reply without state", nil, ReplyInput("x", "a", ReplySuccess, "", nil), "unknown saga"},
		{"timer without state", nil, TimerInput(), "unknown saga"},
		{"start without saga ID", nil, StartInput("", nil, 0, ""), "empty saga ID"},
		{"start with bad JSON", nil, StartInput("s", json.RawMessage(`{`), 0, ""), "not JSON"},
		{"other definition", &other, TimerInput(), `definition "other"`},
		{"other format", &old, TimerInput(), "format 7"},
		{"missing step", partial, TimerInput(), `lacks step "c"`},
		{"unknown kind", good, Input{Kind: "poke"}, `unknown kind "poke"`},
		{"unknown control", good, Input{Kind: InputControl, Action: "pause"}, `unknown action "pause"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := d.Apply(tt.s, tt.in, t0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, _, err := d.Apply(nil, TimerInput(), t0); !errors.Is(err, ErrUnknownSaga) {
		t.Errorf("got %v, want ErrUnknownSaga", err)
	}
}

// Every ordering of the two stage-one replies leads to the same state: c and e dispatched
// exactly once, the milestone reached exactly once, when both have succeeded.
func TestStageOneReplyOrderings(t *testing.T) {
	orderings := [][]string{{"a", "b"}, {"b", "a"}}
	for _, order := range orderings {
		t.Run(strings.Join(order, "-then-"), func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{}`)
			first := r.ok(order[0])
			second := r.ok(order[1])

			wantFirst := []string(nil)
			if order[0] == "a" {
				wantFirst = []string{"e"} // e only needs a
			}
			if got := stepsOf(first.Commands); !slices.Equal(got, wantFirst) {
				t.Errorf("after %s: got commands %v, want %v", order[0], got, wantFirst)
			}
			if len(first.Events) != 0 {
				t.Errorf("after %s: got events %v, want none", order[0], kindsOf(first.Events))
			}
			wantSecond := []string{"c"}
			if order[0] == "b" {
				wantSecond = []string{"c", "e"}
			}
			if got := stepsOf(second.Commands); !slices.Equal(got, wantSecond) {
				t.Errorf("after %s: got commands %v, want %v", order[1], got, wantSecond)
			}
			if got, want := kindsOf(second.Events), []string{"milestone:ab"}; !slices.Equal(got, want) {
				t.Errorf("after %s: got events %v, want %v", order[1], got, want)
			}
			if got, want := r.s.Milestones, []string{"ab"}; !slices.Equal(got, want) {
				t.Errorf("milestones: got %v, want %v", got, want)
			}
			r.ok("c")
			r.ok("e")
			out := r.ok("d")
			r.wantStatus(StatusCompleted)
			if got, want := kindsOf(out.Events), []string{"completed"}; !slices.Equal(got, want) {
				t.Errorf("events: got %v, want %v", got, want)
			}
			r.wantSteps(map[string]StepStatus{"notify": StepSkipped})
			if _, ok := r.s.NextTimer(); ok {
				t.Errorf("NextTimer after completion: got a timer, want none")
			}
		})
	}
}

func TestBuildContext(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("a")
	out := r.ok("b")
	var payload struct {
		Results map[string]json.RawMessage `json:"results"`
	}
	for _, c := range out.Commands {
		if c.Step != "c" {
			continue
		}
		if err := json.Unmarshal(c.Payload, &payload); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := len(payload.Results), 2; got != want {
		t.Fatalf("results seen by c: got %d, want %d", got, want)
	}
	if got, want := string(payload.Results["a"]), `{"id":"a-1"}`; got != want {
		t.Errorf("result of a: got %s, want %s", got, want)
	}
}

func TestReplyCorrelation(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(r *run)
		reply      func(r *run) Input
		wantDetail string // "" = applied
		wantA      StepStatus
	}{
		{
			name:  "current attempt success is applied",
			reply: func(r *run) Input { return ReplyInput(r.cmd("a", false), "a", ReplySuccess, "", nil) },
			wantA: StepSucceeded,
		},
		{
			name:       "duplicate success",
			setup:      func(r *run) { r.ok("a") },
			reply:      func(r *run) Input { return ReplyInput(r.cmd("a", false), "a", ReplySuccess, "", nil) },
			wantDetail: "duplicate: success",
			wantA:      StepSucceeded,
		},
		{
			name:       "duplicate failure after success",
			setup:      func(r *run) { r.ok("a") },
			reply:      func(r *run) Input { return ReplyInput(r.cmd("a", false), "a", ReplyFailure, "x", nil) },
			wantDetail: "duplicate: failure",
			wantA:      StepSucceeded,
		},
		{
			name:       "unknown command ID",
			reply:      func(r *run) Input { return ReplyInput("nope", "a", ReplySuccess, "", nil) },
			wantDetail: "unknown: success",
			wantA:      StepDispatched,
		},
		{
			name:       "command ID of another step",
			reply:      func(r *run) Input { return ReplyInput(r.cmd("b", false), "a", ReplySuccess, "", nil) },
			wantDetail: "unknown: success",
			wantA:      StepDispatched,
		},
		{
			name:       "unknown step",
			reply:      func(r *run) Input { return ReplyInput(r.cmd("a", false), "zzz", ReplySuccess, "", nil) },
			wantDetail: "unknown: success",
			wantA:      StepDispatched,
		},
		{
			name:       "command ID of a future attempt",
			reply:      func(r *run) Input { return ReplyInput(CommandID("saga-1", "a", false, 2), "a", ReplySuccess, "", nil) },
			wantDetail: "unknown: success",
			wantA:      StepDispatched,
		},
		{
			name:       "invalid outcome",
			reply:      func(r *run) Input { return ReplyInput(r.cmd("a", false), "a", "maybe", "", nil) },
			wantDetail: "invalid outcome: maybe",
			wantA:      StepDispatched,
		},
		{
			name:  "superseded attempt after timeout is accepted",
			setup: func(r *run) { r.fire(); r.fire() }, // a times out, then attempt 2 is sent
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplySuccess, "", nil)
			},
			wantA: StepSucceeded,
		},
		{
			name:  "superseded attempt accepted while waiting to retry",
			setup: func(r *run) { r.fire() },
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplyFailure, "out", nil)
			},
			wantA: StepFailed,
		},
		{
			name: "superseded attempt accepted only once",
			setup: func(r *run) {
				r.fire()
				r.fire()
				r.apply(ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplySuccess, "", nil))
			},
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplySuccess, "", nil)
			},
			wantDetail: "duplicate: success",
			wantA:      StepSucceeded,
		},
		{
			name: "reply to the newer attempt after the superseded one won",
			setup: func(r *run) {
				r.fire()
				r.fire()
				r.apply(ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplySuccess, "", nil))
			},
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 2), "a", ReplySuccess, "", nil)
			},
			wantDetail: "late: success",
			wantA:      StepSucceeded,
		},
		{
			name:  "error for a superseded attempt",
			setup: func(r *run) { r.fire(); r.fire() },
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplyError, "busy", nil)
			},
			wantDetail: "late: error",
			wantA:      StepDispatched,
		},
		{
			name:  "error while waiting to retry",
			setup: func(r *run) { r.fire() },
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplyError, "busy", nil)
			},
			wantDetail: "late: error",
			wantA:      StepRetryWait,
		},
		{
			name:  "duplicate of an applied error",
			setup: func(r *run) { r.errReply("a") },
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 1), "a", ReplySuccess, "", nil)
			},
			wantDetail: "duplicate: success",
			wantA:      StepRetryWait,
		},
		{
			name:  "late reply after exhaustion",
			setup: func(r *run) { r.fire(); r.fire(); r.fire(); r.fire(); r.fire() },
			reply: func(r *run) Input {
				return ReplyInput(CommandID("saga-1", "a", false, 3), "a", ReplySuccess, "", nil)
			},
			wantDetail: "late: success",
			wantA:      StepFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := testDefinition()
			def.Steps[1].Do.Timeout = time.Hour // keep b out of the timers
			r := newRun(t, def)
			r.start(`{}`)
			if tt.setup != nil {
				tt.setup(r)
			}
			before := r.s.Clone()
			out := r.apply(tt.reply(r))
			if !out.Changed {
				t.Errorf("Changed: got false, want true")
			}
			if tt.wantDetail != "" {
				h := r.lastHistory()
				if h.Kind != HistoryIgnored || h.Detail != tt.wantDetail {
					t.Errorf("history: got %s %q, want %s %q", h.Kind, h.Detail, HistoryIgnored, tt.wantDetail)
				}
				if reason, _, _ := strings.Cut(tt.wantDetail, ":"); out.Ignored != reason || out.Settled != nil {
					t.Errorf("outputs: Ignored %q, Settled %+v; want %q and nil", out.Ignored, out.Settled, reason)
				}
				if len(out.Commands)+len(out.Events) != 0 {
					t.Errorf("ignored reply produced %d commands, %d events", len(out.Commands), len(out.Events))
				}
				after := r.s.Clone()
				after.Version, after.UpdatedAt = before.Version, before.UpdatedAt
				if !reflect.DeepEqual(after, before) {
					t.Errorf("ignored reply changed more than the history")
				}
			}
			r.wantSteps(map[string]StepStatus{"a": tt.wantA})
		})
	}
}

func TestTimeoutRetryThenSuccess(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("b")
	first := r.cmd("a", false)

	r.now = t0.Add(time.Second) // a's deadline
	out := r.apply(TimerInput())
	if len(out.Commands) != 0 {
		t.Errorf("timeout: got %d commands, want none before the backoff", len(out.Commands))
	}
	r.wantSteps(map[string]StepStatus{"a": StepRetryWait})
	wantRetry := r.now.Add(r.d.Steps[0].Do.Retry.Backoff(1, 42, "a/do"))
	if got := r.s.Steps["a"].Do.RetryAt; !got.Equal(wantRetry) {
		t.Errorf("retry at: got %v, want %v", got, wantRetry)
	}
	if at, _ := r.s.NextTimer(); !at.Equal(wantRetry) {
		t.Errorf("NextTimer: got %v, want %v", at, wantRetry)
	}

	// Nothing due yet: a timer input changes nothing.
	r.now = wantRetry.Add(-time.Nanosecond)
	if out := r.apply(TimerInput()); out.Changed {
		t.Errorf("early timer: got Changed, want no change")
	}

	r.now = wantRetry
	out = r.apply(TimerInput())
	if len(out.Commands) != 1 {
		t.Fatalf("retry: got %d commands, want 1", len(out.Commands))
	}
	c := out.Commands[0]
	if c.Attempt != 2 || c.ID == first || c.ID != CommandID("saga-1", "a", false, 2) {
		t.Errorf("retry command: got attempt %d ID %s, want attempt 2 with a new ID", c.Attempt, c.ID)
	}
	if c.IdempotencyKey != "saga-1/a" {
		t.Errorf("idempotency key: got %s, want saga-1/a", c.IdempotencyKey)
	}
	r.ok("a")
	r.wantSteps(map[string]StepStatus{"a": StepSucceeded, "c": StepDispatched, "e": StepDispatched})
}

func TestRetriesExhaustedCompensates(t *testing.T) {
	for _, how := range []string{"timeout", "error"} {
		t.Run(how, func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{}`)
			r.ok("a")
			r.ok("b")
			r.ok("e")
			for attempt := 1; attempt <= 3; attempt++ {
				if how == "timeout" {
					r.fire()
				} else {
					r.errReply("c")
				}
				if attempt < 3 {
					r.wantSteps(map[string]StepStatus{"c": StepRetryWait})
					r.fire() // dispatch the next attempt
				}
			}
			r.wantStatus(StatusCompensating)
			wantReason := map[string]string{"timeout": "timeout", "error": "busy"}[how]
			if r.s.Reason != wantReason || r.s.FailedStep != "c" {
				t.Errorf("got reason %q step %q, want %q c", r.s.Reason, r.s.FailedStep, wantReason)
			}
			// c's outcome is unknown: it is compensated too, in parallel with e.
			r.wantSteps(map[string]StepStatus{"c": StepCompensating, "e": StepCompensating, "d": StepSkipped,
				"a": StepSucceeded, "b": StepSucceeded})
		})
	}
}

// A business failure in each required step compensates exactly the steps dispatched and
// not business-failed, in reverse dependency order.
func TestBusinessFailureCompensations(t *testing.T) {
	tests := []struct {
		name string
		// script runs until the failure.
		script func(r *run)
		// waves are the compensations expected, one wave at a time.
		waves [][]string
	}{
		{
			name:   "a fails, b in flight then succeeds",
			script: func(r *run) { r.fail("a", "no"); r.ok("b") },
			waves:  [][]string{{"b/undo"}},
		},
		{
			name:   "a fails, b in flight then fails too",
			script: func(r *run) { r.fail("a", "no"); r.fail("b", "no") },
			waves:  nil,
		},
		{
			name:   "b fails after a succeeded and e is in flight",
			script: func(r *run) { r.ok("a"); r.fail("b", "no"); r.ok("e") },
			waves:  [][]string{{"e/undo"}, {"a/undo"}},
		},
		{
			name:   "b fails, e in flight times out (unknown outcome)",
			script: func(r *run) { r.ok("a"); r.fail("b", "no"); r.fire() },
			waves:  [][]string{{"e/undo"}, {"a/undo"}},
		},
		{
			name:   "b fails, e in flight answers a retryable error (no more retries)",
			script: func(r *run) { r.ok("a"); r.fail("b", "no"); r.errReply("e") },
			waves:  [][]string{{"e/undo"}, {"a/undo"}},
		},
		{
			name:   "b fails, e in flight answers a business failure",
			script: func(r *run) { r.ok("a"); r.fail("b", "no"); r.fail("e", "no") },
			waves:  [][]string{{"a/undo"}},
		},
		{
			name:   "c fails",
			script: func(r *run) { r.ok("a"); r.ok("b"); r.ok("e"); r.fail("c", "no") },
			waves:  [][]string{{"b/undo", "e/undo"}, {"a/undo"}},
		},
		{
			name:   "e fails while c in flight, c succeeds",
			script: func(r *run) { r.ok("a"); r.ok("b"); r.fail("e", "no"); r.ok("c") },
			waves:  [][]string{{"c/undo"}, {"a/undo", "b/undo"}},
		},
		{
			name: "b fails while a waits to retry (abandoned, unknown outcome)",
			script: func(r *run) {
				r.errReply("a")
				r.fail("b", "no")
			},
			waves: [][]string{{"a/undo"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{}`)
			n := len(r.cmds)
			tt.script(r)
			for i, wave := range tt.waves {
				var undos []Command
				for _, c := range r.cmds[n:] {
					if c.Compensation {
						undos = append(undos, c)
					}
				}
				if got := stepsOf(undos); !slices.Equal(got, wave) {
					t.Fatalf("wave %d: got compensations %v, want %v\n%s", i, got, wave, r.dump())
				}
				n = len(r.cmds)
				r.wantStatus(StatusCompensating)
				for _, c := range undos {
					r.undone(c.Step)
				}
			}
			for _, c := range r.cmds[n:] {
				if c.Compensation {
					t.Fatalf("unexpected compensation %s after the last wave", c.Step)
				}
			}
			r.wantStatus(StatusCompensated)
			last := r.evs[len(r.evs)-1]
			if last.Kind != EventCompensated || last.Reason != "no" {
				t.Errorf("last event: got %+v, want compensated with reason no", last)
			}
			r.wantSteps(map[string]StepStatus{"notify": StepDispatched})
			// The cancellation notice sees the reason.
			var notice struct {
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(r.cmds[len(r.cmds)-1].Payload, &notice); err != nil || notice.Reason != "no" {
				t.Errorf("notice payload reason: got %q (%v), want no", notice.Reason, err)
			}
			r.ok("notify")
			r.wantStatus(StatusCompensated)
			if _, ok := r.s.NextTimer(); ok {
				t.Errorf("NextTimer: got a timer, want none")
			}
		})
	}
}

func TestCompensationFailsThenOperatorRetry(t *testing.T) {
	for _, how := range []string{"failure", "exhausted"} {
		t.Run(how, func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{}`)
			r.fail("a", "no")
			r.ok("b") // compensates b only
			switch how {
			case "failure":
				r.undoFail("b")
			case "exhausted":
				r.fire() // attempt 1 times out
				r.fire() // attempt 2 sent
				r.fire() // attempt 2 times out: exhausted
			}
			r.wantSteps(map[string]StepStatus{"b": StepCompensationFailed, "a": StepFailed})
			r.wantStatus(StatusFailed)
			last := r.evs[len(r.evs)-1]
			if last.Kind != EventFailed || last.Step != "b" {
				t.Errorf("event: got %+v, want failed at b", last)
			}
			if _, ok := r.s.NextTimer(); ok {
				t.Errorf("NextTimer while failed: got a timer, want none")
			}

			// A cancel is rejected; a late undo reply is ignored.
			out := r.apply(CancelInput("again"))
			if got, want := kindsOf(out.Events), []string{"rejected:cancel"}; !slices.Equal(got, want) {
				t.Errorf("cancel while failed: got events %v, want %v", got, want)
			}

			attemptsBefore := r.s.Steps["b"].Undo.Attempt
			out = r.apply(RetryInput("operator"))
			r.wantStatus(StatusCompensating)
			if len(out.Commands) != 1 || out.Commands[0].Attempt != attemptsBefore+1 || !out.Commands[0].Compensation {
				t.Fatalf("retry: got %+v, want one compensation of b, attempt %d", out.Commands, attemptsBefore+1)
			}
			// The fresh budget allows a full round of retries.
			r.fire() // times out, retry scheduled
			r.wantSteps(map[string]StepStatus{"b": StepCompensating})
			r.fire() // next attempt
			out = r.undone("b")
			r.wantStatus(StatusCompensated)
			if got, want := kindsOf(out.Events), []string{"compensated"}; !slices.Equal(got, want) {
				t.Errorf("events: got %v, want %v", got, want)
			}
		})
	}
}

func TestIndependentCompensationsContinue(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("a")
	r.ok("b")
	r.ok("e")
	r.fail("c", "no")
	r.undoFail("e") // blocks a's compensation
	r.wantStatus(StatusCompensating)
	r.undone("b") // independent: continues
	r.wantStatus(StatusFailed)
	r.wantSteps(map[string]StepStatus{"a": StepSucceeded, "b": StepCompensated, "e": StepCompensationFailed})
	r.apply(RetryInput(""))
	r.undone("e")
	r.wantSteps(map[string]StepStatus{"a": StepCompensating})
	r.undone("a")
	r.wantStatus(StatusCompensated)
}

func TestCancelInEveryStatus(t *testing.T) {
	tests := []struct {
		name       string
		script     func(r *run)
		wantReject bool
		wantStatus Status
		wantUndos  []string
	}{
		{
			name:       "running, nothing answered",
			script:     func(r *run) {},
			wantStatus: StatusCompensating, // a and b in flight are awaited
		},
		{
			name:       "running, nothing to compensate",
			script:     func(r *run) { r.fail("a", "x") },
			wantReject: true, // already compensating
			wantStatus: StatusCompensating,
		},
		{
			name:       "running after the milestone",
			script:     func(r *run) { r.ok("a"); r.ok("b"); r.ok("c"); r.ok("e") },
			wantStatus: StatusCompensating,
		},
		{
			name:       "compensating",
			script:     func(r *run) { r.ok("a"); r.fail("b", "x"); r.ok("e") },
			wantReject: true,
			wantStatus: StatusCompensating,
		},
		{
			name:       "compensated",
			script:     func(r *run) { r.fail("a", "x"); r.fail("b", "x") },
			wantReject: true,
			wantStatus: StatusCompensated,
		},
		{
			name:       "completed",
			script:     func(r *run) { r.ok("a"); r.ok("b"); r.ok("c"); r.ok("e"); r.ok("d") },
			wantReject: true,
			wantStatus: StatusCompleted,
		},
		{
			name:       "failed",
			script:     func(r *run) { r.ok("a"); r.fail("b", "x"); r.fail("e", "x"); r.undoFail("a") },
			wantReject: true,
			wantStatus: StatusFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{}`)
			tt.script(r)
			before := r.s.Status
			out := r.apply(CancelInput("customer asked"))
			r.wantStatus(tt.wantStatus)
			rejected := slices.Contains(kindsOf(out.Events), "rejected:cancel")
			if rejected != tt.wantReject {
				t.Fatalf("rejected: got %v, want %v (status before %s)", rejected, tt.wantReject, before)
			}
			if rejected {
				if r.s.Status != before || len(out.Commands) != 0 {
					t.Errorf("rejected cancel changed status %s -> %s or sent %d commands", before, r.s.Status, len(out.Commands))
				}
				return
			}
			if r.s.Reason != "customer asked" || r.s.FailedStep != "" {
				t.Errorf("got reason %q failed step %q, want the cancel reason and no step", r.s.Reason, r.s.FailedStep)
			}
			for name, st := range r.s.Steps {
				if st.Status == StepPending && !slices.Contains([]string{"notify"}, name) {
					t.Errorf("step %s still pending after cancel", name)
				}
			}
		})
	}
}

func TestCancelWhileRunningCompensatesEverything(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("a")
	r.ok("b")
	r.ok("e")
	r.apply(CancelInput(""))
	if r.s.Reason != "cancelled" {
		t.Errorf("reason: got %q, want cancelled", r.s.Reason)
	}
	r.wantSteps(map[string]StepStatus{"c": StepDispatched, "d": StepSkipped, "e": StepSucceeded})
	out := r.ok("c") // awaited, then compensated first
	if got, want := stepsOf(out.Commands), []string{"c/undo", "e/undo"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	r.undone("c")
	r.wantSteps(map[string]StepStatus{"b": StepCompensating, "a": StepSucceeded})
	r.undone("e")
	r.undone("b")
	out = r.undone("a")
	r.wantStatus(StatusCompensated)
	if got, want := stepsOf(out.Commands), []string{"notify"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRetryRejectedUnlessFailed(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	out := r.apply(RetryInput("why not"))
	if got, want := kindsOf(out.Events), []string{"rejected:retry"}; !slices.Equal(got, want) {
		t.Errorf("got events %v, want %v", got, want)
	}
	if got := r.lastHistory(); got.Kind != HistoryRejected || got.Detail != "retry: saga is running" {
		t.Errorf("history: got %s %q, want rejected retry", got.Kind, got.Detail)
	}
	r.wantStatus(StatusRunning)
}

func TestOptionalStepFailureStillCompletes(t *testing.T) {
	for _, how := range []string{"failure", "exhausted"} {
		t.Run(how, func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{}`)
			r.ok("a")
			r.ok("b")
			r.ok("c")
			r.ok("e")
			if how == "failure" {
				r.fail("d", "bounced")
			} else {
				for range 5 { // three timeouts, two retries
					r.fire()
				}
			}
			r.wantStatus(StatusCompleted)
			r.wantSteps(map[string]StepStatus{"d": StepFailed})
		})
	}
}

func TestOptionalStepFailureLetsDependentsRun(t *testing.T) {
	d := testDefinition()
	d.Steps = append(d.Steps, Step{Name: "f", Do: act("w3", "f.do"), After: []string{"d"}})
	r := newRun(t, d)
	r.start(`{}`)
	r.ok("a")
	r.ok("b")
	r.ok("c")
	r.ok("e")
	out := r.fail("d", "bounced")
	if got, want := stepsOf(out.Commands), []string{"f"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	r.ok("f")
	r.wantStatus(StatusCompleted)
}

func TestOnCompensatedStepsRetryAndStayCompensated(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.fail("a", "x")
	r.fail("b", "x")
	r.wantStatus(StatusCompensated)
	r.errReply("notify")
	r.wantSteps(map[string]StepStatus{"notify": StepRetryWait})
	r.fire()
	r.wantSteps(map[string]StepStatus{"notify": StepDispatched})
	out := r.fail("notify", "bounced")
	r.wantStatus(StatusCompensated)
	if len(out.Events) != 0 {
		t.Errorf("got events %v, want none", kindsOf(out.Events))
	}
}

func TestBuilderErrors(t *testing.T) {
	tests := []struct {
		name       string
		failBuild  string
		script     func(r *run)
		wantStatus Status
		wantSteps  map[string]StepStatus
	}{
		{"root step", "a.do", func(r *run) {}, StatusCompensated, map[string]StepStatus{"a": StepFailed, "b": StepSkipped}},
		{"optional step", "d.do", func(r *run) { r.ok("a"); r.ok("b"); r.ok("e"); r.ok("c") }, StatusCompleted, map[string]StepStatus{"d": StepFailed}},
		{"compensation", "a.undo", func(r *run) { r.ok("a"); r.fail("b", "x"); r.fail("e", "x") }, StatusFailed, map[string]StepStatus{"a": StepCompensationFailed}},
		{"on-compensated step", "notify.do", func(r *run) { r.fail("a", "x"); r.fail("b", "x") }, StatusCompensated, map[string]StepStatus{"notify": StepFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRun(t, testDefinition())
			r.start(`{"fail_build":"` + tt.failBuild + `"}`)
			tt.script(r)
			r.wantStatus(tt.wantStatus)
			r.wantSteps(tt.wantSteps)
			if !slices.ContainsFunc(r.hist, func(h HistoryEntry) bool { return h.Kind == HistoryBuildFailed }) {
				t.Errorf("history lacks %s", HistoryBuildFailed)
			}
		})
	}
}

func TestRetryBuildFailureFailsAgain(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{"fail_build":"a.undo"}`)
	r.ok("a")
	r.fail("b", "x")
	r.fail("e", "x")
	r.wantStatus(StatusFailed)
	out := r.apply(RetryInput(""))
	r.wantStatus(StatusFailed)
	if got, want := kindsOf(out.Events), []string{"failed"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestHistoryIsAnOutputNotState(t *testing.T) {
	r := newRun(t, testDefinition())
	out := r.start(`{}`) // started + 2 dispatched
	if got, want := len(out.History), 3; got != want {
		t.Fatalf("start history: got %d entries, want %d", got, want)
	}
	small, err := json.Marshal(r.s)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		r.apply(ReplyInput("x", "a", ReplySuccess, "", nil)) // ignored: unknown command
	}
	if got, want := len(r.hist), 53; got != want {
		t.Errorf("history: got %d entries, want %d", got, want)
	}
	big, err := json.Marshal(r.s)
	if err != nil {
		t.Fatal(err)
	}
	// Only the version and time change: the state does not grow with its history.
	if len(big) > len(small)+4 {
		t.Errorf("state grew from %d to %d bytes over 50 ignored replies", len(small), len(big))
	}
}

func TestStateReadsFormat1(t *testing.T) {
	// A snapshot as podium wrote it before format 2: the history inside the state.
	v1 := `{"format":1,"saga_id":"ord-1","definition":"test","status":"running","input":{},"seed":7,` +
		`"steps":{"a":{"status":"dispatched","do":{"attempt":1,"command_id":"c1","deadline":"2026-01-02T03:04:06Z"}}},` +
		`"version":3,"generation":4,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z",` +
		`"history":[{"time":"2026-01-02T03:04:05Z","kind":"started"}],"history_dropped":2}`
	var s State
	if err := json.Unmarshal([]byte(v1), &s); err != nil {
		t.Fatalf("decoding a format-1 state: %v", err)
	}
	if s.Format != FormatVersion || s.Version != 3 || s.Generation != 4 || s.Steps["a"].Do.CommandID != "c1" {
		t.Errorf("got format %d version %d generation %d command %q, want %d, 3, 4, c1",
			s.Format, s.Version, s.Generation, s.Steps["a"].Do.CommandID, FormatVersion)
	}
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "history") {
		t.Errorf("re-encoded state keeps the history: %s", b)
	}
}

func TestStateJSON(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(` { "html": "<b>&</b>" } `)
	r.apply(ReplyInput(r.cmd("a", false), "a", ReplySuccess, "", json.RawMessage(` {"x" : "<>"}`)))
	b, err := json.Marshal(r.s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"format":2`) || strings.Contains(string(b), `"history"`) {
		t.Errorf("JSON lacks the format version: %s", b)
	}
	var bad map[string]any
	if err := json.Unmarshal(b, &bad); err != nil {
		t.Fatal(err)
	}
	for _, format := range []any{3, 0, nil} {
		bad["format"] = format
		nb, _ := json.Marshal(bad)
		var s State
		if err := json.Unmarshal(nb, &s); err == nil || !strings.Contains(err.Error(), "format") {
			t.Errorf("format %v: got error %v, want unknown format", format, err)
		}
	}
	var s State
	if err := json.Unmarshal([]byte(`{"format":"x"}`), &s); err == nil {
		t.Errorf("malformed JSON: got no error")
	}
	// Local times with monotonic readings are stored as UTC.
	local := time.Now().In(time.FixedZone("X", 3600))
	s2, _, err := r.d.Apply(nil, StartInput("s", nil, 0, ""), local)
	if err != nil {
		t.Fatal(err)
	}
	assertRoundTrip(t, s2)
	if s2.CreatedAt.Location() != time.UTC {
		t.Errorf("created at: got location %v, want UTC", s2.CreatedAt.Location())
	}
}

func TestCloneIsDeep(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("a")
	c := r.s.Clone()
	c.Steps["a"].Result[0] = 'X'
	c.Steps["a"].Do.Answered[0] = "changed"
	c.Milestones = append(c.Milestones[:0:0], "changed")
	c.Input[0] = 'X'
	if string(r.s.Steps["a"].Result) == string(c.Steps["a"].Result) || r.s.Steps["a"].Do.Answered[0] == "changed" ||
		r.s.Input[0] == 'X' {
		t.Errorf("Clone shares memory with the original")
	}
	if (*State)(nil).Clone() != nil {
		t.Errorf("Clone(nil): got non-nil")
	}
}

func TestInFlight(t *testing.T) {
	r := newRun(t, testDefinition())
	if got := r.d.InFlight(nil); got != nil {
		t.Errorf("InFlight(nil): got %v, want nil", got)
	}
	r.start(`{}`)
	r.ok("a")
	r.fire() // b times out
	r.fire() // b attempt 2 ... or e's deadline: fire until b is dispatched again
	got := stepsOf(r.d.InFlight(r.s))
	want := []string{}
	for _, name := range []string{"b", "e"} {
		if r.s.Steps[name].Status == StepDispatched {
			want = append(want, name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("InFlight: got %v, want %v", got, want)
	}
	r.fail("a", "late") // ignored
	r.apply(CancelInput("stop"))
	for _, c := range r.d.InFlight(r.s) {
		if c.Compensation {
			t.Errorf("compensation %s in flight while forward steps are awaited", c.Step)
		}
	}
}

// Waiting answers what InFlight would, without building commands, at every point of a
// saga's life: running, retrying, compensating, finished.
func TestWaitingAgreesWithInFlight(t *testing.T) {
	if testDefinition().Waiting(nil) {
		t.Error("Waiting(nil): true")
	}
	r := newRun(t, testDefinition())
	check := func(when string) {
		t.Helper()
		if got, want := r.d.Waiting(r.s), len(r.d.InFlight(r.s)) > 0; got != want {
			t.Errorf("%s: Waiting %v, InFlight has %d commands", when, got, len(r.d.InFlight(r.s)))
		}
	}
	r.start(`{}`)
	check("started")
	r.ok("a")
	check("after a")
	r.fire()
	check("after a timeout")
	r.fail("b", "x")
	check("compensating")
	// Compensation attempts time out until the saga fails: every timer on the way.
	for i := 0; i < 50; i++ {
		if _, ok := r.s.NextTimer(); !ok {
			break
		}
		r.fire()
		check(fmt.Sprintf("timer %d (status %s)", i, r.s.Status))
	}
	if _, ok := r.s.NextTimer(); ok || r.s.Status == StatusRunning {
		t.Fatalf("the saga still waits after 50 timers: %s", r.s.Status)
	}
}

// A reply that settles an attempt says which, and when the attempt was dispatched; other
// inputs settle nothing.
func TestReplySettlesItsAttempt(t *testing.T) {
	def := testDefinition()
	r := newRun(t, def)
	dispatched := r.now
	if out := r.start(`{}`); out.Settled != nil || out.Ignored != "" {
		t.Fatalf("start: Settled %+v, Ignored %q", out.Settled, out.Ignored)
	}
	r.now = dispatched.Add(1500 * time.Millisecond)
	out := r.ok("a")
	want := &Settlement{Step: "a", Attempt: 1, Outcome: ReplySuccess, DispatchedAt: dispatched}
	if !reflect.DeepEqual(out.Settled, want) {
		t.Errorf("Settled: got %+v, want %+v", out.Settled, want)
	}
	if out := r.fail("b", "no"); out.Settled == nil || out.Settled.Step != "b" || out.Settled.Outcome != ReplyFailure || out.Settled.Compensation {
		t.Errorf("failure of b: Settled %+v", out.Settled)
	}
	for _, name := range []string{"e", "a"} { // e was dispatched beside b: awaited, then a is undone
		if r.s.Steps[name].Status == StepDispatched {
			r.ok(name)
		}
	}
	undoing := ""
	for name, st := range r.s.Steps {
		if st.Status == StepCompensating {
			undoing = name
		}
	}
	if undoing == "" {
		t.Fatalf("no compensation dispatched:\n%s", r.dump())
	}
	if out := r.undone(undoing); out.Settled == nil || !out.Settled.Compensation || out.Settled.Step != undoing {
		t.Errorf("compensation of %s: Settled %+v", undoing, out.Settled)
	}
}

func TestNeedsCompensation(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{}`)
	r.ok("a")
	r.fail("b", "x")
	for step, want := range map[string]bool{"a": true, "b": false, "c": false, "d": false, "e": true, "notify": false} {
		if got := r.d.NeedsCompensation(r.s, step); got != want {
			t.Errorf("NeedsCompensation(%s): got %v, want %v", step, got, want)
		}
	}
}

func TestStatusTerminal(t *testing.T) {
	for status, want := range map[Status]bool{
		StatusRunning: false, StatusCompensating: false, StatusFailed: false,
		StatusCompleted: true, StatusCompensated: true,
	} {
		if got := status.Terminal(); got != want {
			t.Errorf("%s.Terminal(): got %v, want %v", status, got, want)
		}
	}
}

func TestStepStateAwaiting(t *testing.T) {
	for status, want := range map[StepStatus]bool{
		StepPending: false, StepDispatched: true, StepRetryWait: true, StepSucceeded: false,
		StepFailed: false, StepCompensating: true, StepCompensated: false, StepCompensationFailed: false, StepSkipped: false,
	} {
		if got := (&StepState{Status: status}).Awaiting(); got != want {
			t.Errorf("%s.Awaiting(): got %v, want %v", status, got, want)
		}
	}
}

func TestDecodeStateRejectsCorruptBinary(t *testing.T) {
	r := newRun(t, testDefinition())
	r.start(`{"x":1}`)
	r.ok("a")
	b, err := r.s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := DecodeState(b[:n]); err == nil {
			t.Fatalf("DecodeState of the first %d of %d bytes: got no error", n, len(b))
		}
	}
	if _, err := DecodeState(append(slices.Clone(b), 0)); err == nil {
		t.Errorf("DecodeState with a trailing byte: got no error")
	}
	js, _ := json.Marshal(r.s)
	if len(b) >= len(js) {
		t.Errorf("binary state: %d bytes, JSON %d: want the binary smaller", len(b), len(js))
	}
}

func FuzzDecodeState(f *testing.F) {
	s, _, err := testDefinition().Apply(nil, StartInput("saga-1", json.RawMessage(`{}`), 1, ""), t0)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeState(data)
		if err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded state: %v", err)
		}
		if _, err := DecodeState(again); err != nil {
			t.Fatalf("decoding a re-encoded state: %v", err)
		}
	})
}
