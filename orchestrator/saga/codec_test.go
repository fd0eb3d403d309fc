package saga

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// codecState is a state that sets every field the binary format carries: both phases, an
// answered command that is the latest attempt's and one that is not, a result, milestones.
func codecState() *State {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	return &State{
		Format: FormatVersion, SagaID: "ord-1", Definition: "order/v3", Status: StatusCompensating,
		Input: json.RawMessage(`{"order_id":"ord-1"}`), Seed: 42, TraceParent: "00-abc-def-01",
		Milestones: []string{"reserved", "paid"}, Reason: "out_of_stock", FailedStep: "ship",
		Version: 9, Generation: 3, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		Steps: map[string]*StepState{
			"reserve": {
				Status: StepCompensating, Outcome: OutcomeSuccess, Result: json.RawMessage(`{"id":"res-1"}`),
				Do:   Phase{Attempt: 2, CommandID: "cmd-r2", Answered: []string{"cmd-r1", "cmd-r2"}, Reason: "timeout"},
				Undo: Phase{Attempt: 1, CommandID: "cmd-u1", Deadline: at.Add(time.Minute)},
			},
			"ship": {
				Status: StepFailed, Outcome: OutcomeFailure,
				Do: Phase{Attempt: 1, Base: 1, CommandID: "cmd-s1", Answered: []string{"cmd-s1"}, Reason: "out_of_stock"},
			},
			"notify": {Status: StepPending, Do: Phase{RetryAt: at.Add(time.Hour)}},
		},
	}
}

// The decoded state owns its memory: restore decodes from fetched buffers that are reused.
func TestDecodeStateDoesNotReferToItsInput(t *testing.T) {
	want := codecState()
	b, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"binary": b, "json": js} {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeState(data)
			if err != nil {
				t.Fatalf("DecodeState: %v", err)
			}
			for i := range data {
				data[i] = 'x'
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after overwriting the input, got %+v, want %+v", got, want)
			}
		})
	}
}

// The Answered lists of a decoded state share one array: each is clipped, so that appending
// to one (as Apply does) copies it instead of overwriting the next.
func TestDecodeStateAnsweredListsAreClipped(t *testing.T) {
	b, err := codecState().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range s.Steps {
		for _, p := range []*Phase{&st.Do, &st.Undo} {
			if cap(p.Answered) != len(p.Answered) {
				t.Errorf("step %s: got Answered of length %d and capacity %d, want them equal", name, len(p.Answered), cap(p.Answered))
			}
		}
	}
	before := slices.Clone(s.Steps["ship"].Do.Answered)
	s.Steps["reserve"].Do.Answered = append(s.Steps["reserve"].Do.Answered, "cmd-r3")
	if got := s.Steps["ship"].Do.Answered; !slices.Equal(got, before) {
		t.Errorf("after appending to another list, got ship's Answered %v, want %v", got, before)
	}
}

// Two decodings of a snapshot share their step names, definition and milestones (interned)
// and an answered command ID equal to the phase's CommandID is that string: restore does not
// allocate them for every saga.
func TestDecodeStateSharesNames(t *testing.T) {
	b, err := codecState().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s1, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for name := range s1.Steps {
		var other string
		for n := range s2.Steps {
			if n == name {
				other = n
			}
		}
		if !same(name, other) {
			t.Errorf("step %q: got two copies of its name, want one", name)
		}
	}
	if !same(s1.Definition, s2.Definition) || !same(s1.FailedStep, s2.FailedStep) || !same(s1.Milestones[0], s2.Milestones[0]) {
		t.Errorf("got copies of the definition, failed step or milestones, want them shared")
	}
	if same(s1.SagaID, s2.SagaID) {
		t.Errorf("got the saga ID interned, want a copy per state")
	}
	ship := s1.Steps["ship"].Do
	if !same(ship.Answered[0], ship.CommandID) {
		t.Errorf("got the answered command ID %q apart from the CommandID, want the same string", ship.Answered[0])
	}
}

func TestInternIsBounded(t *testing.T) {
	long := strings.Repeat("n", maxInternedLen+1)
	d := decoder{b: appendString(nil, long)}
	if a, b := d.name(), long; unsafe.StringData(a) == unsafe.StringData(b) || a != b {
		t.Errorf("got %q, want a copy of the long name", a)
	}
	saved := interned.names.Load()
	defer interned.names.Store(saved) // other tests expect room for their names
	for i := range maxInterned + 10 {
		intern(fmt.Sprintf("bounded-%d", i))
	}
	if n := len(*interned.names.Load()); n > maxInterned {
		t.Errorf("got %d interned names, want at most %d", n, maxInterned)
	}
}
