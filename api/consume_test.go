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

// newCluster starts an in-process kfake broker with podium's input topics and the
// changelog, each with the given partitions.
func newCluster(t *testing.T, partitions int32) pkafka.Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, events.TopicSagaState, events.TopicOrdersPlaced, events.TopicOrdersControl))
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

func writeMessages(t *testing.T, kc pkafka.Config, msgs ...kafkago.Message) {
	t.Helper()
	w := pkafka.NewWriter(kc)
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

// startService runs a Service (Consume + HTTP) on a local port until the test ends.
func startService(t *testing.T, cfg Config) (*Service, string) {
	t.Helper()
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
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
	// snapshot written after a newer one (a zombie writer), a tombstone and garbage.
	var runs []*sagaRun
	var snaps []*saga.State
	for i, sc := range scenarios {
		r := sc.run(t, "ord-"+sc.name, t0.Add(time.Duration(i)*time.Minute))
		runs = append(runs, r)
		snaps = append(snaps, r.snaps...)
	}
	writeSnapshots(t, kc, snaps...)
	completed := runs[2]
	writeSnapshots(t, kc, completed.snaps[0]) // stale
	gone := runCompleted(t, "ord-gone", t0)
	writeSnapshots(t, kc, gone.snaps...)
	writeMessages(t, kc,
		kafkago.Message{Topic: events.TopicSagaState, Key: []byte("ord-gone")}, // tombstone
		kafkago.Message{Topic: events.TopicSagaState, Key: []byte("ord-junk"), Value: []byte("not json")},
	)

	s, base := startService(t, Config{Kafka: kc, Partitions: 4})
	select {
	case <-s.Restored():
	case <-time.After(30 * time.Second):
		t.Fatal("not restored within 30s")
	}
	// Ready means caught up with what was there at start: no polling needed.
	if got := s.Model().Len(); got != len(scenarios) {
		t.Fatalf("orders after the restore: got %d, want %d", got, len(scenarios))
	}
	if code := get(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz: got %d, want 200", code)
	}
	for _, r := range runs {
		sum, _, ok := s.Model().Get(r.s.SagaID)
		if !ok || sum.Version != r.s.Version {
			t.Errorf("%s: got version %d (present %v), want %d", r.s.SagaID, sum.Version, ok, r.s.Version)
		}
	}
	if _, _, ok := s.Model().Get("ord-gone"); ok {
		t.Error("ord-gone: present after its tombstone")
	}

	// New snapshots are followed.
	live := runDeclined(t, "ord-live", t0.Add(time.Hour))
	writeSnapshots(t, kc, live.snaps...)
	waitFor(t, 20*time.Second, func() bool {
		sum, _, ok := s.Model().Get("ord-live")
		return ok && sum.Version == live.s.Version
	}, func() string {
		sum, _, ok := s.Model().Get("ord-live")
		return fmt.Sprintf("ord-live present %v at version %d, want %d", ok, sum.Version, live.s.Version)
	})
	counts, _ := s.Model().Counts()
	if counts[order.StatusCancelled] != 3 {
		t.Errorf("cancelled orders: got %d, want 3", counts[order.StatusCancelled])
	}
	if tp := s.Model().Throughput(); tp.PerSecond["cancelled"] == 0 {
		t.Errorf("throughput: got %v cancelled/s, want > 0 after a live cancellation", tp.PerSecond["cancelled"])
	}
}

func TestServicePublishesToKafka(t *testing.T) {
	kc := newCluster(t, 2)
	writeSnapshots(t, kc, runPending(t, "ord-1", t0).snaps...)
	s, base := startService(t, Config{Kafka: kc})
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
