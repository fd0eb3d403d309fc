package events

import (
	"bytes"
	"encoding/json"
	"testing"
)

// marshalStructured is what Encode did before appendStructured: encoding/json.
func marshalStructured(t testing.TB, s *structured) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnewline\nreturn\r", "\x00\x01\x1f\x7f",
	"<html> & friends", "line\u2028para\u2029", "bad utf-8 \xff\xfe end", "é ü ß 漢字 🙂",
	"\xed\xa0\x80 surrogate", "trailing \xc3",
}

// Encode writes what encoding/json wrote, byte for byte, for data it would not rewrite
// (compact JSON, as json.Marshal makes it).
func TestAppendStructuredMatchesEncodingJSON(t *testing.T) {
	data, _ := json.Marshal(map[string]any{"order_id": "o-1", "note": "<&> \u2028", "n": 3, "list": []int{1, 2}})
	for _, str := range trickyStrings {
		for _, attempt := range []int{0, 1, 17, -2} {
			for _, d := range []json.RawMessage{nil, data, json.RawMessage(`null`), json.RawMessage(`"s"`)} {
				s := &structured{SpecVersion: "1.0", ID: str, Source: "podium/" + str, Type: "t." + str,
					Subject: str, Time: str, DataContentType: str, DataSchema: str, SagaID: str, Step: str,
					Attempt: attempt, CorrelationID: str, CausationID: str, IdempotencyKey: str,
					Outcome: str, TraceParent: str, Data: d}
				got, ok := appendStructured(nil, s)
				if !ok {
					t.Fatalf("appendStructured refused %q", str)
				}
				if want := marshalStructured(t, s); !bytes.Equal(got, want) {
					t.Fatalf("string %q, attempt %d, data %s:\n got %s\nwant %s", str, attempt, d, got, want)
				}
			}
		}
	}
}

func TestAppendStructuredRefusesDataThatIsNotJSON(t *testing.T) {
	for _, d := range []string{`{`, `{"a":}`, `nope`, `{"a":1}}`} {
		if _, ok := appendStructured(nil, &structured{SpecVersion: "1.0", ID: "i", Source: "s", Type: "t", Data: json.RawMessage(d)}); ok {
			t.Errorf("data %q accepted", d)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
