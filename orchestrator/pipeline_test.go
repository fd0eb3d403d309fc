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
)

// recordingWriter logs every WriteMessages call as "write" and its records (topic/key,
// sorted: the order of a write's records across partitions is not a contract).
type recordingWriter struct{ log []string }

func (w *recordingWriter) WriteMessages(_ context.Context, msgs ...kafkago.Message) error {
	records := make([]string, len(msgs))
	for i, m := range msgs {
		records[i] = m.Topic + "/" + string(m.Key)
	}
	slices.Sort(records)
	w.log = append(w.log, "write "+strings.Join(records, " "))
	return nil
}

// TestBatchSnapshotsGoOutWithTheNextBatch: a batch writes its commands and events at once,
// and leaves its snapshots for the next batch's write (one request instead of two); its
// offsets are committed only once those snapshots are written, and flush writes them alone
// when no input follows. A batch's snapshots never go out before its own events.
func TestBatchSnapshotsGoOutWithTheNextBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{Sagas: []SagaType{orderSaga(order.Options{})}, Kafka: pkafka.Config{Brokers: []string{"unused:9092"}}}.withDefaults()
	const a = "ord-pipe-a"
	home := pkafka.HomePartition([]byte(a), cfg.Partitions)
	b := ""
	for i := 0; b == ""; i++ { // a second order homed on the same partition
		if id := fmt.Sprintf("ord-pipe-%d", i); pkafka.HomePartition([]byte(id), cfg.Partitions) == home {
			b = id
		}
	}
	w := &recordingWriter{}
	p := newProcessor(cfg, w, pkafka.Assignment{Partition: home, Generation: &kafkago.Generation{ID: 3}})
	p.fence = newFence(ctx, time.Hour)
	p.commit = func(offsets map[string]int64, done func(error)) {
		w.log = append(w.log, fmt.Sprintf("commit %s@%d", events.TopicOrdersPlaced, offsets[events.TopicOrdersPlaced]))
		done(nil)
	}

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
	// The order saga starts with reserve-inventory and authorize-payment in parallel, and
	// records its timeline on orders.events.
	start := func(id string) string {
		return "inventory.commands/" + id + " orders.events/" + id + " payment.commands/" + id
	}
	state := events.TopicSagaState + "/"
	want := []string{
		"write " + start(a),
		"write " + start(b) + " " + state + a,
		"commit orders.placed@11",
		"write " + state + b,
		"commit orders.placed@12",
	}
	if !slices.Equal(w.log, want) {
		t.Errorf("writes and commits:\n got %q\nwant %q", w.log, want)
	}
}
