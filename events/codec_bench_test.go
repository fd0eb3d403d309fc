package events

import (
	"testing"
)

// The codec's hot path: every record the orchestrator and the workers read is decoded and
// validated (Decode), every record they write is encoded (Encode). Run with
//
//	go test -run XXX -bench . -benchmem ./events/
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"order-placed", "command-reserve", "reply-success", "lifecycle-approved"} {
		e := fixtures()[name]
		value, headers, err := Encode(e)
		if err != nil {
			b.Fatalf("encoding %s: %v", name, err)
		}
		r := Record{Topic: TopicOrdersPlaced, Key: []byte(e.Subject), Value: value, Headers: headers}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if _, err := Decode(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("bare-order-placed", func(b *testing.B) {
		r := Record{Topic: TopicOrdersPlaced, Key: []byte("ord-1001"), Value: []byte(orderJSON)}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"order-placed", "command-reserve", "reply-success"} {
		e := fixtures()[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Encode(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
