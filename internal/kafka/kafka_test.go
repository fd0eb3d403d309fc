package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// newCluster starts an in-process single-broker kfake cluster that accepts short group
// session timeouts.
func newCluster(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, Config) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, Config{Brokers: c.ListenAddrs(), ClientID: "podium-test"}
}

// uniqueName derives a topic or group name from the test name.
func uniqueName(t *testing.T, suffix string) string {
	t.Helper()
	r := strings.NewReplacer("/", ".", " ", "-", "#", "-")
	return strings.ToLower(r.Replace(t.Name())) + "." + suffix
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes, then fails with describe().
func waitFor(t *testing.T, d time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", d, describe())
		}
		<-tick.C
	}
}

func writeMessages(t *testing.T, c Config, msgs ...kafkago.Message) {
	t.Helper()
	w := NewProducer(c)
	defer w.Close()
	if err := w.WriteMessages(testContext(t, 20*time.Second), msgs...); err != nil {
		t.Fatalf("writing %d messages: %v", len(msgs), err)
	}
}

func createTopics(t *testing.T, c Config, specs ...TopicSpec) {
	t.Helper()
	if err := EnsureTopics(testContext(t, 20*time.Second), c, specs); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
}

func readAll(t *testing.T, c Config, topic string, partition int) ([]kafkago.Message, int64) {
	t.Helper()
	var got []kafkago.Message
	end, err := ReadPartition(testContext(t, 20*time.Second), c, topic, partition, func(m kafkago.Message) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadPartition(%s, %d): %v", topic, partition, err)
	}
	return got, end
}

func TestProducerLandsOnHomePartitionWithHeaders(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "orders")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 12})

	var msgs []kafkago.Message
	for i := range 200 {
		key := fmt.Sprintf("ord-%d", i)
		if i%2 == 1 {
			key += "/reserve-inventory"
		}
		msgs = append(msgs, kafkago.Message{
			Topic:   topic,
			Key:     []byte(key),
			Value:   []byte(fmt.Sprintf("v%d", i)),
			Headers: []kafkago.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}},
		})
	}
	writeMessages(t, cfg, msgs...)

	total := 0
	for p := range 12 {
		got, end := readAll(t, cfg, topic, p)
		if int64(len(got)) != end {
			t.Errorf("partition %d: read %d records, want %d (the watermark)", p, len(got), end)
		}
		for i, m := range got {
			if want := HomePartition(m.Key, 12); want != p {
				t.Errorf("key %s: on partition %d, want its home partition %d", m.Key, p, want)
			}
			if m.Offset != int64(i) {
				t.Errorf("partition %d record %d: offset %d, want %d", p, i, m.Offset, i)
			}
			if len(m.Headers) != 1 || string(m.Headers[0].Value) != "application/cloudevents+json" {
				t.Errorf("key %s: headers %v, want the content-type header", m.Key, m.Headers)
			}
			if m.Topic != topic || m.Partition != p {
				t.Errorf("key %s: topic/partition %s/%d, want %s/%d", m.Key, m.Topic, m.Partition, topic, p)
			}
		}
		total += len(got)
	}
	if total != len(msgs) {
		t.Errorf("read %d records in total, want %d", total, len(msgs))
	}
}

func TestReadPartition(t *testing.T) {
	c, cfg := newCluster(t)
	topic := uniqueName(t, "changelog")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 2, Compacted: true})

	t.Run("empty", func(t *testing.T) {
		got, end := readAll(t, cfg, topic, 1)
		if len(got) != 0 || end != 0 {
			t.Errorf("empty partition: got %d records and end %d, want 0 and 0", len(got), end)
		}
	})

	keyOn0 := func(i int) []byte {
		for j := i; ; j++ {
			k := []byte(fmt.Sprintf("ord-%d", j))
			if HomePartition(k, 2) == 0 {
				return k
			}
		}
	}
	var batch []kafkago.Message
	for i := range 10 {
		batch = append(batch, kafkago.Message{Topic: topic, Key: keyOn0(i * 100), Value: []byte(fmt.Sprint(i))})
	}
	writeMessages(t, cfg, batch...)

	t.Run("stops at the watermark captured at start", func(t *testing.T) {
		w := NewProducer(cfg)
		defer w.Close()
		var got []int64
		end, err := ReadPartition(testContext(t, 20*time.Second), cfg, topic, 0, func(m kafkago.Message) error {
			if len(got) == 0 {
				// A concurrent writer appends while we restore.
				if err := w.WriteMessages(context.Background(), kafkago.Message{Topic: topic, Key: keyOn0(0), Value: []byte("late")}); err != nil {
					return err
				}
			}
			got = append(got, m.Offset)
			return nil
		})
		if err != nil {
			t.Fatalf("ReadPartition: %v", err)
		}
		if end != 10 || len(got) != 10 || got[9] != 9 {
			t.Errorf("got end %d and offsets %v, want end 10 and offsets 0..9", end, got)
		}
		if _, end := readAll(t, cfg, topic, 0); end != 11 {
			t.Errorf("second read: got end %d, want 11", end)
		}
	})

	t.Run("handler error stops the read", func(t *testing.T) {
		boom := errors.New("boom")
		calls := 0
		_, err := ReadPartition(testContext(t, 20*time.Second), cfg, topic, 0, func(kafkago.Message) error {
			calls++
			if calls == 3 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || calls != 3 {
			t.Errorf("got error %v after %d calls, want boom after 3", err, calls)
		}
	})

	t.Run("starts at the log start", func(t *testing.T) {
		if err := c.DeleteRecords(topic, 0, 4); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		got, end := readAll(t, cfg, topic, 0)
		if len(got) != 7 || got[0].Offset != 4 || end != 11 {
			t.Errorf("got %d records from offset %d, end %d; want 7 records from offset 4, end 11", len(got), got[0].Offset, end)
		}
	})
}

func TestReadPartitionAfterCompaction(t *testing.T) {
	c, cfg := newCluster(t)
	topic := uniqueName(t, "state")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1, Compacted: true})
	// One batch per write: compaction keeps the last batch, cleans the others.
	for i := range 10 {
		writeMessages(t, cfg, kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i%3)), Value: []byte(fmt.Sprint(i))})
	}
	c.Compact()
	got, end := readAll(t, cfg, topic, 0)
	latest := map[string]string{}
	var offsets []int64
	for _, m := range got {
		latest[string(m.Key)] = string(m.Value)
		offsets = append(offsets, m.Offset)
	}
	if end != 10 {
		t.Errorf("got end %d, want 10", end)
	}
	want := map[string]string{"ord-0": "9", "ord-1": "7", "ord-2": "8"}
	if fmt.Sprint(latest) != fmt.Sprint(want) {
		t.Errorf("got latest values %v, want %v", latest, want)
	}
	if len(got) >= 10 {
		t.Errorf("got %d records (offsets %v), want fewer than 10 after compaction", len(got), offsets)
	}
	t.Logf("offsets after compaction: %v", offsets)
}

func TestReadPartitionLarge(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "big")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	const n = 20000
	value := bytes.Repeat([]byte("x"), 500)
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		msgs[i] = kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i)), Value: value}
	}
	writeMessages(t, cfg, msgs...)

	start := time.Now()
	next := int64(0)
	end, err := ReadPartition(testContext(t, 60*time.Second), cfg, topic, 0, func(m kafkago.Message) error {
		if m.Offset != next {
			return fmt.Errorf("got offset %d, want %d", m.Offset, next)
		}
		next++
		return nil
	})
	if err != nil {
		t.Fatalf("ReadPartition: %v", err)
	}
	if end != n || next != n {
		t.Errorf("got end %d after %d records, want %d", end, next, n)
	}
	t.Logf("restored %d records of %d bytes in %s", n, len(value), time.Since(start))
}

func TestEnsureTopicsCreatesAndIsIdempotent(t *testing.T) {
	_, cfg := newCluster(t)
	specs := PodiumTopics(4)
	ctx := testContext(t, 30*time.Second)
	for i := range 2 {
		if err := EnsureTopics(ctx, cfg, specs); err != nil {
			t.Fatalf("EnsureTopics call %d: %v", i+1, err)
		}
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	counts, err := PartitionCounts(ctx, cfg, names)
	if err != nil {
		t.Fatalf("PartitionCounts: %v", err)
	}
	cl := cfg.Client()
	defer closeClient(cl)
	policies, err := cleanupPolicies(ctx, cl, names)
	if err != nil {
		t.Fatalf("reading cleanup policies: %v", err)
	}
	for _, s := range specs {
		wantParts, wantPolicy := 4, "delete"
		if strings.HasSuffix(s.Name, ".dlq") {
			wantParts = 1
		}
		if s.Name == "podium.saga-state" || strings.HasSuffix(s.Name, ".processed") {
			wantPolicy = "compact"
		}
		if counts[s.Name] != wantParts {
			t.Errorf("%s: got %d partitions, want %d", s.Name, counts[s.Name], wantParts)
		}
		if policies[s.Name] != wantPolicy {
			t.Errorf("%s: got cleanup.policy %q, want %q", s.Name, policies[s.Name], wantPolicy)
		}
	}
	if len(specs) != 26 {
		t.Errorf("PodiumTopics: got %d topics, want 26 (2 start topics + 4 orchestrator topics + 4 per worker)", len(specs))
	}
}

func TestEnsureTopicsReportsEveryMismatch(t *testing.T) {
	c, cfg := newCluster(t)
	p := uniqueName(t, "")
	mustCreate := func(name string, parts int32, policy string) {
		t.Helper()
		if err := c.CreateTopic(name, parts, map[string]string{"cleanup.policy": policy}); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	mustCreate(p+"placed", 3, "delete")
	mustCreate(p+"state", 4, "delete")
	mustCreate(p+"events", 4, "compact")
	mustCreate(p+"dlq", 5, "delete")
	mustCreate(p+"ok", 4, "compact")

	specs := []TopicSpec{
		{Name: p + "placed", Partitions: 4},
		{Name: p + "state", Partitions: 4, Compacted: true},
		{Name: p + "events", Partitions: 4},
		{Name: p + "dlq", Partitions: 1, AnyPartitions: true},
		{Name: p + "ok", Partitions: 4, Compacted: true},
		{Name: p + "new", Partitions: 4, Compacted: true},
	}
	err := EnsureTopics(testContext(t, 30*time.Second), cfg, specs)
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want a *MismatchError", err)
	}
	want := []TopicMismatch{
		{Topic: p + "placed", Field: "partitions", Want: "4", Got: "3"},
		{Topic: p + "state", Field: "cleanup.policy", Want: "compact", Got: `"delete"`},
		{Topic: p + "events", Field: "cleanup.policy", Want: "delete", Got: `"compact"`},
	}
	if fmt.Sprint(mm.Mismatches) != fmt.Sprint(want) {
		t.Errorf("got mismatches\n%v\nwant\n%v", mm.Mismatches, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w.String()) {
			t.Errorf("error message %q does not mention %q", err, w.String())
		}
	}
	// The missing topic was still created, with compaction.
	if info := c.TopicInfo(p + "new"); info == nil || info.Configs["cleanup.policy"] == nil || *info.Configs["cleanup.policy"] != "compact" {
		t.Errorf("topic %snew: got %+v, want it created with cleanup.policy=compact", p, info)
	}
}

func TestEnsureTopicsValidatesSpecs(t *testing.T) {
	err := EnsureTopics(context.Background(), Config{}, []TopicSpec{{Name: "a", Partitions: 0}, {Name: "a", Partitions: 1}, {Partitions: 1}})
	for _, want := range []string{"partitions must be >= 1", "listed twice", "without a name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
}

func TestPartitionCounts(t *testing.T) {
	c, cfg := newCluster(t)
	a, b, missing := uniqueName(t, "a"), uniqueName(t, "b"), uniqueName(t, "missing")
	if err := c.CreateTopic(a, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic(b, 7, nil); err != nil {
		t.Fatal(err)
	}
	got, err := PartitionCounts(testContext(t, 10*time.Second), cfg, []string{a, b})
	if err != nil || got[a] != 3 || got[b] != 7 {
		t.Errorf("got %v, %v; want %s=3 %s=7 and no error", got, err, a, b)
	}
	got, err = PartitionCounts(testContext(t, 10*time.Second), cfg, []string{a, missing})
	if !errors.Is(err, kafkago.UnknownTopicOrPartition) || !strings.Contains(fmt.Sprint(err), missing) {
		t.Errorf("got error %v, want UnknownTopicOrPartition naming %s", err, missing)
	}
	if got[a] != 3 {
		t.Errorf("got %v, want %s=3 alongside the error", got, a)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(t *testing.T, w *syncBuffer) zerolog.Logger {
	t.Helper()
	if w == nil {
		return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	}
	return zerolog.New(w)
}

// A partition large enough to be read in two halves concurrently still comes back whole and
// in offset order, and an error from fn stops both readers.
func TestReadPartitionInTwoHalves(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "changelog")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1})
	n := int(readParallelMin) + 5_000
	w := NewProducer(cfg)
	defer w.Close()
	msgs := make([]kafkago.Message, 0, 1000)
	for i := range n {
		msgs = append(msgs, kafkago.Message{Topic: topic, Key: []byte("k"), Value: []byte(strconv.Itoa(i))})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(testContext(t, 20*time.Second), msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
	got, end := readAll(t, cfg, topic, 0)
	if len(got) != n || end != int64(n) {
		t.Fatalf("read %d records up to %d, want %d", len(got), end, n)
	}
	for i, m := range got {
		if m.Offset != int64(i) || string(m.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d: offset %d value %q", i, m.Offset, m.Value)
		}
	}
	stop := errors.New("stop")
	calls := 0
	_, err := ReadPartition(testContext(t, 20*time.Second), cfg, topic, 0, func(kafkago.Message) error {
		if calls++; calls == n-10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != n-10 {
		t.Errorf("after fn failed at record %d: err %v, %d calls", n-10, err, calls)
	}
}
