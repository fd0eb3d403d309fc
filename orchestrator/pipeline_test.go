package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// recordingWriter logs every WriteMessages call as "write" and its records (topic/key,
// sorted: the order of a write's records across partitions is not a contract), and keeps
// the records of each write.
type recordingWriter struct {
	log    []string
	writes [][]kafkago.Message
}

func (w *recordingWriter) WriteMessages(_ context.Context, msgs ...kafkago.Message) error {
	records := make([]string, len(msgs))
	for i, m := range msgs {
		records[i] = m.Topic + "/" + string(m.Key)
	}
	slices.Sort(records)
	w.log = append(w.log, "write "+strings.Join(records, " "))
	w.writes = append(w.writes, slices.Clone(msgs))
	return nil
}

// pipelineProcessor returns a processor of two orders' home partition that writes to w and
// logs its commits there, with cfg's clock, and the two order IDs.
func pipelineProcessor(ctx context.Context, t *testing.T, cfg Config, w *recordingWriter) (p *processor, a, b string) {
	t.Helper()
	a = "ord-pipe-a"
	home := pkafka.HomePartition([]byte(a), cfg.Partitions)
	for i := 0; b == ""; i++ { // a second order homed on the same partition
		if id := fmt.Sprintf("ord-pipe-%d", i); pkafka.HomePartition([]byte(id), cfg.Partitions) == home {
			b = id
		}
	}
	p = newProcessor(cfg, w, pkafka.Assignment{Partition: home, Generation: &kafkago.Generation{ID: 3}})
	p.fence = newFence(ctx, time.Hour)
	p.commit = func(offsets map[string]int64, done func(error)) {
		w.log = append(w.log, fmt.Sprintf("commit %s@%d", events.TopicOrdersPlaced, offsets[events.TopicOrdersPlaced]))
		done(nil)
	}
	return p, a, b
}

// startWrite is the write of a batch that started the order saga id: reserve-inventory and
// authorize-payment in parallel, and its timeline on orders.events.
func startWrite(id string) string {
	return "inventory.commands/" + id + " orders.events/" + id + " payment.commands/" + id
}

// TestBatchSnapshotsGoOutWithTheNextBatch: a batch writes its commands and events at once,
// and leaves its snapshots for a later batch's write (one request instead of two); its
// offsets are committed only once those snapshots are written, and flush writes them alone
// when no input follows. A batch's snapshots never go out before its own events.
func TestBatchSnapshotsGoOutWithTheNextBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An interval this short makes every batch's snapshots due at the next batch.
	cfg := Config{Sagas: []SagaType{orderSaga(order.Options{})}, Kafka: pkafka.Config{Brokers: []string{"unused:9092"}},
		SnapshotInterval: time.Nanosecond}.withDefaults()
	w := &recordingWriter{}
	p, a, b := pipelineProcessor(ctx, t, cfg, w)
	home := p.partition

	if err := p.process(ctx, []kafkago.Message{input(t, events.TopicOrdersPlaced, home, 10, events.TypeOrderPlaced, a, orderOf(a), "")}); err != nil {
		t.Fatal(err)
	}
	if err := p.process(ctx, []kafkago.Message{input(t, events.TopicOrdersPlaced, home, 11, events.TypeOrderPlaced, b, orderOf(b), "")}); err != nil {
		t.Fatal(err)
	}
	if err := p.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p.pending != nil {
		t.Error("flush left snapshots pending")
	}
	state := events.TopicSagaState + "/"
	want := []string{
		"write " + startWrite(a),
		"write " + startWrite(b) + " " + state + a,
		"commit orders.placed@11",
		"write " + state + b,
		"commit orders.placed@12",
	}
	if !slices.Equal(w.log, want) {
		t.Errorf("writes and commits:\n got %q\nwant %q", w.log, want)
	}
}

// TestSnapshotsWaitForTheIntervalAndHoldOnlyWrittenChanges: within Config.SnapshotInterval
// the batches' snapshots wait (each saga written once, however often it changed); once the
// interval passed they go out with the next batch's write, encoded before that batch
// changed the sagas, so a snapshot never holds a change whose events are not written yet;
// the offsets of the batches they cover are committed after them.
func TestSnapshotsWaitForTheIntervalAndHoldOnlyWrittenChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cfg := Config{Sagas: []SagaType{orderSaga(order.Options{})}, Kafka: pkafka.Config{Brokers: []string{"unused:9092"}},
		Now: func() time.Time { return clock }}.withDefaults()
	w := &recordingWriter{}
	p, a, b := pipelineProcessor(ctx, t, cfg, w)
	home := p.partition

	if err := p.process(ctx, []kafkago.Message{input(t, events.TopicOrdersPlaced, home, 10, events.TypeOrderPlaced, a, orderOf(a), "")}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(cfg.SnapshotInterval / 2)
	if err := p.process(ctx, []kafkago.Message{input(t, events.TopicOrdersPlaced, home, 11, events.TypeOrderPlaced, b, orderOf(b), "")}); err != nil {
		t.Fatal(err)
	}
	if p.pending == nil || p.pending.sagas() != 2 {
		t.Fatalf("within the interval, want both sagas' snapshots pending, got %+v", p.pending)
	}
	versions := map[string]uint64{a: p.sagas[a].Version, b: p.sagas[b].Version}
	// Both steps' attempts time out: the batch that applies it changes both sagas.
	clock = clock.Add(order.DefaultTimeout)
	if err := p.process(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		if p.sagas[id].Version <= versions[id] {
			t.Fatalf("the timeouts did not change saga %s (version %d)", id, p.sagas[id].Version)
		}
	}
	if err := p.flush(ctx); err != nil {
		t.Fatal(err)
	}
	state := events.TopicSagaState + "/"
	snaps := []string{state + a, state + b}
	slices.Sort(snaps)
	if len(w.log) != 5 || w.log[0] != "write "+startWrite(a) || w.log[1] != "write "+startWrite(b) ||
		!strings.Contains(w.log[2], strings.Join(snaps, " ")) || !strings.Contains(w.log[2], "orders.events/"+a) ||
		w.log[3] != "commit orders.placed@12" || w.log[4] != "write "+strings.Join(snaps, " ") {
		t.Fatalf("writes and commits: %q", w.log)
	}
	// The third write's snapshots are the sagas as the first two batches left them; the
	// flush writes them as the timeouts left them.
	for i, want := range []map[string]uint64{versions, {a: p.sagas[a].Version, b: p.sagas[b].Version}} {
		seen := 0
		for _, m := range w.writes[2+i] {
			if m.Topic != events.TopicSagaState {
				continue
			}
			seen++
			s, err := saga.DecodeState(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if s.Version != want[string(m.Key)] {
				t.Errorf("write %d: snapshot of %s at version %d, want %d", 3+i, m.Key, s.Version, want[string(m.Key)])
			}
		}
		if seen != 2 {
			t.Errorf("write %d: %d snapshots, want one per saga", 3+i, seen)
		}
	}
}
