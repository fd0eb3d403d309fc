package schemas_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/schemas"
)

// expectation is what an invalid sample must be rejected for (testdata/expectations.json).
type expectation struct {
	Field string `json:"field"` // events.DecodeError.Field
	Rule  string `json:"rule"`  // events.DecodeError.Rule
}

func readExpectations(t *testing.T) map[string]expectation {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "expectations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]expectation
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("parsing expectations.json: %v", err)
	}
	return m
}

// sampleRecord turns a sample into the record a consumer would read: a CloudEvent in
// structured mode, or a bare document (no specversion) on orders.placed.
func sampleRecord(t *testing.T, raw []byte) (events.Record, map[string]any) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("sample is not JSON: %v", err)
	}
	if m, ok := doc.(map[string]any); ok {
		if _, ok := m["specversion"]; ok {
			return events.Record{
				Topic: "samples", Value: raw,
				Headers: []events.Header{{Key: events.HeaderContentType, Value: []byte(events.ContentTypeCloudEvents)}},
			}, m
		}
	}
	return events.Record{Topic: events.TopicOrdersPlaced, Value: raw}, nil
}

// TestSamples walks testdata/<schema>/{valid,invalid}-*.json: valid samples pass the
// schemas on their own and events.Decode; invalid ones are rejected by events.Decode with
// the field and rule of testdata/expectations.json.
func TestSamples(t *testing.T) {
	expect := readExpectations(t)
	seen := map[string]bool{}
	counts := map[string][2]int{} // schema -> valid, invalid
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Dir(path) == "testdata" {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, "testdata"+string(filepath.Separator)))
		schema, name := filepath.Dir(rel), filepath.Base(rel)
		t.Run(rel, func(t *testing.T) {
			if !slices.Contains(schemas.Names(), schema) {
				t.Fatalf("directory %s: not a schema name", schema)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, envelope := sampleRecord(t, raw)
			c := counts[schema]
			switch {
			case strings.HasPrefix(name, "valid-"):
				c[0]++
				if _, err := events.Decode(r); err != nil {
					t.Errorf("Decode: got %v, want success", err)
				}
				// The schemas alone accept it too.
				data := any(nil)
				if envelope != nil {
					if err := schemas.Validate(schemas.Envelope, envelope); err != nil {
						t.Errorf("envelope schema: %v", err)
					}
					data = envelope["data"]
				} else if err := json.Unmarshal(raw, &data); err != nil {
					t.Fatal(err)
				}
				if schema != schemas.Envelope {
					raw, _ := json.Marshal(data)
					if err := schemas.ValidateJSON(schema, raw); err != nil {
						t.Errorf("data schema: %v", err)
					}
				}
			case strings.HasPrefix(name, "invalid-"):
				c[1]++
				seen[rel] = true
				want, ok := expect[rel]
				if !ok {
					t.Fatalf("no entry in testdata/expectations.json")
				}
				_, err := events.Decode(r)
				var de *events.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Decode: got %v, want a *events.DecodeError", err)
				}
				if de.Field != want.Field || de.Rule != want.Rule {
					t.Errorf("got field %q rule %q, want field %q rule %q (%v)", de.Field, de.Rule, want.Field, want.Rule, err)
				}
			default:
				t.Errorf("file name must start with valid- or invalid-")
			}
			counts[schema] = c
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range expect {
		if !seen[rel] {
			t.Errorf("expectations.json: %s: no such invalid sample", rel)
		}
	}
	for _, name := range schemas.Names() {
		if name == "defs.v1" {
			continue
		}
		if c := counts[name]; c[0] < 1 || c[1] < 2 {
			t.Errorf("schema %s: got %d valid and %d invalid samples, want at least 1 and 2", name, c[0], c[1])
		}
	}
}

// TestItemLimit builds the 1,000- and 1,001-item orders from valid-basic.json rather than
// committing them.
func TestItemLimit(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "order.placed.v1", "valid-basic.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		items     int
		wantField string // "" = valid
	}{
		{1000, ""},
		{1001, "/items"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.items), func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			items := make([]any, tt.items)
			for i := range items {
				items[i] = map[string]any{"sku": fmt.Sprintf("SKU-%04d", i), "quantity": 2, "unit_price": 1999}
			}
			data := doc["data"].(map[string]any)
			data["items"], data["total"] = items, 2*1999*tt.items
			value, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := sampleRecord(t, value)
			_, err = events.Decode(r)
			var de *events.DecodeError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("Decode: got %v, want success", err)
			case tt.wantField != "" && (!errors.As(err, &de) || de.Field != tt.wantField || de.Rule != "schema: maxItems"):
				t.Errorf("Decode: got %v, want %s: schema: maxItems", err, tt.wantField)
			}
		})
	}
}
