// Package sagatest has helpers for testing saga definitions: [Run] drives one saga input by
// input on a fake clock, as a unit test scripts it, and [Fuzz] feeds a definition random
// interleavings of replies, timers, cancels and retries and checks the engine's invariants
// after every input. Both run the pure engine of package saga: no broker, no clock, no
// goroutines. A Run belongs to one test goroutine.
//
// podium tests its built-in sagas with it (orchestrator/order, orchestrator/returns); a
// user's module tests its own definitions the same way, with a function tripSaga that returns
// the Saga under test (sagatest.Saga{Definition: ..., SagaID: ..., Input: ..., Results: ...}):
//
//	func TestTripCancelsTheFlight(t *testing.T) {
//		r := sagatest.Start(t, tripSaga())
//		r.OK(trip.StepBookFlight)
//		r.Fail(trip.StepBookHotel, "fully_booked")
//		r.Undone(trip.StepBookFlight)
//		if got := r.Definition.Label(r.State); got != trip.StatusCancelled {
//			t.Errorf("status: got %s, want %s", got, trip.StatusCancelled)
//		}
//	}
//
//	func FuzzTripSaga(f *testing.F) {
//		s := tripSaga()
//		f.Add([]byte{0, 0, 0, 0})
//		f.Fuzz(func(t *testing.T, ops []byte) { sagatest.Fuzz(t, s, ops) })
//	}
package sagatest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// defaultStart is the fake clock's time when Saga.Start is zero.
var defaultStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Saga is the saga under test: its definition, the input that starts it, and what its
// workers answer.
type Saga struct {
	// Definition is the saga. Run and Fuzz validate it first and fail the test if it is
	// not valid.
	Definition *saga.Definition
	// SagaID and Input are the saga's ID and its start payload.
	SagaID string
	Input  json.RawMessage
	// Results are the results of the success replies to forward commands, by step name: what
	// the workers return. A step without one replies with no result; a compensation's
	// success never carries one.
	Results map[string]json.RawMessage
	// Start is the fake clock's time when the saga starts. Default: 2026-03-04 05:06:07 UTC.
	Start time.Time
}

func (s Saga) start() time.Time {
	if s.Start.IsZero() {
		return defaultStart
	}
	return s.Start
}

// result is what a reply with outcome to step's command (or its compensation) carries.
func (s Saga) result(step, outcome string, compensation bool) json.RawMessage {
	if outcome != saga.ReplySuccess || compensation {
		return nil
	}
	return s.Results[step]
}

// validate fails t unless the definition is valid.
func (s Saga) validate(t testing.TB) {
	t.Helper()
	if err := s.Definition.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

// Run drives one saga on a fake clock and fails its test at the first input that Apply
// refuses or that leaves a state failing Definition.CheckState. Its fields are there to
// read (and Now to set): the state, every command and event so far.
type Run struct {
	Saga
	T testing.TB
	// State is the saga's state after the latest input.
	State *saga.State
	// Now is the fake clock, the time of the next input. Fire moves it to the next timer.
	Now time.Time
	// Commands and Events are every command and event Apply emitted, in order.
	Commands []saga.Command
	Events   []saga.Event
}

// Start validates s.Definition and starts the saga (a start input with a fixed jitter
// seed and no trace parent) at s.Start.
func Start(t testing.TB, s Saga) *Run {
	t.Helper()
	s.validate(t)
	r := &Run{Saga: s, T: t, Now: s.start()}
	r.Apply(saga.StartInput(s.SagaID, s.Input, 7, ""))
	return r
}

// Apply applies in at Now and returns what it emitted.
func (r *Run) Apply(in saga.Input) saga.Outputs {
	r.T.Helper()
	next, out, err := r.Definition.Apply(r.State, in, r.Now)
	if err != nil {
		r.T.Fatalf("Apply: %v", err)
	}
	if err := r.Definition.CheckState(next); err != nil {
		r.T.Fatalf("invariants: %v", err)
	}
	r.State = next
	r.Commands = append(r.Commands, out.Commands...)
	r.Events = append(r.Events, out.Events...)
	return out
}

// Reply answers the latest attempt of step's forward command (or, with compensation, of
// its compensation) with outcome and reason; a success of a forward command carries the
// step's Results.
func (r *Run) Reply(step, outcome, reason string, compensation bool) saga.Outputs {
	r.T.Helper()
	st := r.State.Steps[step]
	id := st.Do.CommandID
	if compensation {
		id = st.Undo.CommandID
	}
	return r.Apply(saga.ReplyInput(id, step, outcome, reason, r.result(step, outcome, compensation)))
}

// OK answers step's forward command with a success.
func (r *Run) OK(step string) saga.Outputs {
	r.T.Helper()
	return r.Reply(step, saga.ReplySuccess, "", false)
}

// Fail answers step's forward command with a business failure.
func (r *Run) Fail(step, reason string) saga.Outputs {
	r.T.Helper()
	return r.Reply(step, saga.ReplyFailure, reason, false)
}

// Undone answers step's compensation with a success.
func (r *Run) Undone(step string) saga.Outputs {
	r.T.Helper()
	return r.Reply(step, saga.ReplySuccess, "", true)
}

// Fire moves Now to the state's next timer and applies a timer input; it fails the test if
// no timer is set.
func (r *Run) Fire() saga.Outputs {
	r.T.Helper()
	at, ok := r.State.NextTimer()
	if !ok {
		r.T.Fatalf("no timer set (status %s)", r.State.Status)
	}
	r.Now = at
	return r.Apply(saga.TimerInput())
}

// Compensations returns the payloads of the compensation commands in Commands[from:],
// sorted.
func (r *Run) Compensations(from int) []string {
	var out []string
	for _, c := range r.Commands[from:] {
		if c.Compensation {
			out = append(out, string(c.Payload))
		}
	}
	slices.Sort(out)
	return out
}

// UndoWaves checks that the saga compensates in waves: for each wave, the saga is
// compensating, the compensations sent since the previous wave (the first: from
// Commands[from] on) have the payloads of waves[i], in any order, and each is then
// answered with a success. It fails the test at the first wave that differs and returns
// the index in Commands of what the answers to the last wave sent.
func (r *Run) UndoWaves(from int, waves [][]string) int {
	r.T.Helper()
	for i, wave := range waves {
		if r.State.Status != saga.StatusCompensating {
			r.T.Fatalf("wave %d: got status %s, want %s", i, r.State.Status, saga.StatusCompensating)
		}
		if got, want := r.Compensations(from), slices.Sorted(slices.Values(wave)); !slices.Equal(got, want) {
			r.T.Fatalf("wave %d: got %v, want %v", i, got, want)
		}
		var steps []string
		for _, c := range r.Commands[from:] {
			if c.Compensation {
				steps = append(steps, c.Step)
			}
		}
		from = len(r.Commands)
		for _, step := range steps {
			r.Undone(step)
		}
	}
	return from
}
