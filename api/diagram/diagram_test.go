package diagram

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

func TestOrderSagaLayout(t *testing.T) {
	l := New(order.Definition())
	wantColumns := map[string]int{
		"start":                                  0,
		StepID(order.StepReserveInventory):       1,
		StepID(order.StepAuthorizePayment):       1,
		MilestoneID(order.MilestoneApproved):     2,
		StepID(order.StepPrepareShipment):        3,
		StepID(order.StepAssignDelivery):         3,
		StepID(order.StepSendConfirmation):       4,
		"completed":                              5,
		"compensated":                            0,
		StepID(order.StepSendCancellationNotice): 1,
	}
	for id, want := range wantColumns {
		n, ok := l.Node(id)
		if !ok {
			t.Errorf("node %s: missing", id)
			continue
		}
		if n.Column != want {
			t.Errorf("node %s: got column %d, want %d", id, n.Column, want)
		}
	}
	if len(l.Nodes) != len(wantColumns) {
		t.Errorf("got %d nodes, want %d", len(l.Nodes), len(wantColumns))
	}
	// The approved milestone is the junction between the two stages: no direct edges.
	for _, e := range []Edge{
		{StepID(order.StepReserveInventory), MilestoneID(order.MilestoneApproved)},
		{StepID(order.StepAuthorizePayment), MilestoneID(order.MilestoneApproved)},
		{MilestoneID(order.MilestoneApproved), StepID(order.StepPrepareShipment)},
		{MilestoneID(order.MilestoneApproved), StepID(order.StepAssignDelivery)},
		{StepID(order.StepSendConfirmation), "completed"},
		{"compensated", StepID(order.StepSendCancellationNotice)},
	} {
		if !slices.Contains(l.Edges, e) {
			t.Errorf("edge %s -> %s: missing", e.From, e.To)
		}
	}
	if slices.Contains(l.Edges, Edge{StepID(order.StepReserveInventory), StepID(order.StepPrepareShipment)}) {
		t.Error("got a direct reserve-inventory -> prepare-shipment edge, want it routed through approved")
	}
	// The compensation band is below every forward node.
	cn, _ := l.Node("compensated")
	for _, n := range l.Nodes {
		if n.Kind != KindCompensated && n.Kind != KindOnCompensated && n.Y+n.H > l.BandY {
			t.Errorf("node %s reaches into the band (%v > %v)", n.ID, n.Y+n.H, l.BandY)
		}
	}
	if cn.Y < l.BandY {
		t.Errorf("compensated node at y %v, want below the band's top %v", cn.Y, l.BandY)
	}
	assertNoOverlap(t, l)
}

func TestLayoutOfAnotherDefinition(t *testing.T) {
	act := saga.Action{Worker: "w", Type: "podium.w.do.v1", Timeout: time.Second,
		Build: func(saga.BuildContext) (json.RawMessage, error) { return nil, nil }}
	// a -> b, a -> c, (b, c) -> d, c -> e; no milestones; e has a compensation.
	d := &saga.Definition{Name: "diamond", Workers: []string{"w"}, Steps: []saga.Step{
		{Name: "a", Do: act},
		{Name: "b", Do: act, After: []string{"a"}},
		{Name: "c", Do: act, After: []string{"a"}},
		{Name: "d", Do: act, After: []string{"b", "c"}},
		{Name: "e", Do: act, After: []string{"c"}, Undo: &act},
	}}
	if err := d.Validate(); err != nil {
		t.Fatalf("definition: %v", err)
	}
	l := New(d)
	for id, want := range map[string]int{"start": 0, "step:a": 1, "step:b": 2, "step:c": 2, "step:d": 3, "step:e": 3, "completed": 4, "compensated": 0} {
		if n, _ := l.Node(id); n.Column != want {
			t.Errorf("node %s: got column %d, want %d", id, n.Column, want)
		}
	}
	for _, e := range []Edge{{"start", "step:a"}, {"step:b", "step:d"}, {"step:c", "step:d"}, {"step:c", "step:e"}, {"step:d", "completed"}, {"step:e", "completed"}} {
		if !slices.Contains(l.Edges, e) {
			t.Errorf("edge %s -> %s: missing", e.From, e.To)
		}
	}
	if len(l.Edges) != 8 {
		t.Errorf("got %d edges %v, want 8", len(l.Edges), l.Edges)
	}
	assertNoOverlap(t, l)
	assertWellFormed(t, New(d).SVG(nil))
}

func assertNoOverlap(t *testing.T, l *Layout) {
	t.Helper()
	for i, a := range l.Nodes {
		if a.X < 0 || a.Y < 0 || a.X+a.W > l.Width || a.Y+a.H > l.Height {
			t.Errorf("node %s (%v,%v %vx%v) outside the %vx%v canvas", a.ID, a.X, a.Y, a.W, a.H, l.Width, l.Height)
		}
		for _, b := range l.Nodes[i+1:] {
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("nodes %s and %s overlap", a.ID, b.ID)
			}
		}
	}
}

// assertWellFormed parses the whole document as XML.
func assertWellFormed(t *testing.T, svg []byte) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
	}
}

func TestSVGColoursStepsByState(t *testing.T) {
	d := order.Definition()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	apply := func(s *saga.State, in saga.Input) *saga.State {
		t.Helper()
		now = now.Add(time.Millisecond)
		next, _, err := d.Apply(s, in, now)
		if err != nil {
			t.Fatal(err)
		}
		return next
	}
	reply := func(s *saga.State, step string, undo bool, outcome, reason string) *saga.State {
		p := s.Steps[step].Do
		if undo {
			p = s.Steps[step].Undo
		}
		return apply(s, saga.ReplyInput(p.CommandID, step, outcome, reason, nil))
	}
	s := apply(nil, saga.StartInput("ord-<1>", json.RawMessage(`{"order_id":"ord-1"}`), 1, ""))
	s = reply(s, order.StepReserveInventory, false, saga.ReplySuccess, "")
	s = reply(s, order.StepAuthorizePayment, false, saga.ReplyFailure, "card_declined")
	s = reply(s, order.StepReserveInventory, true, saga.ReplySuccess, "")

	svg := New(d).SVG(s)
	assertWellFormed(t, svg)
	out := string(svg)
	for _, want := range []string{
		`data-step="reserve-inventory" data-state="compensated"`,
		`data-undo-state="compensated"`,
		`data-step="authorize-payment" data-state="failed"`,
		`card_declined`,
		`data-step="prepare-shipment" data-state="skipped"`,
		`data-step="send-cancellation-notice" data-state="dispatched"`,
		`class="node compensated reached"`,
		`ord-&lt;1&gt;`, // the title, escaped
		Colours[saga.StepCompensated].Stroke,
		Colours[saga.StepFailed].Stroke,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("SVG: missing %s", want)
		}
	}
	if strings.Contains(out, `class="node milestone reached"`) {
		t.Error("approved milestone drawn as reached, want not reached")
	}

	plain := string(SVG(d))
	assertWellFormed(t, []byte(plain))
	if strings.Contains(plain, "data-state=") {
		t.Error("definition without state: got step states, want none")
	}
	if !strings.Contains(plain, "⏱ 10s · 4 attempts") {
		t.Error("definition without state: missing the step policy line")
	}
}

func TestShortType(t *testing.T) {
	tests := []struct{ worker, typ, want string }{
		{"inventory", "podium.inventory.reserve.v1", "reserve"},
		{"seller", "podium.seller.prepare-shipment.v12", "prepare-shipment"},
		{"x", "com.example.thing.v1", "com.example.thing"},
		{"x", "podium.y.vx", "y.vx"},
	}
	for _, tc := range tests {
		if got := ShortType(tc.worker, tc.typ); got != tc.want {
			t.Errorf("ShortType(%q, %q): got %q, want %q", tc.worker, tc.typ, got, tc.want)
		}
	}
}

func ExampleNew() {
	l := New(order.Definition())
	for _, n := range l.Nodes {
		if n.Kind != KindOnCompensated && n.Kind != KindCompensated {
			fmt.Printf("column %d: %s\n", n.Column, n.ID)
		}
	}
	// Output:
	// column 0: start
	// column 1: step:reserve-inventory
	// column 1: step:authorize-payment
	// column 2: milestone:approved
	// column 3: step:prepare-shipment
	// column 3: step:assign-delivery
	// column 4: step:send-confirmation
	// column 5: completed
}
