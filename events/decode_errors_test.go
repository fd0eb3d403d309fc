package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	fx := fixtures()
	order, cmd, reply := fx["order-placed"], fx["command-reserve"], fx["reply-success"]
	ceHeader := []Header{{HeaderContentType, []byte(ContentTypeCloudEvents)}}
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	item := func(k string, v any) func(map[string]any) {
		return func(d map[string]any) { d["items"].([]any)[0].(map[string]any)[k] = v }
	}
	items := func(n int) func(map[string]any) {
		return func(d map[string]any) {
			list := make([]any, n)
			for i := range list {
				list[i] = map[string]any{"sku": fmt.Sprintf("SKU-%d", i), "quantity": 1, "unit_price": 1}
			}
			d["items"], d["total"] = list, n
		}
	}
	withBinary := func(e Envelope, f func(*Record)) Record { r := binaryRecord(e); f(&r); return r }
	bare := func(value string, hs ...Header) Record {
		return Record{Topic: TopicOrdersPlaced, Partition: 2, Offset: 8, Value: []byte(value), Headers: hs}
	}

	tests := []struct {
		name      string
		record    Record
		field     string
		rule      string
		errSubstr string // optional
	}{
		// the record
		{"value over 1 MiB", Record{Topic: "t", Value: bytes.Repeat([]byte(" "), MaxRecordSize+1), Headers: ceHeader}, "", RuleTooLarge, "1048577 bytes"},
		{"malformed JSON", Record{Topic: "t", Value: []byte(`{"specversion":`), Headers: ceHeader}, "", RuleMalformedJSON, ""},
		{"JSON null", Record{Topic: "t", Value: []byte(`null`), Headers: ceHeader}, "", RuleMalformedJSON, ""},
		{"JSON array", Record{Topic: "t", Value: []byte(`[1]`), Headers: ceHeader}, "", RuleMalformedJSON, ""},
		{"batch mode", Record{Topic: "t", Value: []byte(`[]`), Headers: []Header{{HeaderContentType, []byte("application/cloudevents-batch+json")}}}, "", RuleContentType, ""},
		{"bare JSON off orders.placed", Record{Topic: "inventory.commands", Value: []byte(orderJSON)}, "", RuleNotCloudEvent, ""},

		// envelope attributes
		{"missing id", mutate(t, order, del("id")), "id", "schema: required", ""},
		{"empty id", mutate(t, order, set("id", "")), "id", "schema: minLength", ""},
		{"missing source", mutate(t, order, del("source")), "source", "schema: required", ""},
		{"missing type", mutate(t, order, del("type")), "type", "schema: required", ""},
		{"type not a string", mutate(t, order, set("type", 42)), "type", "schema: type", ""},
		{"missing subject", mutate(t, order, del("subject")), "subject", "schema: required", ""},
		{"subject an object", mutate(t, order, set("subject", map[string]any{"a": 1})), "subject", "schema: type", ""},
		{"specversion 0.3", mutate(t, order, set("specversion", "0.3")), "specversion", "schema: const", ""},
		{"missing specversion", mutate(t, order, del("specversion")), "specversion", "schema: required", ""},
		{"unknown type", mutate(t, order, set("type", "podium.order.shipped.v1")), "type", RuleUnknownType, "not a podium event type"},
		{"unknown version", mutate(t, order, set("type", "podium.order.placed.v9")), "type", RuleUnknownType, "known: podium.order.placed.v1"},
		{"unknown reply version", mutate(t, reply, set("type", "podium.inventory.reserve.reply.v2")), "type", RuleUnknownType, ""},
		{"bad time", mutate(t, order, set("time", "yesterday")), "time", "schema: format", ""},
		{"bad datacontenttype", mutate(t, order, set("datacontenttype", "text/plain")), "datacontenttype", RuleContentType, ""},
		{"odd datacontenttype", mutate(t, order, set("datacontenttype", "Application/JSON-ish")), "datacontenttype", RuleContentType, ""},
		{"bad source", mutate(t, order, set("source", "%zz")), "source", "schema: format", ""},
		{"oversized traceparent", mutate(t, order, set("traceparent", strings.Repeat("0", 513))), "traceparent", "schema: maxLength", ""},
		{"reply without correlationid", mutate(t, reply, del("correlationid")), "correlationid", "schema: required", ""},
		{"reply without outcome", mutate(t, reply, del("outcome")), "outcome", "schema: required", ""},
		{"reply with outcome maybe", mutate(t, reply, set("outcome", "maybe")), "outcome", "schema: enum", ""},
		{"command without sagaid", mutate(t, cmd, del("sagaid")), "sagaid", "schema: required", ""},
		{"command without step", mutate(t, cmd, del("step")), "step", "schema: required", ""},
		{"command without idempotencykey", mutate(t, cmd, del("idempotencykey")), "idempotencykey", "schema: required", ""},
		{"command without attempt", mutate(t, cmd, del("attempt")), "attempt", "schema: required", ""},
		{"command attempt 0", mutate(t, cmd, set("attempt", 0)), "attempt", "schema: minimum", ""},
		{"command attempt as string", mutate(t, cmd, set("attempt", "1")), "attempt", "schema: type", ""},
		{"base64 data", mutate(t, order, func(m map[string]any) { delete(m, "data"); m["data_base64"] = "e30=" }), "data_base64", RuleContentType, ""},

		// data
		{"missing data", mutate(t, order, del("data")), "data", "schema: required", ""},
		{"null data", mutate(t, order, set("data", nil)), "data", "schema: type", ""},
		{"subject differs from order_id", mutate(t, order, set("subject", "ord-2")), "subject", RuleSubjectOrderID, ""},
		{"negative quantity", mutateData(t, order, item("quantity", -1)), "/items/0/quantity", "schema: minimum", "must be >= 1, got -1"},
		{"zero quantity", mutateData(t, order, item("quantity", 0)), "/items/0/quantity", "schema: minimum", ""},
		{"quantity over 10000", mutateData(t, order, item("quantity", 10001)), "/items/0/quantity", "schema: maximum", ""},
		{"quantity 2.0", mutate(t, order, func(m map[string]any) {
			m["data"].(map[string]any)["items"].([]any)[0].(map[string]any)["quantity"] = json.Number("2.0")
		}), "/items/0/quantity", RulePayload, ""},
		{"price as string", mutateData(t, order, item("unit_price", "19.99")), "/items/0/unit_price", "schema: type", ""},
		{"price beyond int64", mutate(t, order, func(m map[string]any) {
			m["data"].(map[string]any)["items"].([]any)[0].(map[string]any)["unit_price"] = json.Number("9223372036854775808")
		}), "/items/0/unit_price", "schema: maximum", ""},
		{"missing email", mutateData(t, order, func(d map[string]any) { delete(d["customer"].(map[string]any), "email") }), "/customer/email", "schema: required", ""},
		{"bad email", mutateData(t, order, func(d map[string]any) { d["customer"].(map[string]any)["email"] = "ada.example.com" }), "/customer/email", "schema: format", ""},
		{"unknown currency", mutateData(t, order, set("currency", "EUX")), "/currency", "schema: format", "ISO 4217"},
		{"lower-case currency", mutateData(t, order, set("currency", "eur")), "/currency", "schema: format", ""},
		{"unknown country", mutateData(t, order, func(d map[string]any) { d["shipping_address"].(map[string]any)["country"] = "XX" }), "/shipping_address/country", "schema: format", "ISO 3166-1"},
		{"order_id with a slash", mutate(t, order, func(m map[string]any) { m["subject"] = "a/b"; m["data"].(map[string]any)["order_id"] = "a/b" }), "/order_id", "schema: pattern", ""},
		{"order_id of 65 characters", mutateData(t, order, set("order_id", strings.Repeat("o", 65))), "/order_id", "schema: maxLength", ""},
		{"oversized sku", mutateData(t, order, item("sku", strings.Repeat("S", 129))), "/items/0/sku", "schema: maxLength", ""},
		{"no items", mutateData(t, order, items(0)), "/items", "schema: minItems", ""},
		{"1001 items", mutateData(t, order, items(1001)), "/items", "schema: maxItems", ""},
		{"total mismatch", mutateData(t, order, set("total", 3997)), "/total", RuleTotal, "got 3997, want 3998"},
		{"line overflow", mutate(t, order, func(m map[string]any) {
			d := m["data"].(map[string]any)
			d["items"].([]any)[0].(map[string]any)["unit_price"] = json.Number("9223372036854775807")
		}), "/items/0/unit_price", RuleAmountOverflow, ""},
		{"sum overflow", mutate(t, order, func(m map[string]any) {
			line := map[string]any{"sku": "A", "quantity": 1, "unit_price": json.Number("5000000000000000000")}
			m["data"].(map[string]any)["items"] = []any{line, line}
		}), "/items/1", RuleAmountOverflow, ""},
		{"reply result not an object", mutateData(t, reply, set("result", 5)), "/result", "schema: type", ""},
		{"lifecycle with an unknown status", mutateData(t, fx["lifecycle-approved"], set("status", "shipped")), "/status", "schema: enum", ""},
		{"command without items", mutateData(t, cmd, del("items")), "/items", "schema: required", ""},

		// binary mode
		{"binary attempt x", withBinary(cmd, func(r *Record) {
			for i := range r.Headers {
				if r.Headers[i].Key == "ce_attempt" {
					r.Headers[i].Value = []byte("x")
				}
			}
		}), "attempt", RuleAttribute, ""},
		{"binary text/plain", withBinary(order, func(r *Record) {
			r.Headers = append(r.Headers[:0:0], r.Headers[:len(r.Headers)-1]...)
			r.Headers = append(r.Headers, Header{HeaderContentType, []byte("text/plain")})
		}), "datacontenttype", RuleContentType, ""},
		{"binary malformed data", withBinary(order, func(r *Record) { r.Value = []byte(`{"order_id":`) }), "data", RuleMalformedJSON, ""},
		{"binary trailing data", withBinary(order, func(r *Record) { r.Value = []byte(orderJSON + ` {}`) }), "data", RuleMalformedJSON, ""},
		{"binary without value", withBinary(order, func(r *Record) { r.Value = nil }), "data", "schema: required", ""},
		{"binary without type", withBinary(order, func(r *Record) {
			hs := r.Headers[:0:0]
			for _, h := range r.Headers {
				if h.Key != "ce_type" {
					hs = append(hs, h)
				}
			}
			r.Headers = hs
		}), "type", "schema: required", ""},

		// bare OrderPlaced
		{"bare malformed", bare(`{"order_id":"x"`), "data", RuleMalformedJSON, ""},
		{"bare text/plain", bare(orderJSON, Header{HeaderContentType, []byte("text/plain")}), "datacontenttype", RuleContentType, ""},
		{"bare missing order_id", bare(strings.Replace(orderJSON, `"order_id":"ord-1001",`, "", 1)), "/order_id", "schema: required", ""},
		{"bare empty", bare(``), "data", "schema: required", ""},
		{"bare total mismatch", bare(strings.Replace(orderJSON, `"total":3998`, `"total":1`, 1)), "/total", RuleTotal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.record)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode: got %v, want a *DecodeError", err)
			}
			if de.Field != tt.field || de.Rule != tt.rule {
				t.Errorf("got field %q rule %q, want field %q rule %q (%v)", de.Field, de.Rule, tt.field, tt.rule, err)
			}
			if de.Topic != tt.record.Topic || de.Partition != tt.record.Partition || de.Offset != tt.record.Offset {
				t.Errorf("record: got %s[%d]@%d, want %s[%d]@%d", de.Topic, de.Partition, de.Offset, tt.record.Topic, tt.record.Partition, tt.record.Offset)
			}
			if tt.errSubstr != "" && !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("error %q: want it to contain %q", err, tt.errSubstr)
			}
		})
	}
}

// TestDecodeItemsLimit: exactly 1000 items is fine (1001 is in TestDecodeErrors).
func TestDecodeItemsLimit(t *testing.T) {
	var items []Item
	for i := range 1000 {
		items = append(items, Item{SKU: fmt.Sprintf("SKU-%d", i), Quantity: 10000, UnitPrice: 1_000_000})
	}
	o := OrderPlaced{
		OrderID: "ord-big", Customer: Customer{ID: "c", Email: "c@example.com"}, SellerID: "s", Currency: "JPY",
		Items: items, Total: 1000 * 10000 * 1_000_000, Payment: Payment{Token: "tok_visa"},
		ShippingAddress: Address{Name: "N", Line1: "L", City: "C", PostalCode: "", Country: "JP"},
	}
	e, err := NewEvent(TypeOrderPlaced, o.OrderID, o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(structuredRecord(t, e))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var back OrderPlaced
	if err := got.DecodeData(&back); err != nil {
		t.Fatal(err)
	}
	if g, w := len(back.Items), 1000; g != w {
		t.Errorf("items: got %d, want %d", g, w)
	}
}
