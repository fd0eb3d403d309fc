package orchestrator

import (
	"slices"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// TestUnsavedKeepsEachKeysLastChangeLast: a saga changed again moves behind the records
// added since its first change (so that its snapshot stays the last record of its key), is
// written once, and due follows the interval and the cap.
func TestUnsavedKeepsEachKeysLastChangeLast(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	u := newUnsaved(start)
	u.touch("a", false)
	u.touch("b", false)
	u.add([]kafkago.Message{{Key: []byte("a")}}, false) // e.g. a tombstone of an older snapshot of a
	u.touch("a", false)
	u.touch("a", false)
	if got, want := waiting(u), []string{"saga b", "record a", "saga a"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	if u.sagas() != 2 {
		t.Errorf("%d sagas pending, want 2", u.sagas())
	}
	if u.due(start.Add(99*time.Millisecond), 100*time.Millisecond) || !u.due(start.Add(100*time.Millisecond), 100*time.Millisecond) {
		t.Error("due before the interval passed, or not after")
	}
	for i := range maxUnsavedSagas {
		u.touch(string(rune('c'+i)), false)
	}
	if !u.due(start, time.Hour) {
		t.Errorf("%d sagas pending and not due", u.sagas())
	}
}

// TestUnsavedTakesUrgentSagasOut: the urgent sagas (and only they) are taken out at once,
// with the finished ones among them; the rest keeps waiting.
func TestUnsavedTakesUrgentSagasOut(t *testing.T) {
	u := newUnsaved(time.Now())
	u.touch("old", false)
	u.touch("new", true)
	u.touch("done", true)
	u.retired["done"] = &saga.State{Status: saga.StatusCompleted}
	u.retired["old-done"] = &saga.State{Status: saga.StatusCompleted}
	u.add([]kafkago.Message{{Key: []byte("index")}}, false)
	u.add([]kafkago.Message{{Key: []byte("held-1")}, {Key: []byte("held-2")}}, true)
	if !u.hasUrgent() {
		t.Fatal("urgent sagas and records waiting, hasUrgent false")
	}
	ids, retired, records := u.takeUrgent()
	if want := []string{"done", "new"}; !slices.Equal(ids, want) || len(retired) != 1 || retired["done"] == nil {
		t.Fatalf("takeUrgent = %q, %v; want %q and the finished one", ids, retired, want)
	}
	if len(records) != 2 || string(records[0].Key) != "held-1" || string(records[1].Key) != "held-2" {
		t.Errorf("takeUrgent records %v, want held-1 and held-2 in order", records)
	}
	if u.hasUrgent() || u.sagas() != 1 || u.retired["done"] != nil || u.retired["old-done"] == nil {
		t.Errorf("after takeUrgent: urgent %v, %d sagas waiting, retired %v", u.urgent, u.sagas(), u.retired)
	}
	if left, want := waiting(u), []string{"saga old", "record index"}; !slices.Equal(left, want) {
		t.Errorf("left waiting %q, want %q", left, want)
	}
	if ids, _, records := u.takeUrgent(); ids != nil || records != nil {
		t.Errorf("a second takeUrgent returned %q, %v", ids, records)
	}
}

// waiting lists what u still has to write, in order: "saga <id>" or "record <key>".
func waiting(u *unsaved) []string {
	var out []string
	for _, e := range u.entries {
		switch {
		case e.gone:
		case e.record != nil:
			out = append(out, "record "+string(e.record.Key))
		default:
			out = append(out, "saga "+e.id)
		}
	}
	return out
}
