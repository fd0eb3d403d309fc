package saga

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
)

// decodingDefinition is testDefinition with a DecodeInput that counts its calls and
// builders that put what they find in BuildContext.Decoded into their payload.
func decodingDefinition(calls *int) *Definition {
	d := testDefinition()
	d.DecodeInput = func(sagaID string, input json.RawMessage) (any, error) {
		*calls++
		var in struct {
			Fail string `json:"fail_decode"`
		}
		if err := json.Unmarshal(input, &in); err != nil || in.Fail != "" {
			return nil, errors.Join(err, errors.New("decoding "+sagaID+": bad input"))
		}
		return &in, nil
	}
	build := func(step string) Builder {
		return func(bc BuildContext) (json.RawMessage, error) {
			return json.Marshal(map[string]any{"step": step, "decoded": bc.Decoded})
		}
	}
	for _, list := range [][]Step{d.Steps, d.OnCompensated} {
		for i := range list {
			list[i].Do.Build = build(list[i].Name)
			if list[i].Undo != nil {
				list[i].Undo.Build = build(list[i].Name + "/undo")
			}
		}
	}
	return d
}

func TestDecodeInputOncePerApply(t *testing.T) {
	var calls int
	d := decodingDefinition(&calls)
	s, out, err := d.Apply(nil, StartInput("saga-1", json.RawMessage(`{}`), 1, ""), t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stepsOf(out.Commands), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("start: got commands %v, want %v", got, want)
	}
	if calls != 1 {
		t.Errorf("start: got %d decodes for 2 commands, want 1", calls)
	}
	for _, c := range out.Commands {
		if want := `{"decoded":{"fail_decode":""},"step":"` + c.Step + `"}`; string(c.Payload) != want {
			t.Errorf("payload of %s: got %s, want %s", c.Step, c.Payload, want)
		}
	}

	calls = 0
	inflight := d.InFlight(s)
	if calls != 1 {
		t.Errorf("InFlight: got %d decodes for %d commands, want 1", calls, len(inflight))
	}
	if !reflect.DeepEqual(inflight, out.Commands) && !reflect.DeepEqual(inflight, []Command{out.Commands[1], out.Commands[0]}) {
		t.Errorf("InFlight: got %+v, want the commands sent %+v", inflight, out.Commands)
	}

	calls = 0
	if _, _, err := d.Apply(s, TimerInput(), t0); err != nil { // nothing due: nothing built
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("timer without commands: got %d decodes, want 0", calls)
	}
}

func TestDecodeInputErrorFailsTheBuild(t *testing.T) {
	var calls int
	r := newRun(t, decodingDefinition(&calls))
	out := r.start(`{"fail_decode":"yes"}`)
	if len(out.Commands) != 0 {
		t.Errorf("got %d commands, want none", len(out.Commands))
	}
	if calls != 1 {
		t.Errorf("got %d decodes for 2 builds, want 1", calls)
	}
	var failed []string
	for _, h := range out.History {
		if h.Kind == HistoryBuildFailed {
			failed = append(failed, h.Step)
			if want := `building do command of step "` + h.Step + `": decoding saga-1: bad input`; h.Detail != want {
				t.Errorf("build failure of %s: got %q, want %q", h.Step, h.Detail, want)
			}
		}
	}
	// a's failure cancels the saga (b is skipped), which is compensated at once: notify fails too.
	if want := []string{"a", "notify"}; !slices.Equal(failed, want) {
		t.Errorf("build failures: got %v, want %v", failed, want)
	}
	r.wantStatus(StatusCompensated)
}

func TestBuildersWithoutDecodeInputSeeNoDecoded(t *testing.T) {
	d := testDefinition()
	var seen []any
	d.Steps[0].Do.Build = func(bc BuildContext) (json.RawMessage, error) {
		seen = append(seen, bc.Decoded)
		return json.RawMessage(`{}`), nil
	}
	if _, _, err := d.Apply(nil, StartInput("saga-1", json.RawMessage(`{}`), 1, ""), t0); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != nil {
		t.Errorf("got Decoded %v, want one nil", seen)
	}
}

func TestIndexFollowsTheDefinition(t *testing.T) {
	tests := []struct {
		name   string
		modify func(d *Definition)
	}{
		{"unchanged", func(d *Definition) {}},
		{"renamed", func(d *Definition) { d.Name = "other" }},
		{"new version", func(d *Definition) { d.Version = 3 }},
		{"step renamed", func(d *Definition) { d.Steps[4].Name = "dd" }},
		{"dependencies replaced", func(d *Definition) { d.Steps[4].After = []string{"e"} }},
		{"steps replaced", func(d *Definition) {
			d.Steps = append(slices.Clip(d.Steps), Step{Name: "f", Do: act("w3", "f.do"), After: []string{"d"}})
		}},
		{"on-compensated steps replaced", func(d *Definition) { d.OnCompensated = nil }},
		{"on-compensated step renamed", func(d *Definition) { d.OnCompensated[0].Name = "tell" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefinition()
			first := d.index()
			if d.index() != first {
				t.Fatalf("index of an unchanged definition built again")
			}
			tt.modify(d)
			if got, want := d.index(), d.buildIndex(); !reflect.DeepEqual(got, want) {
				t.Errorf("got index %+v, want %+v", got, want)
			}
			s, _, err := d.Apply(nil, StartInput("saga-1", json.RawMessage(`{}`), 1, ""), t0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Definition != d.ID() {
				t.Errorf("state of definition %q, want %q", s.Definition, d.ID())
			}
			var names []string
			for _, list := range [][]Step{d.Steps, d.OnCompensated} {
				for _, st := range list {
					names = append(names, st.Name)
				}
			}
			slices.Sort(names)
			if got := slices.Sorted(maps.Keys(s.Steps)); !slices.Equal(got, names) {
				t.Errorf("state steps: got %v, want %v", got, names)
			}
		})
	}
}

func TestIndexOfACopy(t *testing.T) {
	d := testDefinition()
	d.index()
	c := *d
	c.Name = "copy"
	if got := c.index().id; got != "copy" {
		t.Errorf("copy's index: got ID %q, want copy", got)
	}
	if got := d.index().id; got != "test" {
		t.Errorf("original's index after the copy's: got ID %q, want test", got)
	}
	if owner := c.ix.Load().(*cachedIndex).owner; owner != &c {
		t.Errorf("copy's cached index belongs to %p, want %p", owner, &c)
	}
}

// TestApplyConcurrentlyOnOneDefinition: the index is cached in the definition on first use;
// sagas applied at once on a fresh definition (run with -race) agree with one another.
func TestApplyConcurrentlyOnOneDefinition(t *testing.T) {
	d := testDefinition()
	const workers = 4
	finals := make([][]byte, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			s, out, err := d.Apply(nil, StartInput("saga-1", json.RawMessage(`{}`), 1, ""), t0)
			for err == nil && len(out.Commands) > 0 {
				c := out.Commands[0]
				s, out, err = d.Apply(s, ReplyInput(c.ID, c.Step, ReplySuccess, "", json.RawMessage(`{}`)), t0)
			}
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
				return
			}
			finals[i], _ = json.Marshal(s)
		})
	}
	wg.Wait()
	for i := 1; i < workers; i++ {
		if string(finals[i]) != string(finals[0]) {
			t.Errorf("worker %d: got state %s, want %s", i, finals[i], finals[0])
		}
	}
}
