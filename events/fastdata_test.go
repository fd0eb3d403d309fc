package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFastDataMatchesSchemaFiles(t *testing.T) {
	for name := range allFastDecoders {
		if _, on := fastDecoders[name]; !on {
			t.Errorf("schemas/%s.json (or defs.v1.json) changed, so its fast decoder is off: check the rules of "+
				"allFastDecoders (events/fastdata.go) against the new schema, then update fastDataSchemaSHA256", name)
		}
	}
	// Every built-in command and every reply has a fast decoder, of the payload Decode's
	// general way fills.
	for typ, spec := range registered().types {
		if spec.compiled != nil || (spec.kind != KindCommand && spec.kind != KindReply) {
			continue
		}
		d, ok := allFastDecoders[spec.schema]
		if !ok {
			t.Errorf("%s: schema %s has no fast decoder", typ, spec.schema)
			continue
		}
		got, _ := d(&dataReader{s: scanner{b: []byte(`{}`)}})
		if want := spec.payload(); reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s: fast decoder fills %T, want %T", typ, got, want)
		}
	}
}

// fastDataSpec returns a built-in type whose data has the named schema, and its spec.
func fastDataSpec(t testing.TB, schema string) (string, typeSpec) {
	t.Helper()
	var types []string
	for typ, spec := range registered().types {
		if spec.schema == schema && spec.compiled == nil {
			types = append(types, typ)
		}
	}
	if len(types) == 0 {
		t.Fatalf("no built-in type has schema %s", schema)
	}
	slices.Sort(types)
	spec, _ := lookup(types[0])
	return types[0], spec
}

// checkFastData requires the fast decoder of schema to agree with the general way on data:
// when it is sure, the same verdict; when it says valid, the same payload and subject. It
// returns the fast verdict.
func checkFastData(t testing.TB, schema string, data []byte) verdict {
	t.Helper()
	typ, spec := fastDataSpec(t, schema)
	p, subject, v := decodeFast(allFastDecoders[schema], data)
	gp, gsubject, problems := validateDataGeneral(spec, typ, data)
	switch {
	case v == valid && len(problems) > 0:
		t.Errorf("%s: fast check accepts %.300q, the general way rejects it: %v", schema, data, problems[0].err)
	case v == invalid && len(problems) == 0:
		t.Errorf("%s: fast check rejects %.300q, the general way accepts it", schema, data)
	case v == valid && !reflect.DeepEqual(p, gp):
		t.Errorf("%s: fast payload of %.300q is %+v, the general way's %+v", schema, data, p, gp)
	case v == valid && subject != gsubject:
		t.Errorf("%s: fast subject of %.300q is %q, the general way's %q", schema, data, subject, gsubject)
	}
	return v
}

// fastDataSamples returns the data of every schema sample of the fast decoders' schemas,
// by schema, in a stable order.
func fastDataSamples(t testing.TB) map[string][][]byte {
	t.Helper()
	out := make(map[string][][]byte)
	root := "../schemas/testdata"
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		schema := filepath.Base(filepath.Dir(path))
		if _, ok := allFastDecoders[schema]; !ok {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if data, ok := doc["data"]; ok {
			out[schema] = append(out[schema], data)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	if len(out) != len(allFastDecoders) {
		t.Fatalf("samples of %d schemas, want one of each of the %d fast decoders' schemas", len(out), len(allFastDecoders))
	}
	return out
}

// TestFastDataSamples runs the data of every schema sample through the fast check and the
// general way: same verdict, and the fast check sure of each (all of them are plain).
func TestFastDataSamples(t *testing.T) {
	n := 0
	for schema, docs := range fastDataSamples(t) {
		for _, data := range docs {
			if v := checkFastData(t, schema, data); v == unsure {
				t.Errorf("%s: fast check unsure of the sample data %s, want a verdict", schema, data)
			}
			n++
		}
	}
	t.Logf("%d samples", n)
}

// fastDataValues replace members of sample data: the limits of every building block.
var fastDataValues = []string{
	`""`, `"a"`, `"ord-1001"`, `"A.z_0:9-"`, `"bad id!"`, `"ord/1"`, `"ord\u002d1"`, `"\u00e9"`, `"é"`, "\"bad \xff utf8\"",
	`"` + strings.Repeat("x", 32) + `"`, `"` + strings.Repeat("x", 33) + `"`, `"` + strings.Repeat("x", 64) + `"`,
	`"` + strings.Repeat("x", 65) + `"`, `"` + strings.Repeat("x", 128) + `"`, `"` + strings.Repeat("x", 129) + `"`,
	`"` + strings.Repeat("é", 256) + `"`, `"` + strings.Repeat("é", 257) + `"`, `"` + strings.Repeat("x", 1024) + `"`,
	`"` + strings.Repeat("x", 1025) + `"`, `"` + strings.Repeat("x", 4096) + `"`, `"` + strings.Repeat("é", 4097) + `"`,
	`"EUR"`, `"eur"`, `"XXX"`, `"EURO"`, `"DE"`, `"de"`, `"ZZ"`, `"EUR\n"`,
	`"ada@example.com"`, `"a@b"`, `"a@b."`, `"@b.co"`, `".a@b.co"`, `"a.@b.co"`, `"a..b@c.co"`, `"a b@c.co"`,
	`"\"q\"@b.co"`, `"a@[192.0.2.1]"`, `"a@[IPv6:::1]"`, `"a@-b.co"`, `"a@b-.co"`, `"a@b..co"`, `"é@b.co"`, `"a@é.co"`,
	`"` + strings.Repeat("l", 65) + `@b.co"`, `"a@` + strings.Repeat("d", 64) + `.co"`, `"ab"`,
	`0`, `-0`, `1`, `-1`, `2`, `10000`, `10001`, `1.0`, `1.5`, `1e3`, `1E0`, `-1e-3`,
	`9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `99999999999999999999999`,
	`true`, `false`, `null`, `[]`, `[1]`, `{}`, `{"a":1}`, `{"reservation_id":"res-1"}`,
	`[{"sku":"S","quantity":1,"unit_price":0}]`, `[{"sku":"S","quantity":1}]`, `[null]`, `[{"sku":"S","quantity":1,"unit_price":0},{}]`,
	`{"name":"N","line1":"L","city":"C","postal_code":"","country":"DE"}`, `{"name":"N","line1":"L","city":"C","country":"DE"}`,
}

// mutations returns data (a JSON object) with each member, and each member of the objects
// and arrays of objects in it, deleted, replaced by each of fastDataValues, repeated, and
// spelled in upper case; and the data wrapped in odd ways.
func mutations(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	var walk func(doc json.RawMessage, rebuild func(json.RawMessage) []byte)
	walk = func(doc json.RawMessage, rebuild func(json.RawMessage) []byte) {
		var members map[string]json.RawMessage
		if json.Unmarshal(doc, &members) != nil || members == nil {
			var arr []json.RawMessage
			if json.Unmarshal(doc, &arr) == nil {
				for i := range arr {
					walk(arr[i], func(v json.RawMessage) []byte {
						c := slices.Clone(arr)
						c[i] = v
						b, _ := json.Marshal(c)
						return rebuild(b)
					})
				}
			}
			return
		}
		keys := make([]string, 0, len(members))
		for k := range members {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		with := func(f func(m map[string]json.RawMessage)) []byte {
			m := make(map[string]json.RawMessage, len(members))
			for k, v := range members {
				m[k] = v
			}
			f(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return rebuild(b)
		}
		for _, k := range keys {
			out = append(out, with(func(m map[string]json.RawMessage) { delete(m, k) }))
			for _, v := range fastDataValues {
				out = append(out, with(func(m map[string]json.RawMessage) { m[k] = json.RawMessage(v) }))
			}
			out = append(out, with(func(m map[string]json.RawMessage) { m[strings.ToUpper(k)] = m[k] }))
			out = append(out, with(func(m map[string]json.RawMessage) { m[strings.ToUpper(k)] = m[k]; delete(m, k) }))
			out = append(out, with(func(m map[string]json.RawMessage) { m[strings.ToUpper(k)] = json.RawMessage(`1`) }))
			out = append(out, withDuplicate(doc, k, rebuild))
			walk(members[k], func(v json.RawMessage) []byte {
				return with(func(m map[string]json.RawMessage) { m[k] = v })
			})
		}
		out = append(out, with(func(m map[string]json.RawMessage) { m["extra"] = json.RawMessage(`{"deep":[1,{"x":null}]}`) }))
	}
	walk(data, func(b json.RawMessage) []byte { return b })
	out = append(out, data, []byte(" \n"+string(data)+"\t "), []byte(string(data)+"x"), []byte(string(data)+"{}"),
		[]byte("["+string(data)+"]"), data[:len(data)-1], []byte(`null`), []byte(`"x"`), []byte(`1`), []byte(``), []byte(`{}`))
	return out
}

// withDuplicate puts a member key with the value "x" before the members of the object doc,
// which has one of that name.
func withDuplicate(doc json.RawMessage, key string, rebuild func(json.RawMessage) []byte) []byte {
	trimmed := bytes.TrimSpace(doc)
	k, _ := json.Marshal(key)
	dup := append([]byte("{"+string(k)+`:"x",`), trimmed[1:]...)
	if bytes.Equal(bytes.TrimSpace(trimmed[1:]), []byte("}")) {
		dup = []byte("{" + string(k) + `:"x"}`)
	}
	return rebuild(dup)
}

// TestFastDataMutations runs thousands of mutations of the samples' valid data through the
// fast check and the general way.
func TestFastDataMutations(t *testing.T) {
	counts := map[verdict]int{}
	for schema, docs := range fastDataSamples(t) {
		for _, data := range docs {
			var probe Reply
			if json.Unmarshal(data, &probe) != nil {
				continue
			}
			for _, m := range mutations(t, data) {
				counts[checkFastData(t, schema, m)]++
			}
		}
	}
	t.Logf("verdicts: %v", counts)
	if counts[valid] == 0 || counts[invalid] == 0 || counts[unsure] > (counts[valid]+counts[invalid])/5 {
		t.Errorf("verdicts %v: want valid and invalid ones, and few unsure", counts)
	}
}

// TestFastDataChangesNothing decodes every sample record with the fast decoders on and off
// and requires the same envelope (payload included) or the same error.
func TestFastDataChangesNothing(t *testing.T) {
	defer func(on bool) { fastData = on }(fastData)
	n := 0
	err := filepath.WalkDir("../schemas/testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.HasSuffix(path, "expectations.json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := Record{Topic: "inventory.replies", Value: b, Headers: []Header{{HeaderContentType, []byte(ContentTypeCloudEvents)}}}
		fastData = true
		fast, fastErr := Decode(r)
		fastData = false
		general, generalErr := Decode(r)
		if fmt.Sprint(fastErr) != fmt.Sprint(generalErr) {
			t.Errorf("%s: error %v with the fast decoders, %v without", path, fastErr, generalErr)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Errorf("%s: decoded %+v with the fast decoders, %+v without", path, fast, general)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no samples")
	}
}

func TestDecodeSetsPayload(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    any
	}{
		{"reply-success", &Reply{Result: json.RawMessage(`{"reservation_id":"res-42"}`)}},
		{"command-reserve", &ReserveInventory{OrderID: "ord-1001", Items: []Item{{SKU: "SKU-RED-1", Quantity: 2, UnitPrice: 1999}}}},
		{"order-placed", func() any { var p OrderPlaced; _ = json.Unmarshal([]byte(orderJSON), &p); return &p }()},
	} {
		e := fixtures()[tc.fixture]
		value, headers, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(Record{Topic: TopicOrdersPlaced, Value: value, Headers: headers})
		if err != nil {
			t.Fatalf("%s: %v", tc.fixture, err)
		}
		if !reflect.DeepEqual(got.Payload, tc.want) {
			t.Errorf("%s: got Payload %+v, want %+v", tc.fixture, got.Payload, tc.want)
		}
	}
}

// TestEmailFormat compares emailFormat with the schema's email format, through the data of
// a command with an email.
func TestEmailFormat(t *testing.T) {
	for _, tc := range []struct {
		email string
		want  verdict
	}{
		{"ada@example.com", valid}, {"a@b", valid}, {"@b.c", valid}, {"a.b@c", valid}, {"a+tag@c.d", valid},
		{"!#$%&'*+-/=?^_`{|}~@x", valid}, {strings.Repeat("l", 64) + "@b", valid}, {"a@" + strings.Repeat("d", 63), valid},
		{"a@" + strings.Repeat("d.", 125) + "d", valid}, {"a@b.", valid},
		{"a@", invalid}, {"a@.b", invalid}, {".a@b", invalid}, {"a.@b", invalid}, {"a..b@c", invalid}, {"a b@c", invalid},
		{"é@c", invalid}, {"a@é", invalid}, {"a@-b", invalid}, {"a@b-", invalid}, {"a@b_c", invalid}, {"noat", invalid},
		{strings.Repeat("l", 65) + "@b", invalid}, {"a@" + strings.Repeat("d", 64), invalid}, {"a@b@c", invalid},
		{"a@" + strings.Repeat("d.", 126) + "dd", invalid},
		{`"q"@b`, unsure}, {`"q"@b`, unsure}, {"a@[192.0.2.1]", unsure}, {"a@[IPv6:::1]", unsure},
	} {
		if got := emailFormat(tc.email); got != tc.want {
			t.Errorf("emailFormat(%q) = %v, want %v", tc.email, got, tc.want)
		}
		doc, err := json.Marshal(map[string]any{"order_id": "o", "email": tc.email, "reason": ""})
		if err != nil {
			t.Fatal(err)
		}
		checkFastData(t, "notification.send-cancellation-notice.v1", doc)
	}
}

// FuzzFastData compares the fast check with the general way on arbitrary data of every
// fast decoder's schema, seeded with the schema samples.
func FuzzFastData(f *testing.F) {
	names := make([]string, 0, len(allFastDecoders))
	for name := range allFastDecoders {
		names = append(names, name)
	}
	slices.Sort(names)
	samples := fastDataSamples(f)
	for i, name := range names {
		for _, data := range samples[name] {
			f.Add(uint8(i), []byte(data))
		}
	}
	f.Fuzz(func(t *testing.T, schema uint8, data []byte) {
		checkFastData(t, names[int(schema)%len(names)], data)
	})
}
