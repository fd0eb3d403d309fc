package chaos

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// TestLifeFindsResurrections feeds one saga key's records, in log order, and expects a
// resurrection exactly where a finished saga is put back in flight.
func TestLifeFindsResurrections(t *testing.T) {
	running := func(v uint64) *saga.State { return &saga.State{Status: saga.StatusRunning, Version: v} }
	done := func(v uint64) *saga.State { return &saga.State{Status: saga.StatusCompleted, Version: v} }
	notifying := func(v uint64) *saga.State { // compensated, its notice still in flight
		return &saga.State{Status: saga.StatusCompensated, Version: v, Steps: map[string]*saga.StepState{"n": {Status: saga.StepDispatched}}}
	}
	var tombstone *saga.State
	cases := []struct {
		name    string
		records []*saga.State
		want    []int // indexes of the records reported
	}{
		{"a saga's life", []*saga.State{running(1), running(2), done(3), tombstone}, nil},
		{"a late write of an older writer before the tombstone", []*saga.State{running(1), done(3), running(2), tombstone}, nil},
		{"a tombstone of a saga never finished, then a new one", []*saga.State{running(1), tombstone, running(1)}, nil},
		{"in flight after the tombstone", []*saga.State{running(1), done(3), tombstone, running(2)}, []int{3}},
		{"in flight again after the tombstone, twice", []*saga.State{done(3), tombstone, running(1), running(2)}, []int{2, 3}},
		{"a higher version in flight after finishing", []*saga.State{running(1), done(3), running(4)}, []int{2}},
		{"a notice in flight after the tombstone", []*saga.State{done(3), tombstone, notifying(2)}, []int{2}},
		{"the marker written again after the tombstone", []*saga.State{done(3), tombstone, done(3)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var l life
			var got []int
			for i, s := range c.records {
				if s == nil {
					l.tombstone()
					continue
				}
				if problem := l.snapshot(s); problem != "" {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("resurrections at %v, want %v", got, c.want)
			}
		})
	}
}

func TestAddTimeline(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	rec := func(v uint64, status saga.Status, entries ...events.TimelineEntry) events.SagaTimeline {
		return events.SagaTimeline{SagaID: "o1", Version: v, Status: string(status), Entries: entries}
	}
	started := func(s int) events.TimelineEntry { return events.TimelineEntry{Time: at(s), Kind: saga.HistoryStarted} }
	dispatched := func(s int) events.TimelineEntry {
		return events.TimelineEntry{Time: at(s), Kind: saga.HistoryDispatched, Step: "reserve-inventory"}
	}
	stepCompensated := func(s int) events.TimelineEntry {
		return events.TimelineEntry{Time: at(s), Kind: saga.HistoryCompensated, Step: "reserve-inventory"}
	}
	sagaCompensated := func(s int) events.TimelineEntry {
		return events.TimelineEntry{Time: at(s), Kind: saga.HistoryCompensated}
	}

	timelines, seen := map[string]*Timeline{}, map[uint64]bool{}
	for _, r := range []events.SagaTimeline{
		rec(1, saga.StatusRunning, started(0), dispatched(0)),
		rec(1, saga.StatusRunning, started(5), dispatched(5)), // a redo of version 1
		rec(3, saga.StatusCompensating, stepCompensated(6)),
		rec(4, saga.StatusCompensated, sagaCompensated(7)),
		rec(2, saga.StatusRunning, dispatched(8)), // a late write of an older writer
	} {
		addTimeline(timelines, r, seen)
	}
	tl := timelines["o1"]
	if tl == nil {
		t.Fatal("no timeline")
	}
	if tl.Records != 5 || tl.Repeats != 1 {
		t.Errorf("records/repeats = %d/%d, want 5/1", tl.Records, tl.Repeats)
	}
	if tl.Version != 4 || tl.Status != string(saga.StatusCompensated) {
		t.Errorf("final = v%d %s, want v4 compensated", tl.Version, tl.Status)
	}
	if len(tl.Started) != 2 || !tl.Started[0].Equal(at(0)) || !tl.Started[1].Equal(at(5)) {
		t.Errorf("started = %v, want [%v %v] (the redo's too)", tl.Started, at(0), at(5))
	}
	if !tl.Finished.Equal(at(7)) {
		t.Errorf("finished = %v, want %v (the saga's compensated entry, not the step's)", tl.Finished, at(7))
	}
}

func TestIsMarker(t *testing.T) {
	cases := []struct {
		name string
		s    saga.State
		want bool
	}{
		{"marker", saga.State{Status: saga.StatusCompleted, Steps: map[string]*saga.StepState{"a": {Status: saga.StepSucceeded}}}, true},
		{"input kept", saga.State{Input: json.RawMessage(`{}`)}, false},
		{"result kept", saga.State{Steps: map[string]*saga.StepState{"a": {Result: json.RawMessage(`{"ref":"x"}`)}}}, false},
		{"answered kept", saga.State{Steps: map[string]*saga.StepState{"a": {Undo: saga.Phase{Answered: []string{"c1"}}}}}, false},
	}
	for _, c := range cases {
		if got := isMarker(&c.s); got != c.want {
			t.Errorf("%s: isMarker = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDuplicateWatch(t *testing.T) {
	w := NewDuplicateWatch()
	for _, line := range []string{
		`{"level":"info","component":"orchestrator","partition":3,"order_id":"o1","type":"podium.order.placed.v1","topic":"orders.placed","offset":7,"status":"completed","message":"ignoring record for a finished saga"}`,
		`{"level":"info","order_id":"o1","topic":"payment.replies","message":"ignoring record for a finished saga"}`,
		`{"level":"info","order_id":"o2","message":"partition restored"}`,
		`not json "message":"ignoring record for a finished saga"`,
	} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	got := w.Counts()
	if len(got) != 1 || got["o1"] != 1 {
		t.Errorf("counts = %v, want map[o1:1] (only the OrderPlaced)", got)
	}
}
