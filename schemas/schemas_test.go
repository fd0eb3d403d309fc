package schemas

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestEverySchemaCompiles(t *testing.T) {
	names := Names()
	if got, want := len(names), 29; got != want {
		t.Errorf("schemas: got %d (%v), want %d", got, names, want)
	}
	for _, name := range names {
		sch, err := Schema(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got, want := sch.Location, URL(name)+"#"; got != want {
			t.Errorf("%s: location got %s, want %s", name, got, want)
		}
		// The $id in the file matches the name.
		raw, err := fs.ReadFile(FS(), name+".json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			ID     string `json:"$id"`
			Schema string `json:"$schema"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc.ID != URL(name) || doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $id %q $schema %q, want %q and draft 2020-12", name, doc.ID, doc.Schema, URL(name))
		}
	}
}

// TestCompileCompilesEverySchema: after Compile every schema is there, compiled once.
func TestCompileCompilesEverySchema(t *testing.T) {
	if err := Compile(); err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got, want := len(compiled.schemas), len(Names()); got != want {
		t.Fatalf("compiled %d schemas, want %d", got, want)
	}
	before, _ := Schema(Envelope)
	if err := Compile(); err != nil {
		t.Fatalf("Compile again: %v", err)
	}
	if after, _ := Schema(Envelope); after != before || after == nil {
		t.Errorf("the envelope schema changed or is missing after a second Compile")
	}
}

func TestUnknownSchema(t *testing.T) {
	err := Validate("order.placed.v9", map[string]any{})
	if !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("got %v, want ErrUnknownSchema", err)
	}
}

func TestValidateInputs(t *testing.T) {
	doc := `{"order_id":"ord-1","status":"approved"}`
	tests := []struct {
		name string
		doc  any
	}{
		{"bytes", []byte(doc)},
		{"raw message", json.RawMessage(doc)},
		{"decoded", map[string]any{"order_id": "ord-1", "status": "approved"}},
	}
	for _, tt := range tests {
		if err := Validate("order.lifecycle.v1", tt.doc); err != nil {
			t.Errorf("%s: got %v, want nil", tt.name, err)
		}
	}
	if err := ValidateJSON("order.lifecycle.v1", []byte(`{"order_id":`)); err == nil || !strings.Contains(err.Error(), "parsing JSON") {
		t.Errorf("malformed: got %v, want a parsing error", err)
	}
	if err := ValidateJSON("order.lifecycle.v1", []byte(`{} {}`)); err == nil {
		t.Errorf("trailing data: got nil, want an error")
	}
}

func TestViolations(t *testing.T) {
	err := ValidateJSON("order.placed.v1", []byte(`{
		"order_id": "a/b",
		"customer": {"id": "c"},
		"seller_id": "s",
		"currency": "XYZ",
		"items": [{"sku": "x", "quantity": 1, "unit_price": 1}, {"sku": "y", "quantity": -1, "unit_price": 2.5}],
		"total": 1,
		"payment": {"token": "t"},
		"shipping_address": {"name": "n", "line1": "l", "city": "c", "postal_code": "p", "country": "QQ"}
	}`))
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want *Error", err)
	}
	want := []Violation{
		{"/currency", "format", `"XYZ": not an ISO 4217 currency code`},
		{"/customer/email", "required", "missing"},
		{"/items/1/quantity", "minimum", "must be >= 1, got -1"},
		{"/items/1/unit_price", "type", "must be integer, got number"},
		{"/order_id", "pattern", `"a/b" does not match ^[A-Za-z0-9._:-]+$`},
		{"/shipping_address/country", "format", `"QQ": not an ISO 3166-1 alpha-2 country code`},
	}
	if len(se.Violations) != len(want) {
		t.Fatalf("violations: got %v, want %v", se.Violations, want)
	}
	for i := range want {
		if se.Violations[i] != want[i] {
			t.Errorf("violation %d: got %+v, want %+v", i, se.Violations[i], want[i])
		}
	}
	if got, want := se.Schema, "order.placed.v1"; got != want {
		t.Errorf("Schema: got %s, want %s", got, want)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "order.placed.v1: /currency: format: ") {
		t.Errorf("Error(): got %q, want it to start with the schema and the first violation", msg)
	}
}

func TestViolationsAtRoot(t *testing.T) {
	err := Validate("order.placed.v1", []any{})
	var se *Error
	if !errors.As(err, &se) || len(se.Violations) != 1 {
		t.Fatalf("got %v, want one violation", err)
	}
	if got, want := se.Violations[0], (Violation{"", "type", "must be object, got array"}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, want := se.Violations[0].String(), "(document): type: must be object, got array"; got != want {
		t.Errorf("String(): got %q, want %q", got, want)
	}
}

func TestLongValuesAreTruncatedInMessages(t *testing.T) {
	long := strings.Repeat("x", 300)
	err := Validate("order.control.v1", map[string]any{"order_id": long})
	if err == nil || strings.Contains(err.Error(), long) {
		t.Errorf("got %v, want an error that does not quote the whole value", err)
	}
}

func TestCodeLists(t *testing.T) {
	if got, want := len(countries), 249; got != want {
		t.Errorf("countries: got %d, want %d", got, want)
	}
	if got := len(currencies); got < 150 || got > 170 {
		t.Errorf("currencies: got %d, want about 155", got)
	}
	for _, tt := range []struct {
		code string
		want bool
	}{{"EUR", true}, {"USD", true}, {"JPY", true}, {"XOF", true}, {"eur", false}, {"XXX", false}, {"XTS", false}, {"BTC", false}, {"", false}} {
		if got := IsCurrency(tt.code); got != tt.want {
			t.Errorf("IsCurrency(%q): got %v, want %v", tt.code, got, tt.want)
		}
	}
	for _, tt := range []struct {
		code string
		want bool
	}{{"DE", true}, {"AQ", true}, {"GB", true}, {"UK", false}, {"de", false}, {"ZZ", false}, {"DEU", false}} {
		if got := IsCountry(tt.code); got != tt.want {
			t.Errorf("IsCountry(%q): got %v, want %v", tt.code, got, tt.want)
		}
	}
}

// TestCompilerRefs: a schema of one's own can $ref podium's and gets the podium formats.
func TestCompilerRefs(t *testing.T) {
	c := Compiler()
	const url = "https://example.com/quote.json"
	if err := c.AddResource(url, map[string]any{
		"$schema":    "https://json-schema.org/draft/2020-12/schema",
		"type":       "object",
		"properties": map[string]any{"currency": map[string]any{"$ref": URL("defs.v1") + "#/$defs/currency"}},
	}); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if err := sch.Validate(map[string]any{"currency": "CHF"}); err != nil {
		t.Errorf("CHF: got %v, want nil", err)
	}
	if err := sch.Validate(map[string]any{"currency": "ABC"}); err == nil {
		t.Errorf("ABC: got nil, want an error")
	}
	if _, err := c.Compile("https://example.com/elsewhere.json"); err == nil {
		t.Errorf("compiling a non-embedded URL: got nil, want an error (no loading)")
	}
}
