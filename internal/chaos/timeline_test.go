package chaos

import (
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// TestAddTimelineAfterFailover is the chaos finding: a zombie owner wrote records up to
// version 8 from the snapshot at version 3; the new owner, restored from version 3, redid
// the saga and completed at version 7. The timeline ends completed, not running; a
// redelivery of one of the owner's records changes nothing.
func TestAddTimelineAfterFailover(t *testing.T) {
	base := func(v uint64) *uint64 { return &v }
	rec := func(b *uint64, v uint64, status saga.Status) events.SagaTimeline {
		return events.SagaTimeline{SagaID: "o1", Version: v, BaseVersion: b, Status: string(status),
			Entries: []events.TimelineEntry{{Time: t0, Kind: saga.HistoryDispatched}}}
	}
	inGen := func(g int32, r events.SagaTimeline) events.SagaTimeline { r.Generation = g; return r }
	cases := []struct {
		name       string
		recs       []events.SagaTimeline
		wantStatus saga.Status
		wantV      uint64
	}{
		{"zombie then owner", []events.SagaTimeline{
			rec(base(0), 3, saga.StatusRunning),
			rec(base(3), 5, saga.StatusRunning), // zombie
			rec(base(5), 8, saga.StatusRunning), // zombie
			rec(base(3), 6, saga.StatusRunning), // owner, diverged
			rec(base(6), 7, saga.StatusCompleted),
		}, saga.StatusCompleted, 7},
		{"a redelivery is skipped", []events.SagaTimeline{
			rec(base(0), 3, saga.StatusRunning),
			rec(base(3), 5, saga.StatusCompleted),
			rec(base(3), 5, saga.StatusRunning),
		}, saga.StatusCompleted, 5},
		{"records without a base keep the old rule", []events.SagaTimeline{
			rec(nil, 3, saga.StatusRunning),
			rec(nil, 8, saga.StatusRunning),
			rec(nil, 6, saga.StatusCompleted),
		}, saga.StatusRunning, 8},
		{"a late zombie record after the owner's line is skipped", []events.SagaTimeline{
			rec(base(0), 3, saga.StatusRunning),
			rec(base(3), 4, saga.StatusRunning),
			rec(base(4), 6, saga.StatusCompleted),
			rec(base(5), 6, saga.StatusRunning), // base 5 is not in the line
		}, saga.StatusCompleted, 6},
		// make chaos (TestFencingHeldWritesLandLate): the zombie's held write of the
		// versions after its snapshot landed after the new owner had completed the saga.
		{"an ended generation's write after its successor's is skipped", []events.SagaTimeline{
			inGen(1, rec(base(0), 3, saga.StatusRunning)),
			inGen(2, rec(base(3), 4, saga.StatusRunning)),
			inGen(2, rec(base(4), 6, saga.StatusCompleted)),
			inGen(1, rec(base(4), 5, saga.StatusRunning)), // held, landed late
		}, saga.StatusCompleted, 6},
		{"a newer generation's redo still replaces", []events.SagaTimeline{
			inGen(1, rec(base(0), 3, saga.StatusRunning)),
			inGen(1, rec(base(3), 5, saga.StatusRunning)),
			inGen(2, rec(base(3), 4, saga.StatusCompleted)),
		}, saga.StatusCompleted, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			timelines, seen := map[string]*Timeline{}, map[uint64]bool{}
			for _, r := range c.recs {
				addTimeline(timelines, r, seen)
			}
			tl := timelines["o1"]
			if tl.Status != string(c.wantStatus) || tl.Version != c.wantV {
				t.Errorf("got %s v%d, want %s v%d", tl.Status, tl.Version, c.wantStatus, c.wantV)
			}
			if tl.Records != len(c.recs) {
				t.Errorf("got %d records, want %d", tl.Records, len(c.recs))
			}
		})
	}
}
