package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func TestFetcherReadsManyTopicsInOneCall(t *testing.T) {
	_, cfg := newCluster(t)
	a, b := uniqueName(t, "a"), uniqueName(t, "b")
	createTopics(t, cfg, TopicSpec{Name: a, Partitions: 3}, TopicSpec{Name: b, Partitions: 3})
	var msgs []kafkago.Message
	for i := range 60 {
		topic := a
		if i%2 == 1 {
			topic = b
		}
		msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	writeMessages(t, cfg, msgs...)
	want := map[TopicPartition]int{}
	for _, m := range msgs {
		want[TopicPartition{m.Topic, HomePartition(m.Key, 3)}]++
	}

	f := NewFetcher(cfg)
	defer f.Close()
	ctx := testContext(t, 20*time.Second)
	offsets := map[TopicPartition]int64{}
	for _, topic := range []string{a, b} {
		for p := range 3 {
			offsets[TopicPartition{topic, p}] = 0
		}
	}
	got := map[TopicPartition]int{}
	deadline := time.Now().Add(10 * time.Second)
	for total := 0; total < len(msgs) && time.Now().Before(deadline); {
		res, err := f.Fetch(ctx, offsets, 200*time.Millisecond, 1<<20)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		for tp, r := range res {
			if r.Err != nil {
				t.Fatalf("%v: %v", tp, r.Err)
			}
			for i, m := range r.Records {
				if m.Offset != offsets[tp]+int64(i) || m.Topic != tp.Topic || m.Partition != tp.Partition {
					t.Errorf("%v: record %d is %s[%d]@%d, want offset %d", tp, i, m.Topic, m.Partition, m.Offset, offsets[tp]+int64(i))
				}
			}
			if n := len(r.Records); n > 0 {
				offsets[tp] = r.Records[n-1].Offset + 1
				got[tp] += n
				total += n
			}
		}
	}
	for tp, n := range want {
		if got[tp] != n {
			t.Errorf("%v: fetched %d records, want %d", tp, got[tp], n)
		}
	}
}

func TestFetcherWaitsThenReturnsNewRecords(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 2})
	f := NewFetcher(cfg)
	defer f.Close()
	ctx := testContext(t, 20*time.Second)
	offsets := map[TopicPartition]int64{{topic, 0}: 0, {topic, 1}: 0}

	start := time.Now()
	res, err := f.Fetch(ctx, offsets, 300*time.Millisecond, 1<<20)
	if err != nil {
		t.Fatalf("Fetch of empty partitions: %v", err)
	}
	for tp, r := range res {
		if len(r.Records) != 0 || r.Err != nil {
			t.Errorf("%v: got %d records, error %v; want none", tp, len(r.Records), r.Err)
		}
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("Fetch of empty partitions returned after %s, want about the 300ms max wait", waited)
	}

	go func() { // usually lands while Fetch waits
		w := NewProducer(cfg)
		defer w.Close()
		_ = w.WriteMessages(context.Background(), kafkago.Message{Topic: topic, Key: []byte("ord-1"), Value: []byte("v")})
	}()
	start = time.Now()
	deadline := time.Now().Add(5 * time.Second)
	var got int
	for got == 0 && time.Now().Before(deadline) {
		res, err = f.Fetch(ctx, offsets, 5*time.Second, 1<<20)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		for _, r := range res {
			got += len(r.Records)
		}
	}
	if got != 1 {
		t.Fatalf("got %d records, want the one written", got)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("a record written during the long poll came back after %s, want at once", waited)
	}
}

func TestFetcherReportsPartitionErrors(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	f := NewFetcher(cfg)
	defer f.Close()
	res, err := f.Fetch(testContext(t, 10*time.Second), map[TopicPartition]int64{{topic, 0}: 42}, 100*time.Millisecond, 1<<20)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if r := res[TopicPartition{topic, 0}]; !errors.Is(r.Err, kafkago.OffsetOutOfRange) {
		t.Errorf("fetching beyond the end: got %v, want OffsetOutOfRange", r.Err)
	}
}

func TestFetcherReturnsTheContextError(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	f := NewFetcher(cfg)
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.Fetch(ctx, map[TopicPartition]int64{{topic, 0}: 0}, 10*time.Second, 1<<20)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Fetch after cancel: got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fetch did not return within 5s of its context ending")
	}
}
