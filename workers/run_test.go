package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/workers"
	"github.com/podiumhq/podium/workers/inventory"
)

const worker = "inventory"

var (
	commandsTopic  = events.CommandsTopic(worker)
	repliesTopic   = events.RepliesTopic(worker)
	processedTopic = events.ProcessedTopic(worker)
	dlqTopic       = events.DLQTopic(worker)
)

// cluster is an in-process kfake broker with the inventory worker's topics, and a franz-go
// client (a second Kafka implementation) to produce commands and read what the worker wrote.
type cluster struct {
	t     *testing.T
	kafka pkafka.Config
	cl    *kgo.Client
	seen  map[string][]*kgo.Record
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
		kfake.SeedTopics(events.DefaultPartitions, commandsTopic, repliesTopic, processedTopic),
		kfake.SeedTopics(1, dlqTopic),
	)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumeTopics(repliesTopic, dlqTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("starting the test client: %v", err)
	}
	t.Cleanup(cl.Close)
	return &cluster{t: t, kafka: pkafka.Config{Brokers: c.ListenAddrs(), ClientID: "workers-test"}, cl: cl, seen: map[string][]*kgo.Record{}}
}

// command is an inventory reserve command for order.
func command(t *testing.T, order, id string, attempt int, sku string) events.Envelope {
	t.Helper()
	env, err := events.NewEvent(events.TypeInventoryReserve, order, events.ReserveInventory{
		OrderID: order, Items: []events.Item{{SKU: sku, Quantity: 1, UnitPrice: 100}},
	})
	if err != nil {
		t.Fatalf("NewEvent: %v", err)
	}
	env.ID, env.SagaID, env.Step, env.Attempt = id, order, "reserve-inventory", attempt
	env.IdempotencyKey = order + "/reserve-inventory"
	return env
}

// send produces env to the commands topic on its order's home partition.
func (c *cluster) send(env events.Envelope) {
	c.t.Helper()
	value, headers, err := events.Encode(env)
	if err != nil {
		c.t.Fatalf("Encode: %v", err)
	}
	c.produce([]byte(env.Subject), value, headers)
}

// produce writes a raw record to the commands topic on key's home partition.
func (c *cluster) produce(key, value []byte, headers []events.Header) {
	c.t.Helper()
	rec := &kgo.Record{
		Topic: commandsTopic, Partition: int32(pkafka.HomePartition(key, events.DefaultPartitions)),
		Key: key, Value: value,
	}
	for _, h := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		c.t.Fatalf("producing: %v", err)
	}
}

// waitFor polls the replies and DLQ topics until topic holds n records, and returns them.
func (c *cluster) waitFor(topic string, n int) []*kgo.Record {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(c.seen[topic]) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("got %d records on %s, want %d", len(c.seen[topic]), topic, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := c.cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) { c.seen[r.Topic] = append(c.seen[r.Topic], r) })
	}
	return c.seen[topic][:n]
}

// count reads every partition of topic to its end and returns the number of records.
func (c *cluster) count(topic string, partitions int) int {
	c.t.Helper()
	n := 0
	for p := range partitions {
		if _, err := pkafka.ReadPartition(context.Background(), c.kafka, topic, p, func(kafkago.Message) error {
			n++
			return nil
		}); err != nil {
			c.t.Fatalf("reading %s[%d]: %v", topic, p, err)
		}
	}
	return n
}

// start runs a worker with h until the test ends or the returned stop is called; stop waits
// for Run to return and fails the test if it returned an error.
func (c *cluster) start(h workers.Handler, faults workers.Faults) (stop func()) {
	c.t.Helper()
	return c.startConfig(h, workers.Config{Faults: faults})
}

// startConfig is start with cfg, whose worker, Kafka, fetch wait and logger it sets.
func (c *cluster) startConfig(h workers.Handler, cfg workers.Config) (stop func()) {
	c.t.Helper()
	cfg.Worker, cfg.Kafka, cfg.FetchMaxWait = worker, c.kafka, 100*time.Millisecond
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(c.t)).Level(zerolog.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- workers.Run(ctx, cfg, h)
	}()
	stopped := false
	stop = func() {
		c.t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				c.t.Errorf("Run: got %v, want nil after cancel", err)
			}
		case <-time.After(30 * time.Second):
			c.t.Fatal("Run did not return within 30s of cancel")
		}
	}
	c.t.Cleanup(stop)
	return stop
}

// decode decodes a reply record.
func decode(t *testing.T, r *kgo.Record) (events.Envelope, events.Reply) {
	t.Helper()
	rec := events.Record{Topic: r.Topic, Partition: int(r.Partition), Offset: r.Offset, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		rec.Headers = append(rec.Headers, events.Header{Key: h.Key, Value: h.Value})
	}
	env, err := events.Decode(rec)
	if err != nil {
		t.Fatalf("decoding the reply: %v", err)
	}
	var data events.Reply
	if err := env.DecodeData(&data); err != nil {
		t.Fatalf("decoding the reply data: %v", err)
	}
	return env, data
}

// counting wraps a handler and counts its calls.
type counting struct {
	h     workers.Handler
	calls atomic.Int64
}

func (c *counting) Handle(ctx context.Context, cmd workers.Command) workers.Result {
	c.calls.Add(1)
	return c.h.Handle(ctx, cmd)
}

func TestRunRepliesToACommand(t *testing.T) {
	c := newCluster(t)
	effects := workers.NewMemoryEffects()
	c.start(inventory.New(effects), workers.Faults{})

	cmd := command(t, "ord-1", "cmd-1", 1, "SKU-1")
	cmd.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	c.send(cmd)

	r := c.waitFor(repliesTopic, 1)[0]
	env, data := decode(t, r)
	if env.CorrelationID != "cmd-1" || env.Outcome != events.OutcomeSuccess || env.TraceParent != cmd.TraceParent {
		t.Errorf("got correlationid %q outcome %q traceparent %q, want cmd-1 success %q",
			env.CorrelationID, env.Outcome, env.TraceParent, cmd.TraceParent)
	}
	if string(r.Key) != "ord-1" || int(r.Partition) != pkafka.HomePartition([]byte("ord-1"), events.DefaultPartitions) {
		t.Errorf("got reply key %q on partition %d, want ord-1 on its home partition", r.Key, r.Partition)
	}
	var res inventory.ReserveResult
	if err := json.Unmarshal(data.Result, &res); err != nil || res.ReservationID != inventory.ReservationID("ord-1/reserve-inventory") {
		t.Errorf("got result %s (%v), want reservation %s", data.Result, err, inventory.ReservationID("ord-1/reserve-inventory"))
	}
	if got := len(effects.Effects()); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
}

func TestRunRepeatedKeyIsAnsweredFromTheStore(t *testing.T) {
	c := newCluster(t)
	first := &counting{h: inventory.New(nil)}
	stop := c.start(first, workers.Faults{})

	c.send(command(t, "ord-1", "cmd-1", 1, "SKU-1"))
	_, want := decode(t, c.waitFor(repliesTopic, 1)[0])

	c.send(command(t, "ord-1", "cmd-2", 2, "SKU-1"))
	env, got := decode(t, c.waitFor(repliesTopic, 2)[1])
	if env.CorrelationID != "cmd-2" || env.Attempt != 2 {
		t.Errorf("got correlationid %q attempt %d, want cmd-2 and 2", env.CorrelationID, env.Attempt)
	}
	if string(got.Result) != string(want.Result) {
		t.Errorf("got result %s, want the stored %s", got.Result, want.Result)
	}
	if n := first.calls.Load(); n != 1 {
		t.Errorf("got %d handler calls, want 1", n)
	}

	// A new worker restores the store from inventory.processed.
	stop()
	second := &counting{h: inventory.New(nil)}
	c.start(second, workers.Faults{})
	c.send(command(t, "ord-1", "cmd-3", 3, "SKU-1"))
	env, got = decode(t, c.waitFor(repliesTopic, 3)[2])
	if env.CorrelationID != "cmd-3" || string(got.Result) != string(want.Result) {
		t.Errorf("got correlationid %q result %s after a restart, want cmd-3 and the stored %s", env.CorrelationID, got.Result, want.Result)
	}
	if n := second.calls.Load(); n != 0 {
		t.Errorf("got %d handler calls after a restart, want 0", n)
	}
}

func TestRunTombstonesExpiredKeys(t *testing.T) {
	c := newCluster(t)
	h := &counting{h: inventory.New(nil)}
	c.startConfig(h, workers.Config{ProcessedRetention: 200 * time.Millisecond})

	c.send(command(t, "ord-1", "cmd-1", 1, "SKU-1"))
	c.waitFor(repliesTopic, 1)

	// The idle partition expires the key and tombstones its processed record.
	home := pkafka.HomePartition([]byte("ord-1"), events.DefaultPartitions)
	const key = "ord-1/reserve-inventory"
	tombstoned := func() (bool, []string) {
		var seen []string // what the key's records were, in offset order
		if _, err := pkafka.ReadPartition(context.Background(), c.kafka, processedTopic, home, func(m kafkago.Message) error {
			switch {
			case string(m.Key) != key:
			case m.Value == nil:
				seen = append(seen, "tombstone")
			default:
				seen = append(seen, "reply")
			}
			return nil
		}); err != nil {
			t.Fatalf("reading %s[%d]: %v", processedTopic, home, err)
		}
		return slices.Equal(seen, []string{"reply", "tombstone"}), seen
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for done, seen := tombstoned(); !done; done, seen = tombstoned() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("got records %v for %s on %s[%d], want [reply tombstone]", seen, key, processedTopic, home)
		}
	}

	// A repeat after the window runs the handler again.
	c.send(command(t, "ord-1", "cmd-2", 2, "SKU-1"))
	if env, _ := decode(t, c.waitFor(repliesTopic, 2)[1]); env.CorrelationID != "cmd-2" {
		t.Errorf("got a reply to %q, want cmd-2", env.CorrelationID)
	}
	if n := h.calls.Load(); n != 2 {
		t.Errorf("got %d handler calls, want 2: the key was forgotten", n)
	}
}

func TestRunDeadLettersAMalformedCommand(t *testing.T) {
	c := newCluster(t)
	h := &counting{h: inventory.New(nil)}
	c.start(h, workers.Faults{})

	c.produce([]byte("ord-1"), []byte("{not json"), []events.Header{{Key: "content-type", Value: []byte(events.ContentTypeCloudEvents)}})
	c.send(command(t, "ord-1", "cmd-1", 1, "SKU-1"))

	dl := c.waitFor(dlqTopic, 1)[0]
	headers := map[string]string{}
	for _, h := range dl.Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers[events.HeaderDLQReason] == "" || headers[events.HeaderDLQTopic] != commandsTopic ||
		headers[events.HeaderDLQOffset] != "0" || headers["content-type"] != events.ContentTypeCloudEvents {
		t.Errorf("got DLQ headers %v, want a reason, topic %s, offset 0 and the original content-type", headers, commandsTopic)
	}
	if string(dl.Value) != "{not json" || string(dl.Key) != "ord-1" {
		t.Errorf("got DLQ record %q=%q, want the original ord-1={not json", dl.Key, dl.Value)
	}
	env, _ := decode(t, c.waitFor(repliesTopic, 1)[0])
	if env.CorrelationID != "cmd-1" || env.Outcome != events.OutcomeSuccess {
		t.Errorf("got reply to %q with outcome %q, want cmd-1 success: the command behind the bad record", env.CorrelationID, env.Outcome)
	}
}

func TestRunInjectedErrorsAreNotStored(t *testing.T) {
	c := newCluster(t)
	h := &counting{h: inventory.New(nil)}
	stop := c.start(h, workers.Faults{ErrorRate: 1, Seed: 7})

	c.send(command(t, "ord-1", "cmd-1", 1, "SKU-1"))
	c.send(command(t, "ord-1", "cmd-2", 2, "SKU-1"))
	for i, r := range c.waitFor(repliesTopic, 2) {
		env, data := decode(t, r)
		if env.Outcome != events.OutcomeError || data.Reason != workers.ReasonInjectedError {
			t.Errorf("reply %d: got outcome %q reason %q, want error %s", i+1, env.Outcome, data.Reason, workers.ReasonInjectedError)
		}
	}
	stop() // Run returns after its last batch was written
	if n := h.calls.Load(); n != 0 {
		t.Errorf("got %d handler calls, want 0", n)
	}
	if n := c.count(processedTopic, events.DefaultPartitions); n != 0 {
		t.Errorf("got %d processed records, want 0: errors are not stored", n)
	}
}

func TestRunRefusesMismatchedTopics(t *testing.T) {
	c := newCluster(t)
	err := workers.Run(context.Background(), workers.Config{Worker: worker, Kafka: c.kafka, Partitions: 6}, inventory.New(nil))
	if err == nil {
		t.Fatal("got nil, want a partition mismatch error")
	}
	err = workers.Run(context.Background(), workers.Config{Worker: "payment", Kafka: c.kafka}, inventory.New(nil))
	if !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Errorf("got %v, want UnknownTopicOrPartition for a worker without topics", err)
	}
}

func TestRunForwardsAForeignCommand(t *testing.T) {
	c := newCluster(t)
	h := &counting{h: inventory.New(nil)}
	c.start(h, workers.Faults{})

	cmd := command(t, "ord-1", "cmd-1", 1, "SKU-1")
	value, headers, err := events.Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	home := pkafka.HomePartition([]byte("ord-1"), events.DefaultPartitions)
	rec := &kgo.Record{Topic: commandsTopic, Partition: int32((home + 1) % events.DefaultPartitions), Key: []byte("ord-1"), Value: value}
	for _, h := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	if err := c.cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := c.waitFor(repliesTopic, 1)[0]
	if env, _ := decode(t, r); env.CorrelationID != "cmd-1" || int(r.Partition) != home {
		t.Errorf("got reply to %q on partition %d, want cmd-1 on the home partition %d", env.CorrelationID, r.Partition, home)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("got %d handler calls, want 1", n)
	}
}
