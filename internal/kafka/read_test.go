package kafka

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// ScanPartition hands fn every record as it was written — values that span several of
// kafka-go's 64 KiB pages, empty values, tombstones, headers — with HighWaterMark set to the
// end it returns; ReadPartition's records stay intact after the read, once the buffers
// ScanPartition lent have been reused by later fetches.
func TestScanPartitionRecords(t *testing.T) {
	_, cfg := newCluster(t)
	topic := uniqueName(t, "changelog")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 1, Compacted: true})
	var want []kafkago.Message
	for i := range 3000 {
		key := fmt.Sprintf("ord-%d", i)
		var value []byte
		switch {
		case i%500 == 7:
			value = nil // a tombstone
		case i%500 == 8:
			value = []byte{}
		case i%250 == 9:
			value = bytes.Repeat([]byte{byte(i)}, 150_000) // three pages at least
		default:
			value = []byte(strings.Repeat(key, 1+i%40))
		}
		m := kafkago.Message{Topic: topic, Key: []byte(key), Value: value}
		if i%3 == 0 {
			m.Headers = []kafkago.Header{{Key: "h", Value: []byte(key)}}
		}
		want = append(want, m)
	}
	for i := 0; i < len(want); i += 100 {
		writeMessages(t, cfg, want[i:i+100]...)
	}

	check := func(t *testing.T, got kafkago.Message, end int64) {
		t.Helper()
		if got.Offset < 0 || got.Offset >= int64(len(want)) {
			t.Fatalf("got offset %d, want 0..%d", got.Offset, len(want)-1)
		}
		w := want[got.Offset]
		if string(got.Key) != string(w.Key) || !bytes.Equal(got.Value, w.Value) || (got.Value == nil) != (w.Value == nil) {
			t.Fatalf("record %d: got key %q and a value of %d bytes (nil %v), want key %q and %d bytes (nil %v)",
				got.Offset, got.Key, len(got.Value), got.Value == nil, w.Key, len(w.Value), w.Value == nil)
		}
		if fmt.Sprint(got.Headers) != fmt.Sprint(w.Headers) {
			t.Fatalf("record %d: got headers %v, want %v", got.Offset, got.Headers, w.Headers)
		}
		if got.HighWaterMark != end || got.Topic != topic || got.Partition != 0 {
			t.Fatalf("record %d: got %s[%d] with HighWaterMark %d, want %s[0] and %d", got.Offset, got.Topic, got.Partition, got.HighWaterMark, topic, end)
		}
	}

	t.Run("scan", func(t *testing.T) {
		next := int64(0)
		end, err := ScanPartition(testContext(t, 20*time.Second), cfg, topic, 0, func(m kafkago.Message) error {
			if m.Offset != next {
				return fmt.Errorf("got offset %d, want %d", m.Offset, next)
			}
			next++
			check(t, m, int64(len(want)))
			return nil
		})
		if err != nil {
			t.Fatalf("ScanPartition: %v", err)
		}
		if end != int64(len(want)) || next != end {
			t.Errorf("got end %d after %d records, want %d", end, next, len(want))
		}
	})

	t.Run("read keeps copies", func(t *testing.T) {
		got, end := readAll(t, cfg, topic, 0)
		if len(got) != len(want) {
			t.Fatalf("got %d records, want %d", len(got), len(want))
		}
		for _, m := range got {
			check(t, m, end)
		}
	})
}

// pieces is a protocol.Bytes that writes itself in pieces of n bytes, as kafka-go's pages do
// for a value that straddles them.
type pieces struct {
	b []byte
	n int
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.b)
	p.b = p.b[n:]
	return n, nil
}

func (p *pieces) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(p.b) > 0 {
		k := min(p.n, len(p.b))
		n, err := w.Write(p.b[:k])
		total += int64(n)
		p.b = p.b[n:]
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (p *pieces) Len() int     { return len(p.b) }
func (p *pieces) Close() error { return nil }

// readerOnly hides the WriterTo of a protocol.Bytes.
type readerOnly struct{ protocol.Bytes }

func TestBytesView(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	for _, tc := range []struct {
		name    string
		bytes   protocol.Bytes
		want    []byte
		aliases bool // the result is a slice of data, not a copy
	}{
		{"null", nil, nil, false},
		{"empty", protocol.NewBytes([]byte{}), []byte{}, false},
		{"one piece", &pieces{data, 64}, data, true},
		{"three pieces", &pieces{data, 7}, data, false},
		{"no WriterTo", readerOnly{protocol.NewBytes(data)}, data, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v bytesView
			v.buf = []byte("left over from an earlier record")
			got, err := v.of(tc.bytes)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("got %q (nil %v), want %q (nil %v)", got, got == nil, tc.want, tc.want == nil)
			}
			if aliases := len(got) > 0 && &got[0] == &data[0]; aliases != tc.aliases {
				t.Errorf("got a slice of the source %v, want %v", aliases, tc.aliases)
			}
			if cap(got) != len(got) {
				t.Errorf("got capacity %d for %d bytes, want them equal (an append must not write into the source)", cap(got), len(got))
			}
		})
	}
}
