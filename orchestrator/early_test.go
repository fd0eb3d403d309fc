package orchestrator

import (
	"errors"
	"strings"
	"testing"
	"time"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// TestEarlyCancels holds, takes, expires, bounds and restores early cancels.
func TestEarlyCancels(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	x := newEarlyCancels(2, 12, 5*time.Minute, 3)
	var records []struct {
		key   string
		value []byte
	}
	hold := func(order, req string, at time.Time) error {
		t.Helper()
		m, until, err := x.hold(earlyCancel{OrderID: order, RequestID: req, Reason: "r"}, at)
		if err == nil {
			if !until.Equal(at.Add(5 * time.Minute)) {
				t.Errorf("%s: held until %v, want %v", req, until, at.Add(5*time.Minute))
			}
			if home := pkafka.HomePartition(m.Key, 12); home != 2 || !strings.HasPrefix(string(m.Key), earlyKeyPrefix) {
				t.Errorf("record key %s homes on %d, want partition 2 and the %s prefix", m.Key, home, earlyKeyPrefix)
			}
			records = append(records, struct {
				key   string
				value []byte
			}{string(m.Key), m.Value})
		}
		return err
	}
	for i, r := range []struct{ order, req string }{{"o1", "a"}, {"o1", "b"}, {"o2", "c"}} {
		if err := hold(r.order, r.req, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("hold %s: %v", r.req, err)
		}
	}
	if err := hold("o1", "a", now); err != nil || x.Len() != 3 {
		t.Errorf("a redelivered request: got %v and %d held, want held once (3)", err, x.Len())
	}
	if err := hold("o3", "d", now); !errors.Is(err, errEarlyFull) {
		t.Errorf("beyond the cap: got %v, want errEarlyFull", err)
	}

	// A restore from the records sees the same cancels.
	y := newEarlyCancels(2, 12, 5*time.Minute, 3)
	for _, r := range records {
		if err := y.restoreRecord(r.key, r.value); err != nil {
			t.Fatalf("restoring %s: %v", r.key, err)
		}
	}
	if err := y.restoreRecord(records[2].key, nil); err != nil { // o2's tombstone
		t.Fatal(err)
	}
	y.restored(func(id string) bool { return id == "o9" })
	if y.Len() != 2 || len(y.byOrder["o1"]) != 2 || y.byOrder["o2"] != nil {
		t.Errorf("restored: got %d held %v, want o1's two", y.Len(), y.byOrder)
	}
	// An order that has a saga already had its cancel applied: dropped, tombstoned.
	z := newEarlyCancels(2, 12, 5*time.Minute, 3)
	for _, r := range records {
		_ = z.restoreRecord(r.key, r.value)
	}
	z.restored(func(id string) bool { return id == "o1" })
	if tombs := z.flush(); z.Len() != 1 || len(tombs) != 2 || len(z.flush()) != 0 {
		t.Errorf("restored with o1 known: got %d held, %d tombstones; want 1, 2 (once)", z.Len(), len(tombs))
	}
	if err := y.restoreRecord("~early.1/nokey", []byte("{}")); err == nil {
		t.Error("a malformed key: got no error")
	}

	held, tombs := x.take("o1")
	if len(held) != 2 || len(tombs) != 2 || tombs[0].Value != nil || x.Len() != 1 {
		t.Errorf("take o1: got %d held %d tombstones, %d left; want 2, 2, 1", len(held), len(tombs), x.Len())
	}
	if expired, _ := x.expire(now.Add(5*time.Minute + time.Second)); len(expired) != 0 {
		t.Errorf("before o2's window ends: got %d expired, want none", len(expired))
	}
	expired, tombs := x.expire(now.Add(5*time.Minute + 2*time.Second))
	if len(expired) != 1 || expired[0].RequestID != "c" || len(tombs) != 1 || x.Len() != 0 || len(x.queue) != 0 {
		t.Errorf("after o2's window: got %d expired %d tombstones, %d held, queue %d; want c, 1, 0, 0", len(expired), len(tombs), x.Len(), len(x.queue))
	}

	off := newEarlyCancels(2, 12, -1, 3)
	if _, _, err := off.hold(earlyCancel{OrderID: "o1", RequestID: "a"}, now); !errors.Is(err, errEarlyDisabled) {
		t.Errorf("window off: got %v, want errEarlyDisabled", err)
	}
}
