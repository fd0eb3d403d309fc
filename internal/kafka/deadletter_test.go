package kafka

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
)

func headerOf(m kafkago.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestDeadLetter(t *testing.T) {
	orig := kafkago.Message{Topic: "orders.placed", Partition: 3, Offset: 17, Key: []byte("ord-1"),
		Value: []byte("not json"), Headers: []kafkago.Header{{Key: "x-trace", Value: []byte("abc")}}}
	dl := DeadLetter("orders.dlq", orig, "malformed JSON")
	if dl.Topic != "orders.dlq" || string(dl.Key) != "ord-1" || !bytes.Equal(dl.Value, orig.Value) {
		t.Errorf("got topic %s key %s value %q, want orders.dlq, the original key and value", dl.Topic, dl.Key, dl.Value)
	}
	for key, want := range map[string]string{
		"x-trace": "abc", events.HeaderDLQReason: "malformed JSON", events.HeaderDLQTopic: "orders.placed",
		events.HeaderDLQPartition: "3", events.HeaderDLQOffset: "17",
	} {
		if got, _ := headerOf(dl, key); got != want {
			t.Errorf("header %s = %q, want %q", key, got, want)
		}
	}
	if _, ok := headerOf(dl, HeaderDLQTruncated); ok {
		t.Error("a small record was marked truncated")
	}
}

func TestDeadLetterOfAnOversizedRecordFits(t *testing.T) {
	big := bytes.Repeat([]byte("x"), DefaultBatchBytes+100)
	dl := DeadLetter("orders.dlq", kafkago.Message{Topic: "orders.placed", Key: []byte("k"), Value: big},
		strings.Repeat("r", 10_000))
	size := len(dl.Key) + len(dl.Value)
	for _, h := range dl.Headers {
		size += len(h.Key) + len(h.Value)
	}
	if size > DefaultBatchBytes-4<<10 {
		t.Errorf("dead letter is %d bytes, want it to fit a batch of %d with room for overhead", size, DefaultBatchBytes)
	}
	got, ok := headerOf(dl, HeaderDLQTruncated)
	if !ok || got != strconv.Itoa(len(big)) {
		t.Errorf("dlq.truncated = %q (present %v), want the original length %d", got, ok, len(big))
	}
	if reason, _ := headerOf(dl, events.HeaderDLQReason); len(reason) > maxReason+8 {
		t.Errorf("reason is %d bytes, want it capped near %d", len(reason), maxReason)
	}
}
