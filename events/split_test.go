package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// splitCorpus are documents splitObject must judge exactly as encoding/json does.
var splitCorpus = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a":"x","b":[1,2,{"c":null}],"d":{"e":true,"f":false}}`,
	`{"n":-0.5e+10,"m":0,"o":-0,"p":1E3,"q":12.25}`, `{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"}`,
	`{"s":"raw é ✓"}`, "{\"s\":\"bad \xff utf8\"}", "{\"k\xff\":1}", `{"\u0069d":1}`, `{"a" : [ ] , "b" : { } }`,
	"{\"a\":1}\n", `[]`, `[1]`, `null`, `"x"`, `1`, ``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, "{\"a\":\"tab\there\"}", `{"a":[1,]}`, `{"a":[,1]}`, `{"a":1}x`, `{"a":1} {}`, `{'a':1}`,
	`{"a":"unterminated}`, `{"a":1 "b":2}`, `{"a":NaN}`, `{"a":Infinity}`, "\ufeff{}", `{"a":{"b":{"c":[[[]]]}}}`,
}

func TestSplitObjectMatchesEncodingJSON(t *testing.T) {
	docs := append([]string(nil), splitCorpus...)
	for _, e := range fixtures() {
		v, _, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(v))
	}
	docs = append(docs, `{"deep":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}`)
	for _, doc := range docs {
		checkSplit(t, []byte(doc))
	}
}

// checkSplit requires splitObject to accept only what encoding/json accepts, with the same
// members; it may decline what encoding/json accepts (parseObject then asks encoding/json).
func checkSplit(t *testing.T, doc []byte) {
	t.Helper()
	got, ok := splitObject(doc)
	var want map[string]json.RawMessage
	err := json.Unmarshal(doc, &want)
	if !ok {
		return
	}
	if err != nil || want == nil {
		t.Errorf("splitObject accepted %.200q, which encoding/json rejects (%v)", doc, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitObject(%.200q) = %.200q, encoding/json %.200q", doc, got, want)
	}
}

func FuzzSplitObject(f *testing.F) {
	for _, doc := range splitCorpus {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkSplit(t, doc) })
}
