package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// refuseProduce makes the broker answer every Produce request with NOT_LEADER_FOR_PARTITION
// (retriable) until allow is closed, and reports each refused request on refused.
func refuseProduce(c interface {
	ControlKey(int16, func(kmsg.Request) (kmsg.Response, error, bool))
	KeepControl()
}, refused chan<- struct{}, allow <-chan struct{}) {
	c.ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case <-allow:
			return nil, nil, false // the broker handles it
		default:
		}
		c.KeepControl()
		req := r.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		select {
		case refused <- struct{}{}:
		default:
		}
		return resp, nil, true
	})
}

// refusingBroker is a one-partition topic on a broker that refuses every Produce request
// (see refuseProduce) until allow is closed, and a Producer for it, closed at the test's end.
func refusingBroker(t *testing.T) (Config, string, *Producer, chan struct{}, chan struct{}) {
	t.Helper()
	c, cfg := newCluster(t)
	topic := uniqueName(t, "state")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	w := NewProducer(cfg)
	t.Cleanup(func() { _ = w.Close() })
	refused, allow := make(chan struct{}, 1), make(chan struct{})
	refuseProduce(c, refused, allow)
	return cfg, topic, w, refused, allow
}

// A write whose context ends while the Producer retries it is not retried after: a
// processor's batch never lands after its generation ended (as long as no request of it
// was accepted before).
func TestProducerStopsRetryingWhenTheCallerGivesUp(t *testing.T) {
	cfg, topic, w, refused, allow := refusingBroker(t)
	gen, endGeneration := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.WriteMessages(gen, kafkago.Message{Topic: topic, Key: []byte("ord-1"), Value: []byte("late")})
	}()
	<-refused // the first attempt failed; the Producer is between retries
	endGeneration()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteMessages after its context ended: %v, want context.Canceled", err)
	}
	close(allow) // from now on the broker accepts writes

	// The Producer works through its queue in order: once this write landed, the one before
	// it was either written or abandoned.
	if err := w.WriteMessages(testContext(t, 20*time.Second), kafkago.Message{Topic: topic, Key: []byte("ord-2"), Value: []byte("next")}); err != nil {
		t.Fatalf("next write: %v", err)
	}
	got, _ := readAll(t, cfg, topic, 0)
	for _, m := range got {
		if string(m.Value) == "late" {
			t.Fatalf("the write of the ended context landed at offset %d", m.Offset)
		}
	}
	if len(got) != 1 {
		t.Errorf("partition holds %d records, want only the next write", len(got))
	}
}

// A call whose context ended while it waited behind another request is never sent.
func TestProducerDropsQueuedWritesOfEndedContexts(t *testing.T) {
	cfg, topic, w, refused, allow := refusingBroker(t)
	first := make(chan error, 1)
	go func() { // holds the drain goroutine in its retries
		first <- w.WriteMessages(testContext(t, 20*time.Second), kafkago.Message{Topic: topic, Key: []byte("a"), Value: []byte("first")})
	}()
	<-refused
	gen, endGeneration := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		queued <- w.WriteMessages(gen, kafkago.Message{Topic: topic, Key: []byte("b"), Value: []byte("queued")})
	}()
	// Wait until the second call is queued behind the first.
	waitFor(t, 10*time.Second, func() bool {
		w.qmu.Lock()
		defer w.qmu.Unlock()
		return len(w.queue) == 1
	}, func() string { return "the second call never queued" })
	endGeneration()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued write after its context ended: %v, want context.Canceled", err)
	}
	close(allow)
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := w.WriteMessages(testContext(t, 20*time.Second), kafkago.Message{Topic: topic, Key: []byte("c"), Value: []byte("last")}); err != nil {
		t.Fatalf("last write: %v", err)
	}
	got, _ := readAll(t, cfg, topic, 0)
	var values []string
	for _, m := range got {
		values = append(values, string(m.Value))
	}
	if len(values) != 2 || values[0] != "first" || values[1] != "last" {
		t.Errorf("partition holds %q, want [first last] (the queued write of the ended context never sent)", values)
	}
}
