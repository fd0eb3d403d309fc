package kafka

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestProducerWritesEveryTopicInOrderOnHomePartitions(t *testing.T) {
	_, cfg := newCluster(t)
	topics := []string{uniqueName(t, "commands"), uniqueName(t, "events"), uniqueName(t, "state")}
	for _, topic := range topics {
		createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 12})
	}
	p := NewProducer(cfg)
	defer p.Close()

	var msgs []kafkago.Message
	for i := range 600 {
		key := fmt.Sprintf("ord-%d", i%40)
		if i%3 == 1 {
			key += "/reserve-inventory"
		}
		msgs = append(msgs, kafkago.Message{
			Topic:   topics[i%len(topics)],
			Key:     []byte(key),
			Value:   []byte(fmt.Sprintf("v%d", i)),
			Headers: []kafkago.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}},
		})
	}
	if err := p.WriteMessages(testContext(t, 20*time.Second), msgs...); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}

	// Every message on its key's home partition, in the order written per partition.
	want := map[string][]string{} // topic/partition -> values in order
	for _, m := range msgs {
		k := fmt.Sprintf("%s/%d", m.Topic, HomePartition(m.Key, 12))
		want[k] = append(want[k], string(m.Value))
	}
	total := 0
	for _, topic := range topics {
		for part := range 12 {
			got, _ := readAll(t, cfg, topic, part)
			var values []string
			for _, m := range got {
				values = append(values, string(m.Value))
				if len(m.Headers) != 1 || string(m.Headers[0].Value) != "application/cloudevents+json" {
					t.Errorf("%s[%d] %s: headers %v, want the content-type header", topic, part, m.Value, m.Headers)
				}
			}
			k := fmt.Sprintf("%s/%d", topic, part)
			if got, want := strings.Join(values, ","), strings.Join(want[k], ","); got != want {
				t.Errorf("%s: got %s, want %s", k, got, want)
			}
			total += len(got)
		}
	}
	if total != len(msgs) {
		t.Errorf("read %d records, want %d", total, len(msgs))
	}
}

func TestProducerSplitsLargeBatches(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "big")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	p := NewProducer(cfg)
	defer p.Close()
	value := make([]byte, 100<<10) // 30 × 100 KiB: three record batches of at most 1 MiB
	var msgs []kafkago.Message
	for i := range 30 {
		v := append([]byte(fmt.Sprintf("%02d", i)), value...)
		msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte("k"), Value: v})
	}
	if err := p.WriteMessages(testContext(t, 20*time.Second), msgs...); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}
	got, end := readAll(t, cfg, topic, 0)
	if end != 30 || len(got) != 30 {
		t.Fatalf("got %d records (end %d), want 30", len(got), end)
	}
	for i, m := range got {
		if want := fmt.Sprintf("%02d", i); string(m.Value[:2]) != want {
			t.Errorf("record %d: got %s, want %s", i, m.Value[:2], want)
		}
	}
}

func TestProducerConcurrentCalls(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "concurrent")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 4})
	p := NewProducer(cfg)
	defer p.Close()
	ctx := testContext(t, 20*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if err := p.WriteMessages(ctx, kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("g%d-%d", g, i)), Value: []byte("v")}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("WriteMessages: %v", err)
	}
	total := 0
	for part := range 4 {
		got, _ := readAll(t, cfg, topic, part)
		total += len(got)
	}
	if total != 16*20 {
		t.Errorf("read %d records, want %d", total, 16*20)
	}
}

func TestProducerRefusesMissingTopic(t *testing.T) {
	_, cfg := newCluster(t)
	p := NewProducer(cfg)
	defer p.Close()
	p.attempts = 1
	err := p.WriteMessages(testContext(t, 10*time.Second), kafkago.Message{Topic: uniqueName(t, "missing"), Key: []byte("k")})
	if !errors.Is(err, kafkago.UnknownTopicOrPartition) {
		t.Errorf("writing to a missing topic: got %v, want UnknownTopicOrPartition", err)
	}
}

func TestChunkByBytes(t *testing.T) {
	msg := func(n int) kafkago.Message { return kafkago.Message{Value: make([]byte, n)} }
	tests := []struct {
		name  string
		sizes []int
		limit int
		want  []int // chunk lengths
	}{
		{"one chunk", []int{10, 10, 10}, 1000, []int{3}},
		{"split", []int{400, 400, 400}, 900, []int{2, 1}},
		{"oversized alone", []int{2000, 10}, 1000, []int{1, 1}},
		{"single", []int{5}, 1000, []int{1}},
	}
	for _, tc := range tests {
		var msgs []kafkago.Message
		for _, s := range tc.sizes {
			msgs = append(msgs, msg(s))
		}
		var got []int
		for _, c := range chunkByBytes(msgs, tc.limit) {
			got = append(got, len(c))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got chunks %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestProducerCountsBytesAndCompresses(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "counted")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	p := NewProducer(cfg)
	defer p.Close()

	wireBefore := testutil.ToFloat64(producedBytes.WithLabelValues(topic))
	var msgs []kafkago.Message
	want := 0
	for i := range 200 {
		m := kafkago.Message{
			Topic:   topic,
			Key:     []byte(fmt.Sprintf("ord-%d", i)),
			Value:   []byte(fmt.Sprintf(`{"specversion":"1.0","type":"podium.inventory.reserve.v1","source":"podium/orchestrator","subject":"ord-%d"}`, i)),
			Headers: []kafkago.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}},
		}
		want += len(m.Key) + len(m.Value) + len("content-type") + len("application/cloudevents+json")
		msgs = append(msgs, m)
	}
	if err := p.WriteMessages(testContext(t, 20*time.Second), msgs...); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}
	if got := testutil.ToFloat64(producedRecordBytes.WithLabelValues(topic)); int(got) != want {
		t.Errorf("record bytes: got %v, want %d", got, want)
	}
	if got := testutil.ToFloat64(producedRecords.WithLabelValues(topic)); got != 200 {
		t.Errorf("records: got %v, want 200", got)
	}
	wire := testutil.ToFloat64(producedBytes.WithLabelValues(topic)) - wireBefore
	if wire <= 0 || wire > float64(want)/2 {
		t.Errorf("wire bytes: got %v for %d record bytes, want a compressed batch under half of them", wire, want)
	}
	// The compressed records read back intact.
	got, _ := readAll(t, cfg, topic, 0)
	if len(got) != len(msgs) {
		t.Fatalf("read %d records, want %d", len(got), len(msgs))
	}
	for i, m := range got {
		if string(m.Value) != string(msgs[i].Value) {
			t.Errorf("record %d: got %s, want %s", i, m.Value, msgs[i].Value)
		}
	}
}

// countingListener counts the connections a listener accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestProducerPrepareOpensTheWriteConnection: after Prepare, the first write opens no
// connection (no dial, no version handshake within a timed write).
func TestProducerPrepareOpensTheWriteConnection(t *testing.T) {
	ln := &countingListener{}
	_, cfg := newCluster(t, kfake.ListenFn(func(network, addr string) (net.Listener, error) {
		l, err := net.Listen(network, addr)
		ln.Listener = l
		return ln, err
	}))
	topic := uniqueName(t, "placed")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 3})
	p := NewProducer(cfg)
	defer p.Close()
	ctx := testContext(t, 20*time.Second)
	if err := p.Prepare(ctx, topic); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	before := ln.accepted.Load()
	if err := p.WriteMessages(ctx, kafkago.Message{Topic: topic, Key: []byte("ord-1"), Value: []byte("v")}); err != nil {
		t.Fatalf("WriteMessages: %v", err)
	}
	if after := ln.accepted.Load(); after != before {
		t.Errorf("the first write after Prepare opened %d connection(s), want none", after-before)
	}
}
