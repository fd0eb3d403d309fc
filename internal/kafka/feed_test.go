package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// take calls Next until n records came or the deadline passed.
func take(t *testing.T, s *Subscription, n int, d time.Duration) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []kafkago.Message
	for len(out) < n {
		recs, err := s.Next(ctx, 0)
		if err != nil {
			t.Fatalf("Next after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, recs...)
	}
	return out
}

func TestFeedReadsManyTopicsAndPartitionsInOrder(t *testing.T) {
	_, cfg := newCluster(t)
	a, b := uniqueName(t, "a"), uniqueName(t, "b")
	createTopics(t, cfg, TopicSpec{Name: a, Partitions: 3}, TopicSpec{Name: b, Partitions: 3})
	var msgs []kafkago.Message
	for i := range 60 {
		topic := a
		if i%2 == 1 {
			topic = b
		}
		msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i%7)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	writeMessages(t, cfg, msgs...)
	want := map[TopicPartition][]string{}
	for _, m := range msgs {
		tp := TopicPartition{m.Topic, HomePartition(m.Key, 3)}
		want[tp] = append(want[tp], string(m.Value))
	}

	f := NewFeed(cfg, FeedConfig{})
	defer f.Close()
	// Two subscriptions, as two partition processors: partition 0 and 1 of both topics, and
	// partition 2 of both.
	s1, err := f.Subscribe(testContext(t, 10*time.Second), map[TopicPartition]int64{{a, 0}: 0, {b, 0}: 0, {a, 1}: 0, {b, 1}: 0})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := f.Subscribe(testContext(t, 10*time.Second), map[TopicPartition]int64{{a, 2}: 0, {b, 2}: 0})
	if err != nil {
		t.Fatal(err)
	}
	n2 := len(want[TopicPartition{a, 2}]) + len(want[TopicPartition{b, 2}])
	got := map[TopicPartition][]string{}
	for _, m := range append(take(t, s1, len(msgs)-n2, 10*time.Second), take(t, s2, n2, 10*time.Second)...) {
		tp := TopicPartition{m.Topic, m.Partition}
		if int64(len(got[tp])) != m.Offset {
			t.Errorf("%v: record at offset %d arrived as number %d", tp, m.Offset, len(got[tp]))
		}
		got[tp] = append(got[tp], string(m.Value))
	}
	for tp, w := range want {
		if fmt.Sprint(got[tp]) != fmt.Sprint(w) {
			t.Errorf("%v: got %v, want %v", tp, got[tp], w)
		}
	}
	if lag := s1.Lag(TopicPartition{a, 0}, int64(len(got[TopicPartition{a, 0}]))); lag != 0 {
		t.Errorf("lag after reading everything: %d, want 0", lag)
	}
}

func TestFeedDeliversRecordsWrittenDuringTheLongPoll(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 2})
	f := NewFeed(cfg, FeedConfig{MaxWait: 5 * time.Second})
	defer f.Close()
	s, err := f.Subscribe(testContext(t, 10*time.Second), map[TopicPartition]int64{{topic, 0}: 0, {topic, 1}: 0})
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := s.TryNext(0); len(recs) != 0 || err != nil {
		t.Fatalf("TryNext on empty partitions: %d records, %v; want none", len(recs), err)
	}
	for i := range 3 {
		writeMessages(t, cfg, kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i)), Value: []byte("v")})
		if recs := take(t, s, 1, 10*time.Second); len(recs) != 1 {
			t.Fatalf("round %d: got %d records, want the one written", i, len(recs))
		}
	}
}

func TestFeedContinuesAtTheLogWhenTheOffsetIsOutside(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	writeMessages(t, cfg, kafkago.Message{Topic: topic, Key: []byte("a"), Value: []byte("1")})
	var logs syncBuffer
	f := NewFeed(cfg, FeedConfig{Logger: testLogger(t, &logs)})
	defer f.Close()
	s, err := f.Subscribe(testContext(t, 10*time.Second), map[TopicPartition]int64{{topic, 0}: 42})
	if err != nil {
		t.Fatal(err)
	}
	// The next record is written once the feed has reset the offset: written before, it
	// would be below the end the feed resets to (the log end at its first fetch).
	waitFor(t, 5*time.Second, func() bool { return containsAll(logs.String(), "outside the log", `"offset":42`) },
		func() string { return "no log line for the reset offset: " + logs.String() })
	writeMessages(t, cfg, kafkago.Message{Topic: topic, Key: []byte("a"), Value: []byte("2")})
	recs := take(t, s, 1, 10*time.Second)
	if string(recs[0].Value) != "2" || recs[0].Offset != 1 {
		t.Errorf("got %q@%d, want the record written after the reset, \"2\"@1", recs[0].Value, recs[0].Offset)
	}
}

func TestFeedPausesAFullSubscriptionWithoutHoldingBackOthers(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 2})
	// Ten record batches of five per partition; a fetch returns one batch per partition.
	for round := range 10 {
		var msgs []kafkago.Message
		for i := range 5 {
			for _, key := range []string{keyFor(t, 0, 2), keyFor(t, 1, 2)} {
				msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte(key), Value: []byte(fmt.Sprint(round*5 + i))})
			}
		}
		writeMessages(t, cfg, msgs...)
	}
	f := NewFeed(cfg, FeedConfig{Buffered: 5, MaxBytes: 1})
	defer f.Close()
	ctx := testContext(t, 10*time.Second)
	slow, err := f.Subscribe(ctx, map[TopicPartition]int64{{topic, 0}: 0})
	if err != nil {
		t.Fatal(err)
	}
	fast, err := f.Subscribe(ctx, map[TopicPartition]int64{{topic, 1}: 0})
	if err != nil {
		t.Fatal(err)
	}
	take(t, fast, 50, 10*time.Second)
	slow.mu.Lock()
	held := len(slow.pending)
	slow.mu.Unlock()
	if held > 10 {
		t.Errorf("the subscription nobody reads holds %d records, want at most Buffered (5) plus one fetch (5)", held)
	}
	if got := take(t, slow, 50, 10*time.Second); len(got) != 50 || got[49].Offset != 49 {
		t.Errorf("after resuming: %d records, last at offset %d; want 50 ending at 49", len(got), got[len(got)-1].Offset)
	}
}

func TestFeedSubscriptionsOwnTheirPartitions(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	writeMessages(t, cfg, kafkago.Message{Topic: topic, Key: []byte("a"), Value: []byte("1")},
		kafkago.Message{Topic: topic, Key: []byte("a"), Value: []byte("2")})
	f := NewFeed(cfg, FeedConfig{})
	defer f.Close()
	ctx := testContext(t, 10*time.Second)
	tp := TopicPartition{topic, 0}
	s, err := f.Subscribe(ctx, map[TopicPartition]int64{tp: 0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Subscribe(ctx, map[TopicPartition]int64{tp: 0}); err == nil {
		t.Error("a second subscription of the same partition was accepted")
	}
	take(t, s, 2, 10*time.Second)
	s.Close()
	// The next owner starts from its own offset.
	s, err = f.Subscribe(ctx, map[TopicPartition]int64{tp: 1})
	if err != nil {
		t.Fatalf("subscribing after Close: %v", err)
	}
	if got := take(t, s, 1, 10*time.Second); string(got[0].Value) != "2" {
		t.Errorf("after re-subscribing at 1: got %q, want \"2\"", got[0].Value)
	}
}

func TestFeedNextEndsWithItsContextAndTheFeed(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "in")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	f := NewFeed(cfg, FeedConfig{MaxWait: 10 * time.Second})
	s, err := f.Subscribe(testContext(t, 10*time.Second), map[TopicPartition]int64{{topic, 0}: 0})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with an ended context: %v, want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Next(context.Background(), 0)
		done <- err
	}()
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrFeedClosed) {
			t.Errorf("Next after Close: %v, want ErrFeedClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after the feed closed")
	}
}

// keyFor returns a key whose home partition is p of n.
func keyFor(t *testing.T, p, n int) string {
	t.Helper()
	for i := range 1000 {
		if k := fmt.Sprintf("ord-%d", i); HomePartition([]byte(k), n) == p {
			return k
		}
	}
	t.Fatalf("no key for partition %d of %d", p, n)
	return ""
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
