package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// applyRecord applies one timeline record, failing the test on an error.
func applyRecord(t *testing.T, m *ReadModel, tl events.SagaTimeline) Change {
	t.Helper()
	v, h := timelineValue(t, tl)
	ch, err := m.ApplyEvent([]byte(tl.SagaID), v, h)
	if err != nil {
		t.Fatalf("applying timeline of %s v%d: %v", tl.SagaID, tl.Version, err)
	}
	return ch
}

func applySnapshot(t *testing.T, m *ReadModel, id string, value []byte) {
	t.Helper()
	if _, err := m.Apply([]byte(id), value); err != nil {
		t.Fatalf("applying snapshot of %s: %v", id, err)
	}
}

// syntheticRecords returns n timeline records of per entries each for one order,
// versions 1..n, one second apart.
func syntheticRecords(id string, n, per int) ([]events.SagaTimeline, []events.TimelineEntry) {
	var recs []events.SagaTimeline
	var all []events.TimelineEntry
	for v := 1; v <= n; v++ {
		tl := events.SagaTimeline{SagaID: id, Definition: testDefinition.Name, Version: uint64(v), Status: string(saga.StatusRunning)}
		for i := range per {
			k := (v-1)*per + i
			e := events.TimelineEntry{Time: t0.Add(time.Duration(k) * time.Second), Kind: saga.HistoryError,
				Step: order.StepReserveInventory, Attempt: k + 1, CommandID: saga.CommandID(id, order.StepReserveInventory, false, k+1),
				Detail: fmt.Sprintf("warehouse busy (%d)", k)}
			tl.Entries = append(tl.Entries, e)
			all = append(all, e)
		}
		recs = append(recs, tl)
	}
	return recs, all
}

func TestTimelineFromRecordsAndSnapshots(t *testing.T) {
	completed := runCompleted(t, "ord-1", t0)
	cancelled := runCancelled(t, "ord-1", t0)
	last := func(r *sagaRun) *saga.State { return r.snaps[len(r.snaps)-1] }
	synth, synthAll := syntheticRecords("ord-1", 25, 10)

	tests := []struct {
		name        string
		apply       func(t *testing.T, m *ReadModel)
		want        []events.TimelineEntry
		wantDropped int
		wantSnap    string
		wantStatus  string
	}{
		{
			name:  "records and snapshots as the orchestrator writes them",
			apply: func(t *testing.T, m *ReadModel) { applyRun(t, m, cancelled) },
			want:  cancelled.history, wantSnap: SnapshotHeld, wantStatus: string(order.StatusCancelled),
		},
		{
			name: "every record redelivered is applied once",
			apply: func(t *testing.T, m *ReadModel) {
				for _, tl := range completed.records {
					if len(tl.Entries) == 0 {
						continue
					}
					if ch := applyRecord(t, m, tl); !ch.Applied {
						t.Errorf("v%d: got not applied, want applied", tl.Version)
					}
					if ch := applyRecord(t, m, tl); ch.Applied {
						t.Errorf("v%d again: got applied, want skipped", tl.Version)
					}
				}
				applySnapshot(t, m, "ord-1", mustJSON(t, last(completed)))
			},
			want: completed.history, wantSnap: SnapshotHeld, wantStatus: string(order.StatusCompleted),
		},
		{
			name: "an older record after a newer one is skipped",
			apply: func(t *testing.T, m *ReadModel) {
				applyRecord(t, m, completed.records[1])
				if ch := applyRecord(t, m, completed.records[0]); ch.Applied {
					t.Error("older record: got applied, want skipped")
				}
			},
			want: completed.records[1].Entries, wantSnap: SnapshotNone, wantStatus: string(order.StatusPending),
		},
		{
			name: "timeline records before any snapshot",
			apply: func(t *testing.T, m *ReadModel) {
				for _, tl := range completed.records {
					if len(tl.Entries) > 0 {
						applyRecord(t, m, tl)
					}
				}
			},
			want: completed.history, wantSnap: SnapshotNone, wantStatus: string(order.StatusCompleted),
		},
		{
			name: "a format-1 snapshot's history when there are no timeline records",
			apply: func(t *testing.T, m *ReadModel) {
				applySnapshot(t, m, "ord-1", format1JSON(t, last(cancelled), cancelled.history, 0))
			},
			want: cancelled.history, wantSnap: SnapshotHeld, wantStatus: string(order.StatusCancelled),
		},
		{
			name: "a format-1 snapshot's dropped count",
			apply: func(t *testing.T, m *ReadModel) {
				applySnapshot(t, m, "ord-1", format1JSON(t, last(cancelled), cancelled.history[5:], 5))
			},
			want: cancelled.history[5:], wantDropped: 5, wantSnap: SnapshotHeld, wantStatus: string(order.StatusCancelled),
		},
		{
			name: "timeline records continue a format-1 history",
			apply: func(t *testing.T, m *ReadModel) {
				k := 3
				var upTo []events.TimelineEntry
				for _, tl := range completed.records[:k+1] {
					upTo = append(upTo, tl.Entries...)
				}
				applySnapshot(t, m, "ord-1", format1JSON(t, completed.snaps[k], upTo, 0))
				for _, tl := range completed.records {
					if len(tl.Entries) > 0 {
						applyRecord(t, m, tl) // those up to version k are skipped
					}
				}
				applySnapshot(t, m, "ord-1", mustJSON(t, last(completed)))
			},
			want: completed.history, wantSnap: SnapshotHeld, wantStatus: string(order.StatusCompleted),
		},
		{
			name: "an older format-1 history does not replace newer timeline records",
			apply: func(t *testing.T, m *ReadModel) {
				for _, tl := range completed.records {
					if len(tl.Entries) > 0 {
						applyRecord(t, m, tl)
					}
				}
				applySnapshot(t, m, "ord-1", format1JSON(t, completed.snaps[2], completed.records[0].Entries, 0))
			},
			want: completed.history, wantSnap: SnapshotHeld, wantStatus: string(order.StatusCompleted),
		},
		{
			name: "the newest entries are kept, the older ones counted",
			apply: func(t *testing.T, m *ReadModel) {
				for _, tl := range synth {
					applyRecord(t, m, tl)
				}
			},
			want: synthAll[len(synthAll)-TimelineLimit:], wantDropped: len(synthAll) - TimelineLimit, wantSnap: SnapshotNone,
			wantStatus: string(order.StatusPending),
		},
		{
			name: "a tombstone keeps the timeline and the last summary",
			apply: func(t *testing.T, m *ReadModel) {
				applyRun(t, m, completed)
				applySnapshot(t, m, "ord-1", markerJSON(t, last(completed)))
				applySnapshot(t, m, "ord-1", nil)
			},
			want: completed.history, wantSnap: SnapshotRemoved, wantStatus: string(order.StatusCompleted),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestService(t, nil)
			m := NewReadModel(Limits{}, testDefinition)
			m.now = (&testClock{now: t0.Add(time.Hour)}).Now
			s.model = m
			tc.apply(t, m)
			v, ok := m.view("ord-1")
			if !ok {
				t.Fatal("ord-1: not in the read model")
			}
			d, _ := s.detail(v)
			if !equalTimeline(d.History, tc.want) {
				t.Errorf("got timeline %v, want %v", kinds(d.History), kinds(tc.want))
			}
			if d.HistoryDropped != tc.wantDropped {
				t.Errorf("got %d dropped, want %d", d.HistoryDropped, tc.wantDropped)
			}
			if d.Snapshot != tc.wantSnap || d.Status != tc.wantStatus {
				t.Errorf("got snapshot %q status %q, want %q %q", d.Snapshot, d.Status, tc.wantSnap, tc.wantStatus)
			}
			if tc.wantSnap != SnapshotHeld && len(d.Steps) != 0 {
				t.Errorf("got %d steps, want none without a snapshot", len(d.Steps))
			}
			if tc.wantSnap == SnapshotNone && !d.CreatedAt.Equal(tc.want[0].Time) && d.HistoryDropped == 0 {
				t.Errorf("created: got %v, want the first entry's time %v", d.CreatedAt, tc.want[0].Time)
			}
		})
	}
}

func TestFinishedMarkerKeepsTotals(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	r := runCompleted(t, "ord-1", t0)
	applyRun(t, m, r)
	applySnapshot(t, m, "ord-1", func() []byte {
		c := r.s.Clone()
		c.Version++
		return markerJSON(t, c)
	}())
	v, _ := m.view("ord-1")
	if v.Total != 3998 || v.Currency != "EUR" || v.snap.input != nil || v.StepsDone != 5 {
		t.Errorf("after the marker: got total %d %s input %d bytes steps done %d, want 3998 EUR, no input, 5",
			v.Total, v.Currency, len(v.snap.input), v.StepsDone)
	}
	for _, st := range v.snap.steps {
		if st.x != nil && len(st.x.result) > 0 {
			t.Errorf("step %s: got result %s, want none (the marker has none)", st.name, st.x.result)
		}
	}
}

func TestApplyEventRejectsMalformedRecords(t *testing.T) {
	good := events.SagaTimeline{SagaID: "ord-1", Definition: testDefinition.Name, Version: 1, Status: "running",
		Entries: []events.TimelineEntry{{Time: t0, Kind: saga.HistoryStarted}}}
	encode := func(edit func(*events.SagaTimeline)) []byte {
		tl := good
		tl.Entries = slices.Clone(good.Entries)
		edit(&tl)
		v, _ := timelineValue(t, tl)
		return v
	}
	envelope := func(typ, data string) []byte {
		return []byte(`{"specversion":"1.0","id":"x","source":"t","type":"` + typ + `","subject":"ord-1","data":` + data + `}`)
	}
	many := make([]events.TimelineEntry, maxTimelineEntries+1)
	for i := range many {
		many[i] = events.TimelineEntry{Time: t0, Kind: "x"}
	}
	tests := []struct {
		name      string
		key       string
		value     []byte
		headers   []events.Header
		wantErr   string
		wantOther bool
	}{
		{name: "a valid record", key: "ord-1", value: encode(func(*events.SagaTimeline) {})},
		{name: "binary mode", key: "ord-1", value: mustJSON(t, good), headers: []events.Header{{Key: "ce_type", Value: []byte(events.TypeSagaTimeline)}}},
		{name: "a lifecycle event", key: "ord-1", value: envelope(events.TypeOrderCompleted, `{"order_id":"ord-1","status":"completed"}`), wantOther: true},
		{name: "not JSON", key: "ord-1", value: []byte("\x00\xff"), wantErr: "decoding the envelope"},
		{name: "empty value", key: "ord-1", value: nil, wantErr: "decoding the envelope"},
		{name: "no type", key: "ord-1", value: []byte(`{"data":{}}`), wantErr: "no CloudEvents type"},
		{name: "data not an object", key: "ord-1", value: envelope(events.TypeSagaTimeline, `[1]`), wantErr: "decoding"},
		{name: "entries of the wrong type", key: "ord-1", value: envelope(events.TypeSagaTimeline, `{"saga_id":"ord-1","version":1,"status":"running","entries":"x"}`), wantErr: "decoding"},
		{name: "key differs from saga_id", key: "ord-2", value: encode(func(*events.SagaTimeline) {}), wantErr: "differs from the record key"},
		{name: "no saga_id", key: "", value: encode(func(tl *events.SagaTimeline) { tl.SagaID = "" }), wantErr: "saga_id"},
		{name: "version 0", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Version = 0 }), wantErr: "version 0"},
		{name: "unknown status", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Status = "exploded" }), wantErr: "unknown saga status"},
		{name: "no entries", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries = nil }), wantErr: "0 entries"},
		{name: "too many entries", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries = many }), wantErr: "1001 entries"},
		{name: "empty kind", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries[0].Kind = "" }), wantErr: "kind"},
		{name: "huge detail", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries[0].Detail = strings.Repeat("x", 5000) }), wantErr: "detail longer"},
		{name: "negative attempt", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries[0].Attempt = -1 }), wantErr: "attempt -1"},
		{name: "time out of range", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries[0].Time = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }), wantErr: "out of range"},
		{name: "zero time", key: "ord-1", value: encode(func(tl *events.SagaTimeline) { tl.Entries[0].Time = time.Time{} }), wantErr: "out of range"},
		{name: "over the record size", key: "ord-1", value: make([]byte, events.MaxRecordSize+1), wantErr: "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestModel(t, Limits{})
			ch, err := m.ApplyEvent([]byte(tc.key), tc.value, tc.headers)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
			if ch.Other != tc.wantOther {
				t.Errorf("got other %v, want %v", ch.Other, tc.wantOther)
			}
			wantLen := 0
			if tc.wantErr == "" && !tc.wantOther {
				wantLen = 1
			}
			if got := m.Len(); got != wantLen {
				t.Errorf("got %d orders held, want %d", got, wantLen)
			}
		})
	}
}

func TestSnapshotsSkipInternalKeys(t *testing.T) {
	m, _ := newTestModel(t, Limits{})
	for _, v := range [][]byte{[]byte("\x01binary index"), nil, mustJSON(t, runPending(t, "~finished/3/17", t0).s)} {
		ch, err := m.Apply([]byte("~finished/3/17"), v)
		if err != nil || ch.Applied {
			t.Errorf("internal record %q: got applied %v error %v, want skipped", v, ch.Applied, err)
		}
	}
	if got := m.Len(); got != 0 {
		t.Errorf("got %d orders, want 0", got)
	}
}

func TestRetentionDropsFinishedOrders(t *testing.T) {
	const retention = 24 * time.Hour
	tests := []struct {
		name      string
		run       func(testing.TB, string, time.Time) *sagaRun
		tombstone bool
		// wantExpires: the order is dropped retention after it finished (or was tombstoned).
		wantExpires bool
	}{
		{"completed", runCompleted, false, true},
		{"cancelled", runCancelled, false, true},
		{"declined", runDeclined, false, true},
		{"failed waits for an operator", runFailed, false, false},
		{"pending", runPending, false, false},
		{"approved", runApproved, false, false},
		{"cancelling", runCancelling, false, false},
		{"tombstoned while pending", runPending, true, true},
		{"tombstoned after it completed", runCompleted, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, clock := newTestModel(t, Limits{Retention: retention})
			r := tc.run(t, "ord-1", t0)
			applyRun(t, m, r)
			if tc.tombstone {
				applySnapshot(t, m, "ord-1", nil)
			}
			v, ok := m.view("ord-1")
			if !ok {
				t.Fatal("ord-1: not held after its records")
			}
			if got := !v.expires.IsZero(); got != tc.wantExpires {
				t.Fatalf("got expiry %v, want one: %v", v.expires, tc.wantExpires)
			}
			// Just before the end of the window the order is held; at the end it is not.
			end := t0.Add(30 * 24 * time.Hour)
			if tc.wantExpires {
				end = v.expires
			}
			clock.Add(end.Sub(clock.Now()) - time.Nanosecond)
			if n := m.Expire(); n != 0 || m.Len() != 1 {
				t.Errorf("1ns before the end: got %d dropped, %d held, want 0 and 1", n, m.Len())
			}
			clock.Add(time.Nanosecond)
			m.Expire()
			wantLen, wantExpired := 1, uint64(0)
			if tc.wantExpires {
				wantLen, wantExpired = 0, 1
			}
			if got := m.Len(); got != wantLen {
				t.Errorf("at the end of the window: got %d orders held, want %d", got, wantLen)
			}
			if expired, evicted := m.Dropped(); expired != wantExpired || evicted != 0 {
				t.Errorf("got %d expired %d evicted, want %d and 0", expired, evicted, wantExpired)
			}
		})
	}
}

func TestRecordsOfExpiredOrdersAreDroppedAtOnce(t *testing.T) {
	// Restoring long after: finished orders older than the window never stay.
	m, clock := newTestModel(t, Limits{Retention: time.Hour})
	clock.Add(48 * time.Hour)
	applyRun(t, m, runCompleted(t, "ord-old", t0))
	applyRun(t, m, runPending(t, "ord-running", t0))
	if got := m.Len(); got != 1 {
		t.Errorf("got %d orders held, want 1 (the pending one)", got)
	}
	if _, ok := m.Get("ord-running"); !ok {
		t.Error("ord-running: got dropped, want held (in flight)")
	}
}

func TestMaxOrdersEvictsTheOldestFinished(t *testing.T) {
	const limit = 10
	m, _ := newTestModel(t, Limits{MaxOrders: limit})
	var pending, finished []string
	for i := range 4 {
		id := fmt.Sprintf("ord-p%02d", i)
		applyRun(t, m, runPending(t, id, t0.Add(time.Duration(i)*time.Minute)))
		pending = append(pending, id)
	}
	for i := range 12 {
		id := fmt.Sprintf("ord-c%02d", i)
		applyRun(t, m, runCompleted(t, id, t0.Add(time.Duration(10+i)*time.Minute)))
		finished = append(finished, id)
	}
	held := func() []string {
		p, _ := m.List(ListQuery{Limit: MaxLimit})
		var ids []string
		for _, o := range p.Sagas {
			ids = append(ids, o.OrderID)
		}
		slices.Sort(ids)
		return ids
	}
	// The 6 finished orders kept are those that finished last.
	want := append(slices.Clone(finished[6:]), pending...)
	slices.Sort(want)
	if got := held(); !slices.Equal(got, want) {
		t.Errorf("after 16 orders: got %v, want %v", got, want)
	}
	if _, evicted := m.Dropped(); evicted != 6 {
		t.Errorf("got %d evicted, want 6", evicted)
	}

	// Orders in flight are never evicted: with more of them than the cap, only they stay.
	for i := 4; i < 12; i++ {
		id := fmt.Sprintf("ord-p%02d", i)
		applyRun(t, m, runApproved(t, id, t0.Add(time.Duration(30+i)*time.Minute)))
		pending = append(pending, id)
	}
	slices.Sort(pending)
	if got := held(); !slices.Equal(got, pending) {
		t.Errorf("after 8 more in flight: got %v, want the %d in flight only", got, len(pending))
	}
	counts, total := m.Counts()
	if total != 12 || counts[OrderType][string(order.StatusCompleted)] != 0 {
		t.Errorf("got %d orders, %d completed; want 12, 0", total, counts[OrderType][string(order.StatusCompleted)])
	}
}

func TestEvictedOrderAnswers404WithTheWindow(t *testing.T) {
	s, _ := newTestService(t, func(c *Config) { c.MaxOrders = 6; c.Retention = 48 * time.Hour })
	// newTestService applied the 7 scenarios: the completed one finished first and is gone.
	if _, ok := s.model.Get("ord-completed"); ok {
		t.Fatal("ord-completed: got held, want evicted by the cap of 6")
	}
	for _, target := range []string{"/orders/ord-completed", "/orders/ord-completed/dag.svg"} {
		r := do(t, s.Handler(), "GET", target, nil)
		var eb ErrorBody
		r.json(t, &eb)
		for _, want := range []string{`"ord-completed" not found`, "2 days after they finished", "at most 6 orders"} {
			if r.code != 404 || !strings.Contains(eb.Error, want) {
				t.Errorf("%s: got %d %q, want 404 saying %q", target, r.code, eb.Error, want)
			}
		}
	}
	r := do(t, s.Handler(), "GET", "/ui/orders/ord-completed", nil)
	if r.code != 404 || !strings.Contains(string(r.body), "for 2 days after they finished, at most 6 orders") {
		t.Errorf("order page: got %d, want 404 explaining the window", r.code)
	}
}

// orderFactory builds the records of completed orders as the orchestrator writes them
// — several timeline records (~13 entries in all) and the finished marker — from one run
// of the engine, with each order's own IDs and times.
type orderFactory struct {
	template *sagaRun
}

func newOrderFactory(tb testing.TB) *orderFactory {
	tb.Helper()
	f := &orderFactory{template: runCompleted(tb, "template", t0)}
	if got := len(f.template.history); got < 12 || got > 14 {
		tb.Fatalf("template: got %d timeline entries, want ~13", got)
	}
	return f
}

func (f *orderFactory) records(tb testing.TB, id string, at time.Time) (tls [][]byte, marker []byte) {
	tb.Helper()
	shift := at.Sub(t0)
	for _, rec := range f.template.records {
		if len(rec.Entries) == 0 {
			continue
		}
		tl := rec
		tl.SagaID = id
		tl.Entries = slices.Clone(rec.Entries)
		for i := range tl.Entries {
			e := &tl.Entries[i]
			e.Time = e.Time.Add(shift)
			if e.CommandID != "" {
				e.CommandID = saga.CommandID(id, e.Step, e.Kind == saga.HistoryCompensationSent, e.Attempt)
			}
		}
		tls = append(tls, f.envelope(tb, tl))
	}
	s := f.template.s.Clone()
	s.SagaID = id
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.Add(shift), s.UpdatedAt.Add(shift)
	for name, st := range s.Steps {
		if st.Do.Attempt > 0 {
			st.Do.CommandID = saga.CommandID(id, name, false, st.Do.Attempt)
			st.Do.Answered = []string{st.Do.CommandID}
		}
	}
	return tls, markerJSON(tb, s)
}

// envelope is what timelineValue returns, built with one encoding of the data instead of
// three (the memory test builds hundreds of thousands).
func (f *orderFactory) envelope(tb testing.TB, tl events.SagaTimeline) []byte {
	tb.Helper()
	data, err := json.Marshal(tl)
	if err != nil {
		tb.Fatal(err)
	}
	v := fmt.Appendf(nil, `{"specversion":"1.0","id":"%s/timeline/%d","source":"podium/orchestrator","type":%q,`+
		`"subject":%q,"time":%q,"datacontenttype":"application/json","sagaid":%q,"data":`, tl.SagaID, tl.Version,
		events.TypeSagaTimeline, tl.SagaID, tl.Entries[0].Time.Format(time.RFC3339Nano), tl.SagaID)
	v = append(v, data...)
	return append(v, '}')
}

// fill applies n completed orders that finished a minute before the model's clock.
func (f *orderFactory) fill(tb testing.TB, m *ReadModel, round, n int) {
	tb.Helper()
	at := m.now().Add(-time.Minute)
	for i := range n {
		id := fmt.Sprintf("ord-%d-%07d", round, i)
		tls, marker := f.records(tb, id, at)
		for _, v := range tls {
			if _, err := m.ApplyEvent([]byte(id), v, nil); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := m.Apply([]byte(id), marker); err != nil {
			tb.Fatal(err)
		}
	}
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryStaysFlatAsOrdersExpire fills the read model with finished orders, measures
// the heap each costs, lets them expire, and fills it again: the count of orders held and
// the heap come back to where they were. BenchmarkReadModelMemory measures with 50,000.
func TestMemoryStaysFlatAsOrdersExpire(t *testing.T) {
	n := 10_000
	if testing.Short() {
		n = 2_000
	}
	f := newOrderFactory(t)
	m, clock := newTestModel(t, Limits{MaxOrders: 2 * n})

	base := heapAlloc()
	f.fill(t, m, 1, n)
	full := heapAlloc()
	if got := m.Len(); got != n {
		t.Fatalf("got %d orders held, want %d", got, n)
	}
	perOrder := float64(full-base) / float64(n)
	t.Logf("%d finished orders: %.0f bytes per order (heap %.1f MiB → %.1f MiB)", n, perOrder,
		float64(base)/(1<<20), float64(full)/(1<<20))
	if perOrder > 1000 {
		t.Errorf("got %.0f bytes per finished order, want at most 1000", perOrder)
	}
	v, _ := m.view("ord-1-0000000")
	if d, _ := (&Service{model: m}).detail(v); len(d.History) != len(f.template.history) || d.History[1].CommandID == "" {
		t.Fatalf("an order's timeline: got %v, want %d entries with command IDs", kinds(d.History), len(f.template.history))
	}

	clock.Add(DefaultRetention)
	if got := m.Expire(); got != n {
		t.Errorf("expire: got %d dropped, want %d", got, n)
	}
	if m.Len() != 0 {
		t.Errorf("after expiry: got %d orders held, want 0", m.Len())
	}
	empty := heapAlloc()
	t.Logf("after expiry: heap %.1f MiB", float64(empty)/(1<<20))
	// What stays is the grown map and heap slice of the indexes (tens of bytes per order).
	if grown := float64(empty) - float64(base); grown > 0.15*float64(full-base) {
		t.Errorf("after expiry: the heap is %.1f MiB above where it started, want at most 15%% of the %.1f MiB the orders took",
			grown/(1<<20), float64(full-base)/(1<<20))
	}

	f.fill(t, m, 2, n)
	again := heapAlloc()
	t.Logf("second round: %d orders, heap %.1f MiB", m.Len(), float64(again)/(1<<20))
	if m.Len() != n || float64(again) > 1.05*float64(full) {
		t.Errorf("second round: got %d orders in %.1f MiB, want %d in at most the first round's %.1f MiB + 5%%",
			m.Len(), float64(again)/(1<<20), n, float64(full)/(1<<20))
	}
}

// BenchmarkReadModelMemory reports the heap a finished order costs in the read model —
// 50,000 completed orders, each with its 13-entry timeline in 5 timeline records and its
// finished marker:
//
//	go test ./api -run '^$' -bench ReadModelMemory -benchtime 1x
func BenchmarkReadModelMemory(b *testing.B) {
	const n = 50_000
	f := newOrderFactory(b)
	for b.Loop() {
		m := NewReadModel(Limits{MaxOrders: n}, testDefinition)
		base := heapAlloc()
		f.fill(b, m, 1, n)
		full := heapAlloc()
		if m.Len() != n {
			b.Fatalf("got %d orders held, want %d", m.Len(), n)
		}
		b.ReportMetric(float64(full-base)/n, "heap-B/order")
		b.ReportMetric(float64(full-base)/(1<<20), "heap-MiB")
		runtime.KeepAlive(m)
	}
}

// The detail of an order from records applied to the read model is the JSON the API
// serves: a timeline entry survives the compact encoding exactly.
func TestTimelineEncodingRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		e    events.TimelineEntry
	}{
		{"derived do command", events.TimelineEntry{Kind: saga.HistoryDispatched, Step: "reserve-inventory", Attempt: 3,
			CommandID: saga.CommandID("ord-1", "reserve-inventory", false, 3), Detail: events.TypeInventoryReserve}},
		{"derived undo command", events.TimelineEntry{Kind: saga.HistoryCompensationSent, Step: "authorize-payment", Attempt: 1,
			CommandID: saga.CommandID("ord-1", "authorize-payment", true, 1), Detail: events.TypePaymentVoid}},
		{"another order's command", events.TimelineEntry{Kind: saga.HistoryIgnored, Step: "x", Attempt: 1,
			CommandID: saga.CommandID("ord-2", "x", false, 1), Detail: "unknown: success"}},
		{"uppercase UUID stays as written", events.TimelineEntry{Kind: saga.HistoryIgnored, CommandID: "6F9619FF-8B86-D011-B42D-00C04FC964FF"}},
		{"not a UUID", events.TimelineEntry{Kind: saga.HistoryIgnored, CommandID: "cmd-42", Detail: "late: error"}},
		{"a retry time", events.TimelineEntry{Kind: saga.HistoryRetryScheduled, Step: "s", Attempt: 2, Detail: "2026-03-01T12:00:01.5Z"}},
		{"unicode everywhere", events.TimelineEntry{Kind: "kïnd", Step: "stép", Detail: "détail ✓"}},
		{"a long detail", events.TimelineEntry{Kind: saga.HistoryFailed, Detail: strings.Repeat("reason ", 500)}},
		{"no step, no detail", events.TimelineEntry{Kind: saga.HistoryCompleted}},
	}
	m, _ := newTestModel(t, Limits{})
	var want []events.TimelineEntry
	for i, tc := range tests {
		tc.e.Time = t0.Add(time.Duration(i-3) * 1500 * time.Millisecond) // before and after the first
		want = append(want, tc.e)
		applyRecord(t, m, events.SagaTimeline{SagaID: "ord-1", Definition: "d", Version: uint64(i + 1), Status: "running",
			Entries: []events.TimelineEntry{tc.e}})
	}
	v, _ := m.view("ord-1")
	got := v.timeline(m.syms)
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := mustJSON(t, got[i]), mustJSON(t, want[i])
		if string(g) != string(w) {
			t.Errorf("%s: got %s, want %s", tests[i].name, g, w)
		}
	}
	// The JSON of the detail carries them as "history".
	var d struct {
		History []json.RawMessage `json:"history"`
	}
	s := &Service{model: m}
	od, _ := s.detail(v)
	if err := json.Unmarshal(mustJSON(t, od), &d); err != nil || len(d.History) != len(want) {
		t.Errorf("detail JSON: got %d history entries (%v), want %d", len(d.History), err, len(want))
	}
}

// Snapshots the engine would not write are still shown, never a crash: the API reads
// whatever is in the changelog.
func TestOddSnapshotsAreShown(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		wantSteps map[string]saga.StepStatus
	}{
		{"a step of an unknown status", `{"format":2,"saga_id":"ord-1","definition":"order","status":"running","version":3,
			"steps":{"reserve-inventory":{"status":"paused","outcome":"maybe","do":{"attempt":2,"command_id":"c-2"}}}}`,
			map[string]saga.StepStatus{"reserve-inventory": "paused"}},
		{"a null step", `{"format":2,"saga_id":"ord-1","definition":"order","status":"running","version":3,"steps":{"reserve-inventory":null}}`,
			map[string]saga.StepStatus{"reserve-inventory": saga.StepPending}},
		{"an attempt beyond 16 bits", `{"format":2,"saga_id":"ord-1","definition":"order","status":"running","version":3,
			"steps":{"reserve-inventory":{"status":"dispatched","do":{"attempt":70000,"command_id":"x"}}}}`,
			map[string]saga.StepStatus{"reserve-inventory": saga.StepDispatched}},
		{"an unknown definition, no steps", `{"format":2,"saga_id":"ord-1","definition":"refund","status":"completed","version":1,
			"updated_at":"2026-03-01T12:00:00Z"}`, nil},
		{"an input that is not an order", `{"format":2,"saga_id":"ord-1","definition":"order","status":"running","version":1,"input":[1,2]}`, nil},
		{"a format-1 history with odd entries", `{"format":1,"saga_id":"ord-1","definition":"order","status":"running","version":2,
			"history":[{"time":"2026-03-01T12:00:00Z","kind":"x","command_id":"not-a-uuid","attempt":4}],"history_dropped":-3}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestService(t, nil)
			if _, err := s.model.Apply([]byte("ord-1"), []byte(tc.value)); err != nil {
				t.Fatalf("got error %v, want the snapshot applied", err)
			}
			for _, target := range []string{"/sagas/ord-1", "/sagas/ord-1/dag.svg", "/ui/sagas/ord-1"} {
				r := do(t, s.Handler(), "GET", target, nil)
				if r.code != 200 && !(target == "/sagas/ord-1/dag.svg" && r.code == 404) {
					t.Errorf("%s: got %d %s, want 200", target, r.code, r.body)
				}
			}
			var d SagaDetail
			do(t, s.Handler(), "GET", "/sagas/ord-1", nil).json(t, &d)
			// The /orders endpoints serve order sagas only.
			wantOrder := http.StatusOK
			if d.Type != OrderType {
				wantOrder = http.StatusNotFound
			}
			if r := do(t, s.Handler(), "GET", "/orders/ord-1", nil); r.code != wantOrder {
				t.Errorf("/orders/ord-1 of a %q saga: got %d, want %d", d.Type, r.code, wantOrder)
			}
			for name, want := range tc.wantSteps {
				i := slices.IndexFunc(d.Steps, func(v StepView) bool { return v.Name == name })
				if i < 0 || d.Steps[i].State != want {
					t.Errorf("step %s: got %+v, want state %s", name, d.Steps, want)
				}
			}
			if d.HistoryDropped < 0 {
				t.Errorf("got %d dropped, want at least 0", d.HistoryDropped)
			}
		})
	}
}

// The orchestrator may write its snapshots in the engine's binary encoding: they read the
// same as their JSON.
func TestSnapshotEncodingsReadAlike(t *testing.T) {
	r := runCancelled(t, "ord-1", t0)
	binary := func(s *saga.State) []byte {
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	encodings := []struct {
		name   string
		encode func(*saga.State) []byte
	}{
		{"JSON format 2", func(s *saga.State) []byte { return mustJSON(t, s) }},
		{"JSON format 1", func(s *saga.State) []byte { return format1JSON(t, s, nil, 0) }},
		{"binary", binary},
	}
	var want []byte
	for _, enc := range encodings {
		s, _ := newTestService(t, nil)
		for i, snap := range r.snaps {
			if tl := r.records[i]; len(tl.Entries) > 0 {
				s.applyEvent(timelineMessage(t, tl))
			}
			if _, err := s.model.Apply([]byte("ord-1"), enc.encode(snap)); err != nil {
				t.Fatalf("%s: applying v%d: %v", enc.name, snap.Version, err)
			}
		}
		got := do(t, s.Handler(), "GET", "/orders/ord-1", nil).body
		if want == nil {
			want = got
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s: got detail\n%s\nwant (as from %s)\n%s", enc.name, got, encodings[0].name, want)
		}
	}
	m, _ := newTestModel(t, Limits{})
	if _, err := m.Apply([]byte("ord-1"), []byte("\xb5PS\x03\x05")); err == nil {
		t.Error("truncated binary snapshot: got no error, want one")
	}
}
