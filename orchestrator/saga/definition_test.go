package saga

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(d *Definition)
		want   []string // substrings of the joined error; none = valid
	}{
		{name: "valid", modify: func(d *Definition) {}},
		{name: "no name", modify: func(d *Definition) { d.Name = "" }, want: []string{"name is empty"}},
		{name: "no steps", modify: func(d *Definition) { d.Steps = nil; d.Milestones = nil }, want: []string{"no steps"}},
		{name: "negative history limit", modify: func(d *Definition) { d.HistoryLimit = -1 }, want: []string{"history limit -1"}},
		{name: "duplicate step", modify: func(d *Definition) { d.Steps[1].Name = "a" }, want: []string{`step "a": duplicate name`}},
		{name: "on-compensated name clashes", modify: func(d *Definition) { d.OnCompensated[0].Name = "c" }, want: []string{`on-compensated step "c": duplicate name`}},
		{name: "empty step name", modify: func(d *Definition) { d.Steps[4].Name = "" }, want: []string{"step: name is empty"}},
		{name: "slash in name", modify: func(d *Definition) { d.Steps[4].Name = "d/x" }, want: []string{`"d/x": name contains '/'`}},
		{name: "unknown dependency", modify: func(d *Definition) { d.Steps[2].After = []string{"a", "zz"} }, want: []string{`step "c": unknown dependency "zz"`}},
		{name: "self dependency", modify: func(d *Definition) { d.Steps[0].After = []string{"a"} }, want: []string{`step "a": depends on itself`}},
		{name: "dependency twice", modify: func(d *Definition) { d.Steps[2].After = []string{"a", "a"} }, want: []string{`dependency "a" listed twice`}},
		{name: "cycle", modify: func(d *Definition) { d.Steps[0].After = []string{"c"} }, want: []string{"dependency cycle", "a -> c -> a"}},
		{name: "unknown worker", modify: func(d *Definition) { d.Steps[0].Do.Worker = "w9" }, want: []string{`step "a": unknown worker "w9"`}},
		{name: "empty worker", modify: func(d *Definition) { d.Steps[0].Undo.Worker = "" }, want: []string{`step "a" undo: worker is empty`}},
		{name: "no type", modify: func(d *Definition) { d.Steps[0].Do.Type = "" }, want: []string{"command type is empty"}},
		{name: "no builder", modify: func(d *Definition) { d.Steps[1].Undo.Build = nil }, want: []string{`step "b" undo: builder is nil`}},
		{name: "zero timeout", modify: func(d *Definition) { d.Steps[0].Do.Timeout = 0 }, want: []string{"timeout 0s is not positive"}},
		{name: "bad retry", modify: func(d *Definition) { d.Steps[0].Do.Retry = RetryPolicy{MaxAttempts: -1, Multiplier: 0.5} }, want: []string{"max attempts -1", "multiplier 0.5"}},
		{name: "on-compensated with undo and deps", modify: func(d *Definition) {
			d.OnCompensated[0].Undo = undo("w3", "x")
			d.OnCompensated[0].After = []string{"a"}
		}, want: []string{"has an undo action", "has dependencies"}},
		{name: "on-compensated unknown worker", modify: func(d *Definition) { d.OnCompensated[0].Do.Worker = "mail" }, want: []string{`on-compensated step "notify": unknown worker "mail"`}},
		{name: "milestone problems", modify: func(d *Definition) {
			d.Milestones = append(d.Milestones, Milestone{Name: "ab"}, Milestone{After: []string{"zz"}})
		}, want: []string{`milestone "ab": duplicate name`, `milestone "ab": no steps`, "milestone: name is empty", `unknown step "zz"`}},
		{name: "all problems at once", modify: func(d *Definition) {
			d.Name = ""
			d.Steps[0].Do.Timeout = -time.Second
			d.Steps[1].Do.Worker = "nobody"
		}, want: []string{"name is empty", "timeout -1s", `unknown worker "nobody"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefinition()
			tt.modify(d)
			err := d.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestRetryPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    RetryPolicy
		want string
	}{
		{"zero is defaults", RetryPolicy{}, ""},
		{"no jitter", RetryPolicy{Jitter: -1}, ""},
		{"negative initial", RetryPolicy{Initial: -1}, "initial backoff"},
		{"negative max", RetryPolicy{Max: -1}, "max backoff -1ns"},
		{"jitter above one", RetryPolicy{Jitter: 1.5}, "jitter 1.5"},
		{"NaN jitter", RetryPolicy{Jitter: math.NaN()}, "jitter NaN"},
		{"infinite multiplier", RetryPolicy{Multiplier: math.Inf(1)}, "multiplier"},
		{"max below initial", RetryPolicy{Initial: time.Second, Max: time.Millisecond}, "below initial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	got := RetryPolicy{}.WithDefaults()
	want := RetryPolicy{MaxAttempts: 3, Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if again := got.WithDefaults(); again != got {
		t.Errorf("WithDefaults is not idempotent: got %+v, want %+v", again, got)
	}
	if neg := (RetryPolicy{Jitter: -1}).WithDefaults(); neg.Jitter != -1 {
		t.Errorf("negative jitter: got %v, want it kept (disabled)", neg.Jitter)
	}
}

func TestBackoff(t *testing.T) {
	noJitter := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: -1}
	tests := []struct {
		name string
		p    RetryPolicy
		n    int
		want time.Duration
	}{
		{"first", noJitter, 1, 100 * time.Millisecond},
		{"below one is first", noJitter, 0, 100 * time.Millisecond},
		{"second", noJitter, 2, 200 * time.Millisecond},
		{"fourth", noJitter, 4, 800 * time.Millisecond},
		{"capped", noJitter, 5, time.Second},
		{"capped far out", noJitter, 5000, time.Second},
		{"at least 1ns", RetryPolicy{Initial: 1, Max: 1, Jitter: 1}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Backoff(tt.n, 7, "step/do"); got != tt.want {
				t.Errorf("Backoff(%d): got %v, want %v", tt.n, got, tt.want)
			}
		})
	}

	jittered := RetryPolicy{Initial: time.Second, Max: time.Minute, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for seed := range uint64(50) {
		d := jittered.Backoff(1, seed, "a/do")
		if d <= 500*time.Millisecond || d > time.Second {
			t.Fatalf("seed %d: got %v, want in (500ms, 1s]", seed, d)
		}
		if again := jittered.Backoff(1, seed, "a/do"); again != d {
			t.Fatalf("seed %d: got %v then %v, want deterministic", seed, d, again)
		}
		seen[d] = true
	}
	if len(seen) < 40 {
		t.Errorf("jitter: got %d distinct values of 50, want them spread", len(seen))
	}
	if jittered.Backoff(1, 1, "a/do") == jittered.Backoff(1, 1, "b/do") {
		t.Errorf("jitter does not depend on the step")
	}
}

func TestCommandIDs(t *testing.T) {
	ids := map[string]bool{}
	for _, sagaID := range []string{"o1", "o2"} {
		for _, step := range []string{"a", "b"} {
			for _, comp := range []bool{false, true} {
				for attempt := 1; attempt <= 3; attempt++ {
					id := CommandID(sagaID, step, comp, attempt)
					if ids[id] {
						t.Fatalf("duplicate command ID %s", id)
					}
					ids[id] = true
					if id != CommandID(sagaID, step, comp, attempt) {
						t.Fatalf("command ID not deterministic")
					}
				}
			}
		}
	}
	if got, want := IdempotencyKey("o1", "a", true), "o1/a/undo"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestCommandIDsAreStable pins command IDs: IDs in stored states and in flight depend on
// them never changing. Each is uuid.NewSHA1 of "sagaID/step/phase/attempt".
func TestCommandIDsAreStable(t *testing.T) {
	long := strings.Repeat("x", 200) // longer than CommandID's stack buffer
	tests := []struct {
		sagaID, step string
		comp         bool
		attempt      int
		want         string // "" = as uuid.NewSHA1 derives it
	}{
		{"ord-1001", "reserve-inventory", false, 1, "c0aacfc5-8e4d-502e-9b33-18117a89f50f"},
		{"ord-1001", "reserve-inventory", true, 12, "4d2961f7-c0d9-5420-9a40-f276018567fd"},
		{long, "a", false, 3, ""},
		{"s", long, true, 1, ""},
		{"", "", false, 0, ""},
		{"é/ü", "b", true, -1, ""},
	}
	for _, tt := range tests {
		want := tt.want
		if want == "" {
			name := fmt.Sprintf("%s/%s/%s/%d", tt.sagaID, tt.step, phaseName(tt.comp), tt.attempt)
			want = uuid.NewSHA1(commandNamespace, []byte(name)).String()
		}
		if got := CommandID(tt.sagaID, tt.step, tt.comp, tt.attempt); got != want {
			t.Errorf("CommandID(%.10q, %.10q, %v, %d): got %s, want %s", tt.sagaID, tt.step, tt.comp, tt.attempt, got, want)
		}
	}
}

func TestMermaid(t *testing.T) {
	got := testDefinition().Mermaid()
	for _, want := range []string{
		"flowchart LR",
		`s_a["a<br/><small>w1 · a.do</small>"]`,
		`s_d["d<br/><small>w3 · d.do</small><br/><i>optional</i>"]:::optional`,
		"start --> s_a",
		"start --> s_b",
		"s_a --> s_c",
		"s_b --> s_c",
		"s_c --> s_d",
		"s_d --> completed",
		"s_e --> completed",
		`m_ab{{"ab"}}:::milestone`,
		"s_a -.-> m_ab",
		`u_a[/"undo a<br/><small>w1 · a.undo</small>"/]:::undo`,
		"s_a -. undo .-> u_a",
		"u_a -.-> compensated",
		"compensated --> s_notify",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagram lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "u_d") {
		t.Errorf("diagram has an undo node for d, which has none")
	}
	ids := newMermaidIDs()
	for _, tt := range []struct{ prefix, name, want string }{
		{"s", "a-b.c", "s_a_b_c"},
		{"s", "a_b_c", "s_a_b_c_2"}, // collision
		{"s", "a-b.c", "s_a_b_c"},   // stable
		{"u", "a-b.c", "u_a_b_c"},
	} {
		if got := ids.id(tt.prefix, tt.name); got != tt.want {
			t.Errorf("id(%s, %s): got %s, want %s", tt.prefix, tt.name, got, tt.want)
		}
	}
	if got, want := mermaidText(`say "hi"`), "say #quot;hi#quot;"; got != want {
		t.Errorf("mermaidText: got %s, want %s", got, want)
	}
}
