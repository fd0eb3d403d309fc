package api

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestReadModelRebuiltFromChangelog(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	runs := map[string]*sagaRun{}
	for i, sc := range scenarios {
		id := "ord-" + sc.name
		runs[id] = sc.run(t, id, t0.Add(time.Duration(i)*time.Second))
		applyRun(t, m, runs[id])
	}

	counts, total := m.Counts()
	wantCounts := map[string]int{}
	for _, sc := range scenarios {
		wantCounts[sc.want]++
	}
	for _, s := range m.Statuses(OrderType) {
		if counts[OrderType][s] != wantCounts[s] {
			t.Errorf("count of %s: got %d, want %d", s, counts[OrderType][s], wantCounts[s])
		}
	}
	if total != len(scenarios) {
		t.Errorf("total: got %d, want %d", total, len(scenarios))
	}
	for _, sc := range scenarios {
		id := "ord-" + sc.name
		sum, ok := m.Get(id)
		if !ok {
			t.Fatalf("Get(%s): not found", id)
		}
		last := runs[id].s
		if sum.Version != last.Version || sum.Status != sc.want || !sum.UpdatedAt.Equal(last.UpdatedAt) {
			t.Errorf("%s: got version %d status %s updated %v, want %d %s %v", id, sum.Version, sum.Status, sum.UpdatedAt,
				last.Version, sc.want, last.UpdatedAt)
		}
		v, _ := m.view(id)
		if got, want := v.timeline(m.syms), runs[id].history; !equalTimeline(got, want) {
			t.Errorf("%s: got timeline %v, want %v", id, kinds(got), kinds(want))
		}
		if sum.Total != 3998 || sum.Currency != "EUR" || sum.StepsTotal != 5 {
			t.Errorf("%s: got total %d %s steps total %d, want 3998 EUR 5", id, sum.Total, sum.Currency, sum.StepsTotal)
		}
	}
	if sum, _ := m.Get("ord-completed"); sum.StepsDone != 5 {
		t.Errorf("completed order: got %d steps done, want 5", sum.StepsDone)
	}
	if sum, _ := m.Get("ord-declined"); sum.FailedStep != order.StepAuthorizePayment || sum.Reason != "card_declined" {
		t.Errorf("declined order: got failed step %q reason %q, want authorize-payment card_declined", sum.FailedStep, sum.Reason)
	}
}

func TestApplyKeepsHighestVersion(t *testing.T) {
	r := runCompleted(t, "ord-1", t0)
	newest := r.snaps[len(r.snaps)-1]
	older := r.snaps[1]
	m, _ := newTestModel(t, Limits{})

	tests := []struct {
		name        string
		value       []byte
		wantApplied bool
		wantVersion uint64
		wantErr     bool
	}{
		{"first snapshot", mustJSON(t, older), true, older.Version, false},
		{"newer snapshot", mustJSON(t, newest), true, newest.Version, false},
		{"stale snapshot from a zombie writer", mustJSON(t, older), false, newest.Version, false},
		{"same version again", mustJSON(t, newest), false, newest.Version, false},
		{"same version as a format-1 snapshot", format1JSON(t, newest, r.history, 0), false, newest.Version, false},
		{"unreadable record", []byte(`{"format":2,"status":`), false, newest.Version, true},
		{"unknown format version", []byte(`{"format":99}`), false, newest.Version, true},
		{"no format", []byte(`{"saga_id":"ord-1","version":99}`), false, newest.Version, true},
	}
	for _, tc := range tests {
		ch, err := m.Apply([]byte("ord-1"), tc.value)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: got error %v, want error %v", tc.name, err, tc.wantErr)
		}
		if ch.Applied != tc.wantApplied {
			t.Errorf("%s: got applied %v, want %v", tc.name, ch.Applied, tc.wantApplied)
		}
		if sum, _ := m.Get("ord-1"); sum.Version != tc.wantVersion {
			t.Errorf("%s: got version %d, want %d", tc.name, sum.Version, tc.wantVersion)
		}
	}

	// A tombstone drops the snapshot; the order stays with its last known summary.
	ch, _ := m.Apply([]byte("ord-1"), nil)
	if !ch.Applied || ch.Deleted || ch.From != string(order.StatusCompleted) || ch.To != string(order.StatusCompleted) {
		t.Errorf("tombstone: got %+v, want applied, still completed, not deleted", ch)
	}
	v, ok := m.view("ord-1")
	if !ok || !v.tombstoned || v.hasSnap || v.snap.steps != nil || v.Status != string(order.StatusCompleted) || v.Total != 3998 {
		t.Errorf("after the tombstone: got present %v tombstoned %v snapshot %v steps %d status %s total %d, "+
			"want the completed summary without steps", ok, v.tombstoned, v.hasSnap, len(v.snap.steps), v.Status, v.Total)
	}
	if ch, _ := m.Apply([]byte("ord-1"), nil); ch.Applied {
		t.Error("second tombstone: got applied, want ignored")
	}
	// After a tombstone any version is accepted again (a new saga with the same ID).
	if ch, _ := m.Apply([]byte("ord-1"), mustJSON(t, older)); !ch.Applied {
		t.Error("snapshot after tombstone: got ignored, want applied")
	}
	if v, _ := m.view("ord-1"); !v.hasSnap || v.tombstoned {
		t.Errorf("snapshot after tombstone: got snapshot %v tombstoned %v, want held", v.hasSnap, v.tombstoned)
	}
}

// equalTimeline compares timelines entry by entry (times by instant).
func equalTimeline(got, want []events.TimelineEntry) bool {
	return slices.EqualFunc(got, want, func(a, b events.TimelineEntry) bool {
		return a.Time.Equal(b.Time) && a.Kind == b.Kind && a.Step == b.Step && a.Attempt == b.Attempt &&
			a.CommandID == b.CommandID && a.Detail == b.Detail
	})
}

// kinds lists the kinds of a timeline, for messages.
func kinds(tl []events.TimelineEntry) []string {
	out := make([]string, len(tl))
	for i, e := range tl {
		out[i] = e.Kind
		if e.Step != "" {
			out[i] += ":" + e.Step
		}
	}
	return out
}

// manyOrders applies n completed-looking snapshots with updated times from a small set
// (so that many tie) and returns their IDs in list order.
func manyOrders(t *testing.T, m *ReadModel, n int) []string {
	t.Helper()
	base := runCompleted(t, "template", t0).s
	type k struct {
		at time.Time
		id string
	}
	var keys []k
	for i := range n {
		s := base.Clone()
		s.SagaID = fmt.Sprintf("ord-%03d", i)
		s.UpdatedAt = t0.Add(time.Duration(i%7) * time.Second)
		if _, err := m.Apply([]byte(s.SagaID), mustJSON(t, s)); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k{s.UpdatedAt, s.SagaID})
	}
	slices.SortFunc(keys, func(a, b k) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	ids := make([]string, n)
	for i, x := range keys {
		ids[i] = x.id
	}
	return ids
}

func TestListPagesInStableOrder(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	want := manyOrders(t, m, 123)
	for _, limit := range []int{1, 7, 50, 123, 500} {
		var got []string
		cursor := ""
		pages := 0
		for {
			p, err := m.List(ListQuery{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatalf("limit %d: %v", limit, err)
			}
			if p.Total != 123 {
				t.Errorf("limit %d: got total %d, want 123", limit, p.Total)
			}
			for _, o := range p.Sagas {
				got = append(got, o.OrderID)
			}
			pages++
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: got %d orders in order %v…, want %v…", limit, len(got), got[:min(5, len(got))], want[:5])
		}
		if wantPages := (123 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: got %d pages, want %d", limit, pages, wantPages)
		}
	}
	p, _ := m.List(ListQuery{})
	if len(p.Sagas) != DefaultLimit {
		t.Errorf("default limit: got %d orders, want %d", len(p.Sagas), DefaultLimit)
	}
}

func TestListFiltersByStatus(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	for i, sc := range scenarios {
		applyRun(t, m, sc.run(t, "ord-"+sc.name, t0.Add(time.Duration(i)*time.Minute)))
	}
	tests := []struct {
		status string
		want   []string
	}{
		{string(order.StatusCancelled), []string{"ord-cancelled", "ord-declined"}}, // newest first
		{string(order.StatusFailed), []string{"ord-failed"}},
		{string(order.StatusPending), []string{"ord-pending"}},
		{"", []string{"ord-failed", "ord-cancelling", "ord-cancelled", "ord-declined", "ord-completed", "ord-approved", "ord-pending"}},
	}
	for _, tc := range tests {
		p, err := m.List(ListQuery{Status: tc.status})
		if err != nil {
			t.Fatalf("status %q: %v", tc.status, err)
		}
		var got []string
		for _, o := range p.Sagas {
			got = append(got, o.OrderID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("status %q: got %v, want %v", tc.status, got, tc.want)
		}
	}
}

func TestListRejectsBadQueries(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	tests := []struct {
		name string
		q    ListQuery
		want string
	}{
		{"unknown status", ListQuery{Status: "shipped"}, `unknown status "shipped"`},
		{"negative limit", ListQuery{Limit: -1}, "limit -1 out of range"},
		{"limit over the maximum", ListQuery{Limit: MaxLimit + 1}, "limit 501 out of range"},
		{"cursor not base64", ListQuery{Cursor: "!!!"}, ErrBadCursor.Error()},
		{"cursor without ID", ListQuery{Cursor: encodeCursor(orderKey{updated: 5})}, ErrBadCursor.Error()},
	}
	for _, tc := range tests {
		_, err := m.List(tc.q)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := m.List(ListQuery{Cursor: "bm9wZQ"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("cursor without a dot: got %v, want ErrBadCursor", err)
	}
}

func TestChangesReportEachOrderOnce(t *testing.T) {
	m, clock := newTestModel(t, Limits{})
	since := m.ChangeSeq()
	r := runCompleted(t, "ord-a", t0)
	applyRun(t, m, r)
	applyRun(t, m, runPending(t, "ord-b", t0))
	got, next, reset := m.Changes(since)
	if reset || len(got) != 2 || got[0].OrderID != "ord-b" || got[1].OrderID != "ord-a" {
		t.Fatalf("got %+v reset %v, want ord-b then ord-a", got, reset)
	}
	if got[1].Version != r.s.Version {
		t.Errorf("ord-a: got version %d, want the latest %d", got[1].Version, r.s.Version)
	}
	if again, _, _ := m.Changes(next); len(again) != 0 {
		t.Errorf("no change since: got %d orders, want none", len(again))
	}
	m.Apply([]byte("ord-a"), nil)
	got, next, _ = m.Changes(next)
	if len(got) != 1 || got[0].Deleted || got[0].Status != string(order.StatusCompleted) {
		t.Errorf("after a tombstone: got %+v, want ord-a, still completed", got)
	}
	clock.Add(DefaultRetention)
	if n := m.Expire(); n != 1 {
		t.Errorf("expire: got %d orders dropped, want 1 (ord-a)", n)
	}
	got, next, _ = m.Changes(next)
	if len(got) != 1 || got[0].OrderID != "ord-a" || !got[0].Deleted {
		t.Errorf("after its retention window: got %+v, want ord-a deleted", got)
	}
	base := r.s
	for i := range changeRing + 1 {
		s := base.Clone()
		s.SagaID = fmt.Sprintf("ord-x%d", i)
		m.Apply([]byte(s.SagaID), mustJSON(t, s))
	}
	if _, _, reset := m.Changes(next); !reset {
		t.Error("more changes than remembered: got no reset, want reset")
	}
}

func TestThroughputCountsTransitionsAfterReady(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	now := t0
	m.now = func() time.Time { return now }
	applyRun(t, m, runCompleted(t, "ord-restored", t0)) // during the restore: not counted
	m.SetReady()
	for i := range 5 {
		applyRun(t, m, runCompleted(t, fmt.Sprintf("ord-c%d", i), t0))
	}
	applyRun(t, m, runDeclined(t, "ord-d", t0))
	now = now.Add(time.Second)
	applyRun(t, m, runCompleted(t, "ord-late", t0))

	tp := m.Throughput()
	want := map[string]float64{"placed": 0.7, "completed": 0.6, "cancelled": 0.1, "failed": 0}
	for k, v := range want {
		if got := tp.PerSecond[k]; got < v-1e-9 || got > v+1e-9 {
			t.Errorf("%s per second: got %v, want %v", k, got, v)
		}
	}
	if s := tp.Series["completed"]; len(s) != rateHistory || s[rateHistory-1] != 1 || s[rateHistory-2] != 5 {
		t.Errorf("completed series: got …%v, want …[5 1]", s[len(s)-2:])
	}
	now = now.Add(rateWindow * time.Second)
	if got := m.Throughput().PerSecond["completed"]; got != 0 {
		t.Errorf("ten seconds later: got %v completed/s, want 0", got)
	}
}

// TestRecencyMatchesSortedSlice checks the skip list against a sorted slice over random
// inserts and removals.
func TestRecencyMatchesSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := newRecency(7)
	var ref []orderKey
	for i := range 5000 {
		k := orderKey{updated: int64(rng.IntN(50)), id: fmt.Sprintf("o%d", rng.IntN(400))}
		pos, found := slices.BinarySearchFunc(ref, k, cmpKey)
		if found {
			if !l.remove(k) {
				t.Fatalf("step %d: remove(%v) = false, want true", i, k)
			}
			ref = slices.Delete(ref, pos, pos+1)
		} else {
			l.insert(k, &entry{})
			ref = slices.Insert(ref, pos, k)
		}
		if l.len() != len(ref) {
			t.Fatalf("step %d: got len %d, want %d", i, l.len(), len(ref))
		}
	}
	if l.remove(orderKey{updated: 999, id: "absent"}) {
		t.Error("remove of an absent key: got true, want false")
	}
	var got []orderKey
	for n := l.after(nil); n != nil; n = n.next[0] {
		got = append(got, n.key)
	}
	if !slices.Equal(got, ref) {
		t.Fatalf("order: got %d keys, want %d in sorted order", len(got), len(ref))
	}
	for _, i := range []int{0, len(ref) / 2, len(ref) - 1} {
		n := l.after(&ref[i])
		switch {
		case i == len(ref)-1 && n != nil:
			t.Errorf("after the last key: got %v, want nil", n.key)
		case i < len(ref)-1 && (n == nil || n.key != ref[i+1]):
			t.Errorf("after key %d: got %v, want %v", i, n, ref[i+1])
		}
	}
}

func cmpKey(a, b orderKey) int {
	switch {
	case a.before(b):
		return -1
	case b.before(a):
		return 1
	}
	return 0
}

func TestStepsDoneCountsOnlyForwardSteps(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	r := runDeclined(t, "ord-1", t0)
	applyRun(t, m, r)
	sum, _ := m.Get("ord-1")
	// reserve-inventory succeeded (then compensated: outcome success), nothing else did.
	if sum.StepsDone != 1 || sum.StepsTotal != 5 {
		t.Errorf("got %d/%d steps, want 1/5", sum.StepsDone, sum.StepsTotal)
	}
	if got := r.s.Steps[order.StepReserveInventory].Status; got != saga.StepCompensated {
		t.Errorf("reserve-inventory: got %s, want compensated", got)
	}
}
