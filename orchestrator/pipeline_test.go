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

// clockedConfig is the order saga's configuration with a one-second snapshot interval and
// *clock as the clock.
func clockedConfig(clock *time.Time) Config {
	return Config{Sagas: []SagaType{orderSaga(order.Options{})}, Kafka: pkafka.Config{Brokers: []string{"unused:9092"}},
		SnapshotInterval: time.Second, Now: func() time.Time { return *clock }}.withDefaults()
}

// pipelineStart is where the clocked pipeline tests' clock starts.
var pipelineStart = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// clockedPipeline is pipelineProcessor with clockedConfig(clock), writing to a new
// recordingWriter, for the test's lifetime.
func clockedPipeline(t *testing.T, clock *time.Time) (cfg Config, w *recordingWriter, p *processor, a, b string) {
	t.Helper()
	cfg = clockedConfig(clock)
	w = &recordingWriter{}
	p, a, b = pipelineProcessor(t.Context(), t, cfg, w)
	return cfg, w, p, a, b
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

// TestSnapshotsWaitForTheIntervalAndHoldOnlyWrittenChanges: a new saga's first snapshot
// goes out with the next write (as a finished saga's marker would); later changes wait for Config.SnapshotInterval, and a saga
// changed several times within it is written once; once the interval passed, what waits
// goes out with the next batch's write, encoded before that batch changed the sagas (a
// snapshot never holds a change whose events are not written yet), and the offsets of the
// batches it covers are committed after it — never after a write of first snapshots alone.
func TestSnapshotsWaitForTheIntervalAndHoldOnlyWrittenChanges(t *testing.T) {
	ctx := t.Context()
	clock := pipelineStart
	cfg, w, p, a, b := clockedPipeline(t, &clock)
	home := p.partition
	state := events.TopicSagaState + "/"
	// snapshots returns the versions of the snapshots in write i, failing on a saga twice.
	snapshots := func(i int) map[string]uint64 {
		t.Helper()
		out := map[string]uint64{}
		for _, m := range w.writes[i] {
			if m.Topic != events.TopicSagaState {
				continue
			}
			s, err := saga.DecodeState(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, twice := out[string(m.Key)]; twice {
				t.Errorf("write %d holds two snapshots of %s", i+1, m.Key)
			}
			out[string(m.Key)] = s.Version
		}
		return out
	}

	if err := p.process(ctx, []kafkago.Message{input(t, events.TopicOrdersPlaced, home, 10, events.TypeOrderPlaced, a, orderOf(a), "")}); err != nil {
		t.Fatal(err)
	}
	started := map[string]uint64{a: p.sagas[a].Version}
	clock = clock.Add(cfg.SnapshotInterval / 2)
	if err := p.process(ctx, []kafkago.Message{input(t, events.TopicOrdersPlaced, home, 11, events.TypeOrderPlaced, b, orderOf(b), "")}); err != nil {
		t.Fatal(err)
	}
	started[b] = p.sagas[b].Version
	// Both steps' attempts time out: the batch that applies it changes both sagas, and
	// the interval has passed.
	clock = clock.Add(order.DefaultTimeout)
	if err := p.process(ctx, nil); err != nil {
		t.Fatal(err)
	}
	timedOut := map[string]uint64{a: p.sagas[a].Version, b: p.sagas[b].Version}
	for id, v := range started {
		if timedOut[id] <= v {
			t.Fatalf("the timeouts did not change saga %s (version %d)", id, v)
		}
	}
	// The retries are dispatched within the interval: a second change of each.
	deadline := clock.Add(cfg.SnapshotInterval)
	for p.sagas[a].Version == timedOut[a] || p.sagas[b].Version == timedOut[b] {
		due, ok := p.timers.next()
		if !ok || !due.Before(deadline) {
			t.Fatalf("want both retries due within the interval, next timer %v (%v)", due, ok)
		}
		clock = due
		if err := p.process(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	writes := len(w.log)
	if p.pending == nil || p.pending.sagas() != 2 || p.pending.hasUrgent() {
		t.Fatalf("within the interval, want both sagas' changes waiting, got %+v", p.pending)
	}
	if err := p.flush(ctx); err != nil {
		t.Fatal(err)
	}

	if len(w.log) != writes+1 || w.log[0] != "write "+startWrite(a) || w.log[1] != "write "+startWrite(b)+" "+state+a ||
		!strings.Contains(w.log[2], state+b) || strings.Contains(w.log[2], state+a) || w.log[3] != "commit orders.placed@12" {
		t.Fatalf("writes and commits: %q", w.log)
	}
	for _, l := range w.log[4:writes] {
		if strings.Contains(l, state) || strings.HasPrefix(l, "commit") {
			t.Errorf("within the interval: %q", l)
		}
	}
	snaps := []string{state + a, state + b}
	slices.Sort(snaps)
	if w.log[writes] != "write "+strings.Join(snaps, " ") {
		t.Errorf("the flush wrote %q, want both sagas once", w.log[writes])
	}
	if got := snapshots(1); got[a] != started[a] {
		t.Errorf("write 2: first snapshot of %s at version %d, want %d", a, got[a], started[a])
	}
	// Encoded before the timeouts' batch applied anything.
	if got := snapshots(2); got[b] != started[b] {
		t.Errorf("write 3: snapshot of %s at version %d, want %d (before the timeout)", b, got[b], started[b])
	}
	if got := snapshots(len(w.writes) - 1); got[a] != p.sagas[a].Version || got[b] != p.sagas[b].Version || got[a] <= timedOut[a] || got[b] <= timedOut[b] {
		t.Errorf("the flush wrote versions %v, want the retried sagas' %d and %d", got, p.sagas[a].Version, p.sagas[b].Version)
	}
}

// TestIndexRecordsIssuedOnceWhileSnapshotsWait: the finished-saga index records due are
// issued once and wait with the snapshots; batches applied meanwhile issue them again
// neither before they are written nor after.
func TestIndexRecordsIssuedOnceWhileSnapshotsWait(t *testing.T) {
	ctx := t.Context()
	clock := pipelineStart
	cfg, w, p, a, b := clockedPipeline(t, &clock)
	// Two sagas finished in a minute whose index record is due.
	p.finished.add(a, saga.StatusCompleted, clock.Add(-3*time.Minute))
	p.finished.add(b, saga.StatusCompleted, clock.Add(-3*time.Minute))
	for range 3 {
		if err := p.process(ctx, nil); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(cfg.SnapshotInterval / 4)
	}
	if err := p.flush(ctx); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(cfg.SnapshotInterval)
	if err := p.process(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.flush(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, write := range w.writes {
		for _, m := range write {
			if strings.Contains(string(m.Key), "/") { // index records: <home>/<minute>/<part>
				seen[string(m.Key)]++
			}
		}
	}
	if len(seen) == 0 {
		t.Fatalf("no index record written: %q", w.log)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("index record %s written %d times, want once", k, n)
		}
	}
}
