package chaos

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/client"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// TestFencingHeldWritesLandLate is the zombie that no process signal can make: orchestrator
// A's link to the broker stalls — requests are held, not lost, like a network partition
// that heals while TCP keeps retransmitting — for longer than the session timeout. The
// coordinator evicts A, B takes over A's partitions, restores them and carries the sagas on.
// Then the link heals and everything A sent meanwhile lands at once: snapshots, commands and
// lifecycle events of a generation that ended long ago. Fencing must keep them harmless:
// every order still ends once and as its content demands, and the newest state of every
// saga stays the one restore and compaction keep.
func TestFencingHeldWritesLandLate(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite: skipped with -short")
	}
	t.Parallel() // in process, mostly waiting out fault durations
	hold := 4 * netSession
	steps := []netStep{
		{"hold orch-a's requests beyond the session timeout", func(ctx context.Context, s *inProcess, f *FaultLog) error {
			release, err := s.net.Hold("orch-a", 10*time.Minute)
			if err != nil {
				return err
			}
			// A burst right behind the hold: the fetches orch-a sent before it are still
			// waiting at the broker and return these orders, so orch-a applies them and
			// writes — into the hold.
			if err := s.load.Place(ctx, 200); err != nil {
				return errors.Join(err, release())
			}
			f.Add(FaultHeldWrites, "orch-a's requests held for %s (session timeout %s), then delivered at once", hold, netSession)
			if err := sleep(ctx, hold); err != nil {
				return errors.Join(err, release())
			}
			return release()
		}, 10 * time.Second},
	}
	runNetwork(t, "fencing: held writes land late", steps, 600, 20, false)
}

// TestFencingRestoreKeepsTheOwnersState writes, after an order completed, a stale snapshot
// of it to podium.saga-state — what a writer whose generation ended leaves behind when its
// write lands late: the previous snapshot retried by kafka-go after a broker restart, or a
// zombie's divergent snapshot of the same version — then restarts the orchestrator. The
// restored state must be the owner's (completed, or no state once the retention tombstoned
// it): nothing may be re-sent for the order.
// The stale snapshot keeps the send-confirmation step in flight, so restoring it would show
// as a re-sent confirmation command.
func TestFencingRestoreKeepsTheOwnersState(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos suite: skipped with -short")
	}
	t.Parallel() // in process, mostly waiting out fault durations
	cases := []struct {
		name string
		// stale derives the stale snapshot from the owner's last two.
		stale   func(prev, final saga.State) saga.State
		compact bool
		// retire lets the retention pass (the orchestrator's clock jumps) before the stale
		// write: it lands after the tombstone of the finished state.
		retire bool
	}{
		{"an older version lands last", func(prev, final saga.State) saga.State {
			prev.Generation = final.Generation - 1
			return prev
		}, false, false},
		{"the same version from an older generation lands last", func(prev, final saga.State) saga.State {
			prev.Version, prev.Generation = final.Version, final.Generation-1
			return prev
		}, false, false},
		{"an older version lands last, then the log is compacted", func(prev, final saga.State) saga.State {
			prev.Generation = final.Generation - 1
			return prev
		}, true, false},
		{"an older version lands after the retention tombstoned the state", func(prev, final saga.State) saga.State {
			prev.Generation = final.Generation - 1
			return prev
		}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newInProcess(t, runDir(t), netSession, networkSaga(), "orch-a")
			// The stale snapshot is derived from an in-flight one: a snapshot per change.
			s.snapshotInterval = time.Nanosecond
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			s.startWorkers()
			s.startOrchestrator("orch-a")
			load := NewLoad(ctx, s.kafka, fmt.Sprintf("fence%d", time.Now().UnixNano()%100000), 3, testLogger(t))
			defer load.Close()
			if err := load.Place(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if err := load.WaitTerminal(ctx, 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			o := load.Orders()[0]
			id := o.Placed.OrderID
			if o.Kind != sample.Happy {
				t.Fatalf("the first sample order is %s, want happy", o.Kind)
			}
			snaps := snapshotsOf(ctx, t, s.kafka, id)
			if len(snaps) < 2 {
				t.Fatalf("%d snapshots of %s, want several", len(snaps), id)
			}
			final := snaps[len(snaps)-1]
			if final.Status != saga.StatusCompleted {
				t.Fatalf("the last snapshot of %s is %s, want completed", id, final.Status)
			}
			var prev *saga.State
			for i := len(snaps) - 2; i >= 0; i-- {
				if st := snaps[i].Steps[order.StepSendConfirmation]; st != nil && st.Status == saga.StepDispatched {
					prev = &snaps[i]
					break
				}
			}
			if prev == nil {
				t.Fatalf("no snapshot of %s has send-confirmation in flight", id)
			}
			if c.retire {
				s.clock.Advance(inProcessRetention + 30*time.Second)
				err := poll(ctx, 30*time.Second, "the retention to tombstone the state of "+id, func() (bool, string) {
					last, tombstone := lastRecordOf(ctx, t, s.kafka, id)
					if tombstone {
						return true, ""
					}
					return false, fmt.Sprintf("last record v%d %s", last.Version, last.Status)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			stale := c.stale(*prev, final)
			value, err := stale.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			w := pkafka.NewProducer(s.kafka)
			defer w.Close()
			if err := w.WriteMessages(ctx, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(id), Value: value}); err != nil {
				t.Fatal(err)
			}
			if c.compact {
				// Compaction keeps the last record of each key: the owner must answer the
				// foreign write — write its own state again, or (the saga finished) a
				// tombstone — or the stale one is all that remains.
				err := poll(ctx, 30*time.Second, "the owner to answer the stale write of "+id+" with its own state or a tombstone", func() (bool, string) {
					last, tombstone := lastRecordOf(ctx, t, s.kafka, id)
					if tombstone {
						return true, ""
					}
					return last.Status == saga.StatusCompleted, fmt.Sprintf("last record v%d gen %d %s", last.Version, last.Generation, last.Status)
				})
				if err != nil {
					t.Errorf("%v", err)
				}
				// Compaction keeps the last batch whatever it holds: close the stale one (a
				// tombstone of another key on the same partition).
				if err := w.WriteMessages(ctx, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(id + "/filler")}); err != nil {
					t.Fatal(err)
				}
				s.broker.Cluster().Compact()
				if n := len(snapshotsOf(ctx, t, s.kafka, id)); n > 1 {
					t.Fatalf("%d snapshots of %s after compaction, want at most 1", n, id)
				}
			}
			before := commandEnds(ctx, t, s.kafka)
			s.stop("orch-a")
			s.startOrchestrator("orch-a")
			// Orders homed on every partition complete: every partition was restored.
			probeEveryPartition(ctx, t, load)
			if sent := commandsFor(ctx, t, s.kafka, id, before); len(sent) > 0 {
				t.Errorf("after the restart the orchestrator sent %d command(s) for %s, which completed before: it restored the stale snapshot (v%d gen %d) instead of the owner's (v%d gen %d): %v",
					len(sent), id, stale.Version, stale.Generation, final.Version, final.Generation, sent)
			}
		})
	}
}

// snapshotsOf reads every snapshot of one saga, in log order.
func snapshotsOf(ctx context.Context, t *testing.T, cfg pkafka.Config, id string) []saga.State {
	t.Helper()
	var out []saga.State
	p := pkafka.HomePartition([]byte(id), inProcessPartitions)
	_, err := pkafka.ReadPartition(ctx, cfg, events.TopicSagaState, p, func(m kafkago.Message) error {
		if string(m.Key) != id || m.Value == nil {
			return nil
		}
		s, err := saga.DecodeState(m.Value)
		if err != nil {
			return err
		}
		out = append(out, *s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastRecordOf returns the last record of one saga in podium.saga-state: its state, or
// tombstone true.
func lastRecordOf(ctx context.Context, t *testing.T, cfg pkafka.Config, id string) (last *saga.State, tombstone bool) {
	t.Helper()
	p := pkafka.HomePartition([]byte(id), inProcessPartitions)
	_, err := pkafka.ReadPartition(ctx, cfg, events.TopicSagaState, p, func(m kafkago.Message) error {
		if string(m.Key) != id {
			return nil
		}
		if m.Value == nil {
			last, tombstone = nil, true
			return nil
		}
		s, err := saga.DecodeState(m.Value)
		if err != nil {
			return err
		}
		last, tombstone = s, false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last == nil && !tombstone {
		t.Fatalf("no record of %s in %s", id, events.TopicSagaState)
	}
	return last, tombstone
}

// commandEnds returns the end offset of every partition of every commands topic.
func commandEnds(ctx context.Context, t *testing.T, cfg pkafka.Config) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, w := range events.Workers {
		ends, err := client.EndOffsets(ctx, cfg, events.CommandsTopic(w))
		if err != nil {
			t.Fatal(err)
		}
		out[events.CommandsTopic(w)] = ends
	}
	return out
}

// commandsFor lists the commands for an order written after the given offsets.
func commandsFor(ctx context.Context, t *testing.T, cfg pkafka.Config, id string, after map[string][]int64) []string {
	t.Helper()
	var out []string
	for topic, ends := range after {
		for p, from := range ends {
			_, err := pkafka.ReadPartition(ctx, cfg, topic, p, func(m kafkago.Message) error {
				if m.Offset >= from && string(m.Key) == id {
					typ := "undecodable"
					if env, err := events.Decode(record(m)); err == nil {
						typ = fmt.Sprintf("%s attempt %d", env.Type, env.Attempt)
					}
					out = append(out, fmt.Sprintf("%s[%d]@%d %s", topic, p, m.Offset, typ))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// probeEveryPartition places orders until every partition has one and waits for all of
// them to be terminal.
func probeEveryPartition(ctx context.Context, t *testing.T, load *Load) {
	t.Helper()
	homes := map[int]bool{}
	for _, o := range load.Orders() {
		homes[pkafka.HomePartition([]byte(o.Placed.OrderID), inProcessPartitions)] = true
	}
	for len(homes) < inProcessPartitions {
		if err := load.Place(ctx, 1); err != nil {
			t.Fatal(err)
		}
		os := load.Orders()
		homes[pkafka.HomePartition([]byte(os[len(os)-1].Placed.OrderID), inProcessPartitions)] = true
	}
	if err := load.Place(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := load.WaitTerminal(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}
