package saga

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// TestSuccessorsDoNotWriteIntoShared: Apply's copy shares Input, Milestones and the steps'
// states with its predecessor; writing a step through engine.mut and appending to the lists
// of two copies of one state must write into neither the predecessor nor each other.
func TestSuccessorsDoNotWriteIntoShared(t *testing.T) {
	answered := make([]string, 1, 4) // spare capacity an append would write into
	answered[0] = "c1"
	milestones := make([]string, 1, 4)
	milestones[0] = "m1"
	s := &State{
		Input:      json.RawMessage(`{"x":1}`),
		Milestones: milestones,
		Steps: map[string]*StepState{
			"a":    {Status: StepDispatched, Result: json.RawMessage(`{}`), Do: Phase{Attempt: 1, Answered: answered}},
			"b":    {Status: StepPending},
			"gone": nil,
		},
	}
	before := s.Clone()

	var copies []*State
	for _, tag := range []string{"x", "y"} {
		e := &engine{s: s.successor(), prev: s}
		st := e.mut("a")
		st.Do.Answered = append(st.Do.Answered, tag)
		st.Status = StepSucceeded
		if e.mut("a") != st {
			t.Fatalf("second mut of a step copied it again")
		}
		if e.mut("gone") != nil || e.mut("nope") != nil {
			t.Fatalf("mut of a nil or unknown step: got a step, want nil")
		}
		e.s.Milestones = append(e.s.Milestones, tag)
		copies = append(copies, e.s)
	}
	if !reflect.DeepEqual(s, before) {
		t.Errorf("predecessor changed:\n got %+v\nwant %+v", s, before)
	}
	if got := answered[:2][1]; got != "" {
		t.Errorf("predecessor's Answered array: got %q written after its end, want nothing", got)
	}
	if got := milestones[:2][1]; got != "" {
		t.Errorf("predecessor's Milestones array: got %q written after its end, want nothing", got)
	}
	first := copies[0]
	if got, want := first.Steps["a"].Do.Answered, []string{"c1", "x"}; !slices.Equal(got, want) {
		t.Errorf("first copy's Answered: got %v, want %v", got, want)
	}
	if got, want := first.Milestones, []string{"m1", "x"}; !slices.Equal(got, want) {
		t.Errorf("first copy's Milestones: got %v, want %v", got, want)
	}
	if first.Steps["b"] != s.Steps["b"] || first.Steps["gone"] != nil || len(first.Steps) != 3 {
		t.Errorf("first copy's steps: got %v, want b shared, gone nil", first.Steps)
	}
	if &first.Input[0] != &s.Input[0] || &first.Steps["a"].Result[0] != &s.Steps["a"].Result[0] {
		t.Errorf("Input and Results copied, want them shared")
	}
}

func TestSuccessorOfAStateWithoutSteps(t *testing.T) {
	if got := (&State{SagaID: "s"}).successor(); got.Steps != nil || got.SagaID != "s" {
		t.Errorf("got %+v, want saga s without steps", got)
	}
}

// FuzzCanonicalJSON checks canonicalJSON against what it stands for: json.Marshal of the
// raw message (compacted, HTML-escaped), in a copy that shares nothing with its input.
func FuzzCanonicalJSON(f *testing.F) {
	for _, seed := range []string{
		``, `  `, `{}`, `{"a":1}`, `{"a": 1}`, ` {"a":1}`, "{\"a\":1}\n", `{"a":"x y"}`,
		`{"a":"<b>&"}`, "\"\u2028\u2029\"", `"€"`, `[1,2,{"b":[true,null,-1.5e3]}]`,
		`"\\\""`, `"\\"`, `{"a":"\"}"}`, `{`, `{"a":1}x`, "\"\xff\"", `null`, `"\t"`, "\"\t\"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		orig := bytes.Clone(raw)
		got, ok := canonicalJSON(raw)
		var want []byte
		wantOK := true
		if len(bytes.TrimSpace(raw)) > 0 {
			var err error
			want, err = json.Marshal(json.RawMessage(raw))
			wantOK = err == nil
		}
		if ok != wantOK {
			t.Fatalf("canonicalJSON(%q): got ok %v, want %v", raw, ok, wantOK)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("canonicalJSON(%q): got %q, want %q", raw, got, want)
		}
		if len(got) > 0 {
			got[0] ^= 0xff
			if !bytes.Equal(raw, orig) {
				t.Fatalf("canonicalJSON(%q): the result shares memory with its input", orig)
			}
		}
	})
}
