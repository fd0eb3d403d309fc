package orchestrator

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)

func keysOf(msgs []kafkago.Message) (records, tombstones []string) {
	for _, m := range msgs {
		if m.Value == nil {
			tombstones = append(tombstones, string(m.Key))
		} else {
			records = append(records, string(m.Key))
		}
	}
	return records, tombstones
}

func TestFinishedIndexLifecycle(t *testing.T) {
	const partitions = 12
	x := newFinishedIndex(3, partitions, 2*time.Minute, 5*time.Minute)
	x.add("ord-1", saga.StatusCompleted, t0)
	x.add("ord-2", saga.StatusCompensated, t0.Add(time.Second))

	if st, ok := x.lookup("ord-2"); !ok || st != saga.StatusCompensated {
		t.Errorf("lookup ord-2: got %s %v, want compensated true", st, ok)
	}
	if _, ok := x.lookup("ord-3"); ok {
		t.Errorf("lookup ord-3: found, want unknown")
	}

	// Within the minute: nothing to write.
	if msgs, _ := x.housekeeping(t0.Add(30 * time.Second)); len(msgs) != 0 {
		t.Fatalf("housekeeping within the bucket: got %d records, want none", len(msgs))
	}
	// The minute has passed: the bucket's record, homed on partition 3.
	msgs, done := x.housekeeping(t0.Add(time.Minute))
	records, tombs := keysOf(msgs)
	if len(records) != 1 || len(tombs) != 0 {
		t.Fatalf("sealing: got records %v tombstones %v, want one record", records, tombs)
	}
	if got := pkafka.HomePartition(msgs[0].Key, partitions); got != 3 {
		t.Errorf("index record key %s: home partition %d, want 3", msgs[0].Key, got)
	}
	if got, want := len(msgs[0].Value), 1+2*17; got != want {
		t.Errorf("index record: got %d bytes, want %d", got, want)
	}
	record := msgs[0]
	done()
	if msgs, _ := x.housekeeping(t0.Add(time.Minute)); len(msgs) != 0 {
		t.Errorf("after sealing: got %d records, want none", len(msgs))
	}

	// Retention over: the snapshots are tombstoned, the index still knows them.
	msgs, done = x.housekeeping(t0.Add(2*time.Minute + time.Second))
	if _, tombs := keysOf(msgs); !slices.Equal(tombs, []string{"ord-1", "ord-2"}) {
		t.Fatalf("retention: got tombstones %v, want ord-1 and ord-2", tombs)
	}
	done()
	if _, ok := x.lookup("ord-1"); !ok {
		t.Errorf("ord-1 forgotten after its retention, want it known for the dedupe window")
	}
	if x.liveFrom != len(x.starts) {
		t.Errorf("live buckets from %d of %d, want none live: written and tombstoned", x.liveFrom, len(x.starts))
	}
	// A saga finishing later makes its (new) bucket live again, and only that one.
	x.add("ord-9", saga.StatusCompleted, t0.Add(3*time.Minute))
	if got, want := x.starts[x.liveFrom], bucketStart(t0.Add(3*time.Minute)); got != want {
		t.Errorf("first live bucket: got %d, want %d", got, want)
	}

	// A restart restores the index from its record alone.
	y := newFinishedIndex(3, partitions, 2*time.Minute, 5*time.Minute)
	if err := y.restoreRecord(string(record.Key), record.Value); err != nil {
		t.Fatalf("restoreRecord: %v", err)
	}
	if st, ok := y.lookup("ord-2"); !ok || st != saga.StatusCompensated {
		t.Errorf("restored lookup ord-2: got %s %v, want compensated true", st, ok)
	}
	if msgs, _ := y.housekeeping(t0.Add(3 * time.Minute)); len(msgs) != 0 {
		t.Errorf("restored bucket: got %d records to write, want none (already written)", len(msgs))
	}

	// Dedupe window over: the record is tombstoned and the sagas forgotten.
	msgs, done = x.housekeeping(t0.Add(7 * time.Minute))
	// (ord-9's bucket is written and its snapshot tombstoned in the same pass.)
	if _, tombs := keysOf(msgs); !slices.Equal(tombs, []string{string(record.Key), "ord-9"}) {
		t.Fatalf("dedupe expiry: got tombstones %v, want the index record %s and ord-9", tombs, record.Key)
	}
	done()
	if _, ok := x.lookup("ord-1"); ok || x.Len() != 1 {
		t.Errorf("after the dedupe window: ord-1 still known (%d held, want ord-9 alone)", x.Len())
	}
}

func TestFinishedIndexRestoredSnapshotsAreSealedBeforeTombstones(t *testing.T) {
	x := newFinishedIndex(0, 12, 2*time.Minute, 5*time.Minute)
	// Restored from retained finished snapshots, out of order, no index record yet (the
	// previous owner died before writing it).
	x.add("ord-b", saga.StatusCompleted, t0.Add(2*time.Second))
	x.add("ord-a", saga.StatusCompleted, t0)
	x.sortRestored()
	msgs, done := x.housekeeping(t0.Add(10 * time.Minute).Add(-7 * time.Minute)) // retention over, window not
	records, tombs := keysOf(msgs)
	if len(records) != 1 || !slices.Equal(tombs, []string{"ord-a", "ord-b"}) {
		t.Fatalf("got records %v tombstones %v, want the index record and then ord-a, ord-b", records, tombs)
	}
	if msgs[0].Value == nil {
		t.Errorf("the index record must come before the tombstones")
	}
	done()
}

func TestFinishedIndexBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a million index entries")
	}
	x := newFinishedIndex(0, 12, 2*time.Minute, 5*time.Minute)
	const n = 200000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		x.add(fmt.Sprintf("ord-%08d", i), saga.StatusCompleted, t0.Add(time.Duration(i)*time.Millisecond))
	}
	// Past the retention: only hashes remain.
	msgs, done := x.housekeeping(t0.Add(200*time.Second + 2*time.Minute + time.Minute))
	done()
	if len(msgs) == 0 {
		t.Fatal("no housekeeping records")
	}
	msgs = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSaga := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("finished index: %.1f bytes per finished saga after its retention", perSaga)
	if perSaga > 64 {
		t.Errorf("got %.1f bytes per finished saga, want at most 64", perSaga)
	}
	// Past the dedupe window: nothing.
	_, done = x.housekeeping(t0.Add(time.Hour))
	done()
	if x.Len() != 0 || len(x.buckets) != 0 {
		t.Errorf("after the window: %d sagas in %d buckets, want none", x.Len(), len(x.buckets))
	}
	runtime.KeepAlive(x)
}

func TestFinishedMarkerIsSmall(t *testing.T) {
	s := &saga.State{Format: saga.FormatVersion, SagaID: "ord-1", Definition: "order", Status: saga.StatusCompleted,
		Input: []byte(`{"big":"` + string(make([]byte, 0)) + `"}`),
		Steps: map[string]*saga.StepState{"a": {Status: saga.StepSucceeded, Result: []byte(`{"x":1}`),
			Do: saga.Phase{Attempt: 1, CommandID: "c", Answered: []string{"c"}}}}}
	m := finishedMarker(s)
	if m.Input != nil || m.Steps["a"].Result != nil || m.Steps["a"].Do.Answered != nil || m.Steps["a"].Do.CommandID != "" {
		t.Errorf("marker keeps input, results or answered IDs: %+v", m)
	}
	if s.Input == nil || s.Steps["a"].Result == nil {
		t.Errorf("finishedMarker modified the state")
	}
}
