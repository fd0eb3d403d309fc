package api

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// rec is a timeline record of ord-z from base to version, whose entries are named by
// details (kind "step"), one second apart from at.
func rec(base *uint64, version uint64, status saga.Status, at time.Time, details ...string) events.SagaTimeline {
	tl := events.SagaTimeline{SagaID: "ord-z", Definition: "order", Version: version, BaseVersion: base, Status: string(status)}
	for i, d := range details {
		tl.Entries = append(tl.Entries, events.TimelineEntry{Time: at.Add(time.Duration(i) * time.Second), Kind: "step", Detail: d})
	}
	return tl
}

func base(v uint64) *uint64 { return &v }

func details(tl []events.TimelineEntry) []string {
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Detail
	}
	return out
}

// TestTimelineAfterFailover plays what the chaos suite found: a zombie owner wrote records
// for versions 4..6 from the snapshot at version 3, then the new owner, restored from
// version 3, redid them differently and completed. The new owner's records replace the
// zombie's; a redelivery (same base and version) is skipped; records without a base
// version keep the old rule.
func TestTimelineAfterFailover(t *testing.T) {
	type step struct {
		name        string
		rec         events.SagaTimeline
		wantApplied bool
		want        []string
		wantStatus  string
	}
	steps := []step{
		{"v1..3 by the first owner", rec(base(0), 3, saga.StatusRunning, t0, "a", "b", "c"), true,
			[]string{"a", "b", "c"}, string(order.StatusPending)},
		{"zombie: base 3 → v5", rec(base(3), 5, saga.StatusRunning, t0.Add(10*time.Second), "z4", "z5"), true,
			[]string{"a", "b", "c", "z4", "z5"}, string(order.StatusPending)},
		{"zombie: base 5 → v6", rec(base(5), 6, saga.StatusRunning, t0.Add(20*time.Second), "z6"), true,
			[]string{"a", "b", "c", "z4", "z5", "z6"}, string(order.StatusPending)},
		{"new owner: base 3 → v6, diverged", rec(base(3), 6, saga.StatusRunning, t0.Add(30*time.Second), "o4", "o5", "o6"), true,
			[]string{"a", "b", "c", "o4", "o5", "o6"}, string(order.StatusPending)},
		{"redelivery of the owner's record", rec(base(3), 6, saga.StatusRunning, t0.Add(40*time.Second), "r4", "r5", "r6"), false,
			[]string{"a", "b", "c", "o4", "o5", "o6"}, string(order.StatusPending)},
		{"a late zombie record: base 5 → v6 (base 5 is not the owner's)", rec(base(5), 6, saga.StatusRunning, t0.Add(45*time.Second), "late"), false,
			[]string{"a", "b", "c", "o4", "o5", "o6"}, string(order.StatusPending)},
		{"new owner completes: base 6 → v7", rec(base(6), 7, saga.StatusCompleted, t0.Add(50*time.Second), "done"), true,
			[]string{"a", "b", "c", "o4", "o5", "o6", "done"}, string(order.StatusCompleted)},
		{"an old-format record at or below v7 is skipped", rec(nil, 7, saga.StatusRunning, t0.Add(60*time.Second), "old"), false,
			[]string{"a", "b", "c", "o4", "o5", "o6", "done"}, string(order.StatusCompleted)},
	}
	m, _ := newTestModel(t, Limits{})
	for _, s := range steps {
		ch := applyRecord(t, m, s.rec)
		if ch.Applied != s.wantApplied {
			t.Errorf("%s: got applied %v, want %v", s.name, ch.Applied, s.wantApplied)
		}
		v, _ := m.view("ord-z")
		if got := details(v.timeline(m.syms)); !slices.Equal(got, s.want) {
			t.Errorf("%s: got timeline %v, want %v", s.name, got, s.want)
		}
		if v.Status != s.wantStatus {
			t.Errorf("%s: got status %s, want %s", s.name, v.Status, s.wantStatus)
		}
	}
	if v, _ := m.view("ord-z"); v.Version != 7 || !v.UpdatedAt.Equal(t0.Add(50*time.Second)) {
		t.Errorf("got version %d updated %v, want 7 and the completion's time", v.Version, v.UpdatedAt)
	}
}

// TestTimelineReplaceUndoesApproved checks that what a replaced record said is gone: the
// zombie's approved milestone. (A record with the base and version of the zombie's would be
// taken for a redelivery: the records are told apart by those two numbers only.)
func TestTimelineReplaceUndoesApproved(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	applyRecord(t, m, rec(base(0), 2, saga.StatusRunning, t0, "a", "b"))
	z := rec(base(2), 3, saga.StatusRunning, t0.Add(time.Minute), "z")
	z.Entries = append(z.Entries, events.TimelineEntry{Time: t0.Add(time.Minute), Kind: saga.HistoryMilestone, Detail: order.MilestoneApproved})
	applyRecord(t, m, z)
	if v, _ := m.view("ord-z"); v.Status != string(order.StatusApproved) {
		t.Fatalf("after the zombie's record: got %s, want approved", v.Status)
	}
	applyRecord(t, m, rec(base(2), 4, saga.StatusRunning, t0.Add(10*time.Second), "o")) // same base, other version
	v, _ := m.view("ord-z")
	if got, want := details(v.timeline(m.syms)), []string{"a", "b", "o"}; !slices.Equal(got, want) {
		t.Errorf("got timeline %v, want %v", got, want)
	}
	if v.Status != string(order.StatusPending) {
		t.Errorf("got status %s, want pending (the approval was the zombie's)", v.Status)
	}
}

// TestTimelineReplaceAcrossDroppedEntries replaces records whose entries the
// TimelineLimit already made the model drop in part.
func TestTimelineReplaceAcrossDroppedEntries(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	many := make([]string, TimelineLimit-1)
	for i := range many {
		many[i] = fmt.Sprintf("e%d", i)
	}
	applyRecord(t, m, rec(base(0), 1, saga.StatusRunning, t0, many...))
	applyRecord(t, m, rec(base(1), 2, saga.StatusRunning, t0.Add(time.Hour), "z1", "z2", "z3")) // drops e0, e1
	applyRecord(t, m, rec(base(1), 3, saga.StatusRunning, t0.Add(2*time.Hour), "o1"))
	v, _ := m.view("ord-z")
	got := details(v.timeline(m.syms))
	if len(got) != TimelineLimit-2 || got[0] != "e2" || got[len(got)-1] != "o1" || v.tl.dropped != 2 {
		t.Errorf("got %d entries %s … %s, %d dropped; want %d entries e2 … o1, 2 dropped",
			len(got), got[0], got[len(got)-1], v.tl.dropped, TimelineLimit-2)
	}
}

// TestRejectionInTimeline adds a rejected operator request to a finished order's timeline
// once, and ignores one the saga recorded itself or for an order the model lacks.
func TestRejectionInTimeline(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	applyRecord(t, m, rec(base(0), 2, saga.StatusCompleted, t0, "a", "b"))
	reject := func(id, request string, recorded bool) Change {
		t.Helper()
		env, err := events.NewEvent(events.TypeOrderControlRejected, id, events.ControlOutcome{
			OrderID: id, Action: "cancel", RequestID: request, Reason: events.ControlOrderFinished,
			Message: "the order is completed", Status: "completed", Recorded: recorded,
		})
		if err != nil {
			t.Fatal(err)
		}
		env.Time = t0.Add(time.Minute)
		v, h, err := events.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := m.ApplyEvent([]byte(id), v, h)
		if err != nil {
			t.Fatalf("applying the rejection: %v", err)
		}
		return ch
	}
	if ch := reject("ord-z", "req-1", false); !ch.Applied || ch.From != string(order.StatusCompleted) || ch.To != string(order.StatusCompleted) {
		t.Errorf("rejection: got %+v, want applied, still completed", ch)
	}
	if ch := reject("ord-z", "req-1", false); ch.Applied {
		t.Errorf("the same rejection again: got applied, want skipped")
	}
	if ch := reject("ord-z", "req-2", true); ch.Applied || !ch.Other {
		t.Errorf("a rejection the timeline records: got %+v, want other", ch)
	}
	if ch := reject("ord-none", "req-3", false); ch.Applied || m.Len() != 1 {
		t.Errorf("a rejection of an unknown order: got %+v and %d orders, want nothing held", ch, m.Len())
	}
	v, _ := m.view("ord-z")
	tl := v.timeline(m.syms)
	last := tl[len(tl)-1]
	if len(tl) != 3 || last.Kind != saga.HistoryRejected || last.Detail != "cancel: the order is completed (order_finished, request req-1)" {
		t.Errorf("got timeline %v, last %+v; want a, b and the rejection", details(tl), last)
	}
	if v.Version != 2 {
		t.Errorf("got version %d, want 2 (a rejection is no version)", v.Version)
	}
}

// TestTimelineSkipsAnEndedGenerationsLateWrite is what make chaos found next
// (TestFencingHeldWritesLandLate): the zombie's held write of versions after its snapshot
// landed after the new owner had completed the saga. Its generation is older than the
// owner's records': skipped, the order stays completed. A newer generation's redo still
// replaces an older one's records.
func TestTimelineSkipsAnEndedGenerationsLateWrite(t *testing.T) {
	inGen := func(g int32, r events.SagaTimeline) events.SagaTimeline { r.Generation = g; return r }
	m, _ := newTestModel(t, Limits{})
	for _, r := range []events.SagaTimeline{
		inGen(1, rec(base(0), 3, saga.StatusRunning, t0, "a", "b", "c")),
		inGen(2, rec(base(3), 4, saga.StatusRunning, t0.Add(10*time.Second), "o4")),
		inGen(2, rec(base(4), 6, saga.StatusCompleted, t0.Add(20*time.Second), "o5", "done")),
	} {
		applyRecord(t, m, r)
	}
	if ch := applyRecord(t, m, inGen(1, rec(base(4), 5, saga.StatusRunning, t0.Add(30*time.Second), "late"))); ch.Applied {
		t.Error("the ended generation's late record was applied")
	}
	v, _ := m.view("ord-z")
	if got, want := details(v.timeline(m.syms)), []string{"a", "b", "c", "o4", "o5", "done"}; !slices.Equal(got, want) || v.Status != string(order.StatusCompleted) {
		t.Errorf("got %v %s, want %v completed", got, v.Status, want)
	}

	m, _ = newTestModel(t, Limits{})
	for _, r := range []events.SagaTimeline{
		inGen(1, rec(base(0), 3, saga.StatusRunning, t0, "a", "b", "c")),
		inGen(1, rec(base(3), 5, saga.StatusRunning, t0.Add(10*time.Second), "z4", "z5")),
		inGen(2, rec(base(3), 4, saga.StatusCompleted, t0.Add(20*time.Second), "done")),
	} {
		applyRecord(t, m, r)
	}
	v, _ = m.view("ord-z")
	if got, want := details(v.timeline(m.syms)), []string{"a", "b", "c", "done"}; !slices.Equal(got, want) {
		t.Errorf("newer generation's redo: got %v, want %v", got, want)
	}
}
