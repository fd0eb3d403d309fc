package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// newCluster starts an in-process kfake broker with podium's input topics, the changelog
// and orders.events, each with the given partitions.
func newCluster(t *testing.T, partitions int32) pkafka.Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, events.TopicSagaState, events.TopicOrdersEvents, events.TopicOrdersPlaced, events.TopicOrdersControl))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return pkafka.Config{Brokers: c.ListenAddrs(), ClientID: "podium-api-test"}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// writeSnapshots writes states to podium.saga-state, keyed by saga ID (nil value:
// tombstone for the ID in key).
func writeSnapshots(t *testing.T, kc pkafka.Config, states ...*saga.State) {
	t.Helper()
	msgs := make([]kafkago.Message, len(states))
	for i, s := range states {
		msgs[i] = kafkago.Message{Topic: events.TopicSagaState, Key: []byte(s.SagaID), Value: mustJSON(t, s)}
	}
	writeMessages(t, kc, msgs...)
}

// writeTimelines writes the timeline records of runs to orders.events, keyed by order ID.
func writeTimelines(t *testing.T, kc pkafka.Config, runs ...*sagaRun) {
	t.Helper()
	var msgs []kafkago.Message
	for _, r := range runs {
		for _, tl := range r.records {
			if len(tl.Entries) > 0 {
				msgs = append(msgs, timelineMessage(t, tl))
			}
		}
	}
	writeMessages(t, kc, msgs...)
}

func timelineMessage(t *testing.T, tl events.SagaTimeline) kafkago.Message {
	t.Helper()
	v, hs := timelineValue(t, tl)
	m := kafkago.Message{Topic: events.TopicOrdersEvents, Key: []byte(tl.SagaID), Value: v}
	for _, h := range hs {
		m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

func writeMessages(t *testing.T, kc pkafka.Config, msgs ...kafkago.Message) {
	t.Helper()
	w := pkafka.NewProducer(kc)
	defer w.Close()
	if err := w.WriteMessages(testContext(t, 20*time.Second), msgs...); err != nil {
		t.Fatalf("writing %d records: %v", len(msgs), err)
	}
}

// waitFor polls cond until it holds or d passes, then fails with describe().
func waitFor(t *testing.T, d time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", d, describe())
		}
		<-tick.C
	}
}

// startService runs a Service (Consume + HTTP) on a local port until the test ends, with
// the read model's clock now (nil: the real one).
func startService(t *testing.T, cfg Config, now func() time.Time) (*Service, string) {
	t.Helper()
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if now != nil {
		s.model.now = now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Serve did not return within 20s of its context ending")
		}
		s.Close()
	})
	return s, "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServiceRestoresThenFollowsTheChangelog(t *testing.T) {
	kc := newCluster(t, 4)

	// The changelog before the API starts: every version of every scenario, a stale
	// snapshot written after a newer one (a zombie writer), a tombstone, an internal record
	// of the orchestrator and garbage; on orders.events the timeline records of every
	// scenario, a redelivered one, a lifecycle event and garbage; and an order written
	// before timeline records existed (a format-1 snapshot with its history).
	var runs []*sagaRun
	var snaps []*saga.State
	for i, sc := range scenarios {
		r := sc.run(t, "ord-"+sc.name, t0.Add(time.Duration(i)*time.Minute))
		runs = append(runs, r)
		snaps = append(snaps, r.snaps...)
	}
	writeSnapshots(t, kc, snaps...)
	writeTimelines(t, kc, runs...)
	completed := runs[2]
	writeSnapshots(t, kc, completed.snaps[0]) // stale
	gone := runCompleted(t, "ord-gone", t0)
	writeSnapshots(t, kc, gone.snaps...)
	writeTimelines(t, kc, gone)
	legacy := runCancelled(t, "ord-legacy", t0)
	lifecycle, err := events.NewEvent(events.TypeOrderCompleted, "ord-completed",
		events.OrderLifecycle{OrderID: "ord-completed", Status: "completed"})
	if err != nil {
		t.Fatal(err)
	}
	lifecycleValue, _, err := events.Encode(lifecycle)
	if err != nil {
		t.Fatal(err)
	}
	writeMessages(t, kc,
		kafkago.Message{Topic: events.TopicSagaState, Key: []byte("ord-gone")}, // tombstone
		kafkago.Message{Topic: events.TopicSagaState, Key: []byte("ord-junk"), Value: []byte("not json")},
		kafkago.Message{Topic: events.TopicSagaState, Key: []byte("~finished/0/0"), Value: []byte{1, 2, 3}},
		kafkago.Message{Topic: events.TopicSagaState, Key: []byte("ord-legacy"), Value: format1JSON(t, legacy.s, legacy.history, 0)},
		timelineMessage(t, completed.records[len(completed.records)-1]), // redelivered
		kafkago.Message{Topic: events.TopicOrdersEvents, Key: []byte("ord-completed"), Value: lifecycleValue},
		kafkago.Message{Topic: events.TopicOrdersEvents, Key: []byte("ord-junk"), Value: []byte("{\"type\":")},
	)

	// The scenarios run at t0: a clock two hours later keeps their finished orders in the
	// retention window whatever the date.
	s, base := startService(t, Config{Kafka: kc, Partitions: 4}, (&testClock{now: t0.Add(2 * time.Hour)}).Now)
	select {
	case <-s.Restored():
	case <-time.After(30 * time.Second):
		t.Fatal("not restored within 30s")
	}
	// Ready means caught up with what was there at start: no polling needed.
	if got, want := s.Model().Len(), len(scenarios)+2; got != want {
		t.Fatalf("orders after the restore: got %d, want %d (the scenarios, ord-gone, ord-legacy)", got, want)
	}
	if code := get(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz: got %d, want 200", code)
	}
	for _, r := range append(runs, legacy) {
		v, ok := s.Model().view(r.s.SagaID)
		if !ok || v.Version != r.s.Version || !v.hasSnap {
			t.Errorf("%s: got version %d (present %v, snapshot %v), want %d", r.s.SagaID, v.Version, ok, v.hasSnap, r.s.Version)
		}
		if got := v.timeline(s.Model().syms); !equalTimeline(got, r.history) {
			t.Errorf("%s: got timeline %v, want %v", r.s.SagaID, kinds(got), kinds(r.history))
		}
	}
	if v, ok := s.Model().view("ord-gone"); !ok || !v.tombstoned || v.Status != string(order.StatusCompleted) || len(v.timeline(s.Model().syms)) != len(gone.history) {
		t.Errorf("ord-gone: got present %v tombstoned %v status %s, want kept, completed, with its timeline", ok, v.tombstoned, v.Status)
	}

	// New records are followed.
	live := runDeclined(t, "ord-live", t0.Add(time.Hour))
	writeTimelines(t, kc, live)
	writeSnapshots(t, kc, live.snaps...)
	waitFor(t, 20*time.Second, func() bool {
		v, ok := s.Model().view("ord-live")
		return ok && v.snap.version == live.s.Version && int(v.tl.n) == len(live.history)
	}, func() string {
		v, ok := s.Model().view("ord-live")
		return fmt.Sprintf("ord-live present %v at snapshot version %d with %d timeline entries, want %d and %d",
			ok, v.snap.version, v.tl.n, live.s.Version, len(live.history))
	})
	counts, _ := s.Model().Counts()
	if counts[OrderType][string(order.StatusCancelled)] != 4 {
		t.Errorf("cancelled orders: got %d, want 4", counts[OrderType][string(order.StatusCancelled)])
	}
	if tp := s.Model().Throughput(); tp.PerSecond["cancelled"] == 0 {
		t.Errorf("throughput: got %v cancelled/s, want > 0 after a live cancellation", tp.PerSecond["cancelled"])
	}
}

func TestServicePublishesToKafka(t *testing.T) {
	kc := newCluster(t, 2)
	writeSnapshots(t, kc, runPending(t, "ord-1", t0).snaps...)
	s, base := startService(t, Config{Kafka: kc}, nil)
	<-s.Restored()

	resp, err := http.Post(base+"/orders", "application/json", bytesReader(orderBody(t, "ord-2", nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /orders: got %d, want 202", resp.StatusCode)
	}
	resp, err = http.Post(base+"/orders/ord-1/cancel", "application/json", bytesReader([]byte(`{"reason":"test"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST cancel: got %d, want 202", resp.StatusCode)
	}

	for _, tc := range []struct{ topic, key, typ string }{
		{events.TopicOrdersPlaced, "ord-2", events.TypeOrderPlaced},
		{events.TopicOrdersControl, "ord-1", events.TypeOrderCancel},
	} {
		p := pkafka.HomePartition([]byte(tc.key), 2)
		var got []events.Envelope
		_, err := pkafka.ReadPartition(testContext(t, 20*time.Second), kc, tc.topic, p, func(m kafkago.Message) error {
			env, err := events.Decode(events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: toHeaders(m.Headers)})
			if err != nil {
				return err
			}
			got = append(got, env)
			return nil
		})
		if err != nil {
			t.Fatalf("reading %s[%d]: %v", tc.topic, p, err)
		}
		if len(got) != 1 || got[0].Type != tc.typ || got[0].Subject != tc.key {
			t.Errorf("%s[%d]: got %d events %+v, want one %s for %s on the key's home partition", tc.topic, p, len(got), got, tc.typ, tc.key)
		}
	}
}

func TestConsumeRejectsPartitionMismatch(t *testing.T) {
	kc := newCluster(t, 3)
	s, err := New(Config{Kafka: kc, Partitions: 12, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Consume(testContext(t, 20*time.Second))
	if !errors.Is(err, ErrPartitionMismatch) {
		t.Fatalf("got %v, want ErrPartitionMismatch", err)
	}
	if s.Ready() {
		t.Error("got ready, want not ready")
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
