package sagatest_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/orchestrator/saga/sagatest"
)

// tripDefinition books a flight, then pays; a failure cancels the flight and, once
// compensated, notifies the traveller. build makes every payload.
func tripDefinition(build func(typ string) saga.Builder) *saga.Definition {
	action := func(worker, typ string) saga.Action {
		return saga.Action{Worker: worker, Type: typ, Build: build(typ), Timeout: time.Second,
			Retry: saga.RetryPolicy{MaxAttempts: 2, Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond}}
	}
	cancel := action("airline", "cancel-flight")
	return &saga.Definition{
		Name:    "trip",
		Workers: []string{"airline", "bank", "mail"},
		Steps: []saga.Step{
			{Name: "flight", Do: action("airline", "book-flight"), Undo: &cancel},
			{Name: "payment", Do: action("bank", "pay"), After: []string{"flight"}},
		},
		OnCompensated: []saga.Step{{Name: "notify", Do: action("mail", "notify")}},
	}
}

// pure builds a payload of the command type, the saga and the flight's result.
func pure(typ string) saga.Builder {
	return func(bc saga.BuildContext) (json.RawMessage, error) {
		return json.Marshal(map[string]string{"type": typ, "trip": bc.SagaID, "pnr": saga.ResultField(bc, "flight", "pnr")})
	}
}

func trip(build func(typ string) saga.Builder) sagatest.Saga {
	return sagatest.Saga{
		Definition: tripDefinition(build),
		SagaID:     "trip-1",
		Input:      json.RawMessage(`{}`),
		Results:    map[string]json.RawMessage{"flight": json.RawMessage(`{"pnr":"X1"}`)},
	}
}

func TestRun(t *testing.T) {
	r := sagatest.Start(t, trip(pure))
	r.OK("flight")
	r.Fail("payment", "card_declined")
	cancel := `{"pnr":"X1","trip":"trip-1","type":"cancel-flight"}`
	if n := r.UndoWaves(0, [][]string{{cancel}}); n != 3 {
		t.Errorf("index after the last wave: got %d, want 3", n)
	}
	var got []string
	for _, c := range r.Commands {
		got = append(got, c.Step+" "+string(c.Payload))
	}
	want := []string{
		`flight {"pnr":"","trip":"trip-1","type":"book-flight"}`,
		`payment {"pnr":"X1","trip":"trip-1","type":"pay"}`,
		"flight " + cancel,
		`notify {"pnr":"X1","trip":"trip-1","type":"notify"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
	if r.State.Status != saga.StatusCompensated || r.State.Reason != "card_declined" {
		t.Errorf("state: got %s %q, want %s %q", r.State.Status, r.State.Reason, saga.StatusCompensated, "card_declined")
	}
	if len(r.Events) != 1 || r.Events[0].Kind != saga.EventCompensated {
		t.Errorf("events: got %+v, want one compensated", r.Events)
	}
}

func TestRunFire(t *testing.T) {
	s := trip(pure)
	s.Start = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	r := sagatest.Start(t, s)
	r.Fire() // the flight's first attempt times out
	out := r.Fire()
	if len(out.Commands) != 1 || out.Commands[0].Attempt != 2 {
		t.Fatalf("after the backoff: got %+v, want attempt 2 of the flight", out.Commands)
	}
	if got, want := r.Now, s.Start.Add(time.Second); !got.After(want) {
		t.Errorf("clock: got %v, want after the first deadline %v", got, want)
	}
}

func FuzzTripSaga(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0})             // happy path
	f.Add([]byte{0, 0, 1, 0, 1, 0, 8, 0}) // payment fails, compensation fails, retry
	f.Add([]byte{7, 0, 5, 0, 4, 0, 9, 1}) // cancel, timeout, late reply, duplicate start
	s := trip(pure)
	f.Fuzz(func(t *testing.T, ops []byte) { sagatest.Fuzz(t, s, ops) })
}

// fatal records the first Fatalf and stops the helper that called it.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}

func (f *fatal) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// failure runs fn against a fake TB and returns what it failed with ("" if it did not).
func failure(t *testing.T, fn func(tb testing.TB)) (msg string) {
	t.Helper()
	f := &fatal{TB: t}
	defer func() {
		if v := recover(); v != nil && v != f {
			panic(v)
		}
		msg = f.msg
	}()
	fn(f)
	return ""
}

func TestFuzzFailsOnBrokenDefinitions(t *testing.T) {
	impure := func(typ string) saga.Builder { // a new payload on every build
		n := 0
		return func(saga.BuildContext) (json.RawMessage, error) {
			n++
			return json.Marshal(map[string]any{"type": typ, "n": n})
		}
	}
	invalid := trip(pure)
	invalid.Definition.Steps[1].After = []string{"hotel"}
	tests := []struct {
		name string
		s    sagatest.Saga
		want string
	}{
		{"impure builder", trip(impure), "InFlight"},
		{"invalid definition", invalid, "Validate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := failure(t, func(tb testing.TB) { sagatest.Fuzz(tb, tt.s, []byte{0, 0}) })
			if !strings.Contains(got, tt.want) {
				t.Errorf("got failure %q, want one mentioning %q", got, tt.want)
			}
		})
	}
}
