package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// restoreSagas are an in-flight and a completed order saga, for changelog records.
func restoreSagas(t *testing.T) (inFlight, completed *saga.State) {
	t.Helper()
	d := order.Definition()
	now := time.Now().UTC().Truncate(time.Millisecond) // deadlines ahead: timers to schedule
	input := json.RawMessage(`{"order_id":"x","items":[{"sku":"SKU-1","quantity":1,"unit_price":100}],"total":100}`)
	s, out, err := d.Apply(nil, saga.StartInput("x", input, 42, ""), now)
	if err != nil {
		t.Fatal(err)
	}
	inFlight = s
	queue := out.Commands
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if s, out, err = d.Apply(s, saga.ReplyInput(c.ID, c.Step, saga.ReplySuccess, "", json.RawMessage(`{}`)), now); err != nil {
			t.Fatal(err)
		}
		queue = append(queue, out.Commands...)
	}
	if !s.Finished() || !d.Waiting(inFlight) {
		t.Fatalf("got a saga finished %v and one waiting %v, want both", s.Finished(), d.Waiting(inFlight))
	}
	return inFlight, s
}

// restore keeps for each saga its highest version (on a tie the later generation's), counts
// and reports the sagas whose last record is a stale snapshot, forgets tombstoned sagas,
// skips unreadable records, reads JSON snapshots, moves finished sagas to the index and
// schedules the timers of the others.
func TestRestoreKeepsTheNewestSnapshot(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, events.TopicSagaState))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kc := pkafka.Config{Brokers: c.ListenAddrs()}
	inFlight, completed := restoreSagas(t)

	binary := func(base *saga.State, id string, version uint64, generation int32) []byte {
		s := base.Clone()
		s.SagaID, s.Version, s.Generation = id, version, generation
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	jsonOf := func(base *saga.State, id string, version uint64, generation int32) []byte {
		s := base.Clone()
		s.SagaID, s.Version, s.Generation = id, version, generation
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	records := []struct {
		key   string
		value []byte
	}{
		{"a", binary(inFlight, "a", 1, 1)},
		{"a", binary(inFlight, "a", 3, 1)},
		{"a", binary(inFlight, "a", 2, 0)}, // stale, last
		{"b", binary(inFlight, "b", 2, 1)},
		{"b", binary(inFlight, "b", 2, 2)}, // same version, later generation: kept
		{"b", binary(inFlight, "b", 2, 1)}, // stale, last
		{"c", binary(inFlight, "c", 1, 1)},
		{"c", nil}, // tombstone
		{"d", binary(inFlight, "d", 5, 1)},
		{"d", nil},
		{"d", binary(inFlight, "d", 1, 1)}, // after the tombstone: kept
		{"e", binary(inFlight, "e", 1, 1)},
		{"e", []byte("\xb5PS\x03garbage")}, // a readable version, the rest corrupt: skipped
		{"e", []byte("{not json")},         // skipped
		{"f", binary(completed, "f", 7, 1)},
		{"f", binary(inFlight, "f", 6, 0)}, // stale, last, of a finished saga
		{"g", jsonOf(inFlight, "g", 2, 1)},
		{"h", binary(inFlight, "h", 4, 1)},
		{"h", jsonOf(inFlight, "h", 9, 1)},
		{"i", binary(inFlight, "i", 3, 1)},
		{"i", jsonOf(inFlight, "i", 2, 1)}, // stale JSON, then the owner's again
		{"i", binary(inFlight, "i", 4, 1)},
	}
	w := pkafka.NewProducer(kc)
	defer w.Close()
	for _, r := range records { // one write each: the order of the log
		if err := w.WriteMessages(context.Background(), kafkago.Message{Topic: events.TopicSagaState, Key: []byte(r.key), Value: r.value}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := Config{Kafka: kc, Partitions: 1, Sagas: []SagaType{{Definition: order.Definition(), Start: events.TypeOrderPlaced, Topic: events.TopicOrdersPlaced}}}.withDefaults()
	p := newProcessor(cfg, nil, pkafka.Assignment{Partition: 0})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	end, rewrite, err := p.restore(ctx)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if end != int64(len(records)) {
		t.Errorf("got end %d, want %d", end, len(records))
	}
	want := map[string][2]uint64{ // version, generation
		"a": {3, 1}, "b": {2, 2}, "d": {1, 1}, "e": {1, 1}, "g": {2, 1}, "h": {9, 1}, "i": {4, 1},
	}
	got := map[string][2]uint64{}
	for id, s := range p.sagas {
		got[id] = [2]uint64{s.Version, uint64(s.Generation)}
		if s.SagaID != id {
			t.Errorf("saga %s: got the state of %s", id, s.SagaID)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got sagas (version, generation) %v, want %v", got, want)
	}
	if want := []string{"a", "b", "f"}; !slices.Equal(rewrite, want) {
		t.Errorf("got sagas to write again %v, want %v", rewrite, want)
	}
	if got := testutil.ToFloat64(cfg.Metrics.StaleSnapshots); got != 4 {
		t.Errorf("got %v stale snapshots counted, want 4 (a, b, f, i)", got)
	}
	if _, done := p.finished.lookup("f"); !done || p.markers["f"] == nil {
		t.Errorf("finished saga f: in the index %v, marker to write %v, want both", done, p.markers["f"] != nil)
	}
	if n := p.timers.len(); n != len(want) {
		t.Errorf("got %d sagas with a timer, want %d", n, len(want))
	}
}
