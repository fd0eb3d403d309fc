package events

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/podiumhq/podium/schemas"
)

func TestFastPathMatchesEnvelopeSchema(t *testing.T) {
	if !fastEnvelope {
		t.Fatalf("schemas/envelope.v1.json changed, so the envelope fast path is off: check the rules of " +
			"fastAttributes (events/fastpath.go) against the new schema, then set envelopeSchemaSHA256 to its SHA-256")
	}
	// Every known type matches the schema's type pattern, which fastAttributes relies on.
	for typ := range registered().types {
		if err := schemas.Validate(schemas.Envelope, map[string]any{"type": typ}); err != nil && strings.Contains(err.Error(), "/type") {
			t.Errorf("known type %s does not satisfy the envelope schema: %v", typ, err)
		}
	}
}

// decodeBothWays decodes r with the fast path on and off.
func decodeBothWays(r Record) (fast, general Envelope, fastErr, generalErr error) {
	defer func(on bool) { fastEnvelope = on }(fastEnvelope)
	fastEnvelope = true
	fast, fastErr = Decode(r)
	fastEnvelope = false
	general, generalErr = Decode(r)
	return
}

// TestFastPathChangesNothing decodes every sample record and many mutations of the fixtures
// with and without the fast path and requires the same envelope or the same error.
func TestFastPathChangesNothing(t *testing.T) {
	var records []struct {
		name string
		r    Record
	}
	add := func(name string, r Record) {
		records = append(records, struct {
			name string
			r    Record
		}{name, r})
	}
	fx := fixtures()
	long := func(n int) string { return strings.Repeat("x", n) }
	values := []any{
		"", "a", long(128), long(129), long(256), long(257), long(512), long(513), long(1024), long(1025),
		"é", "tab\there", `quote"d`, "back\\slash", "/abs/path", "has space", "http://example.com/a", "a:b", "podium/orchestrator",
		"1.0", "0.3", 0, 1, 2, 1000000, 1000001, -1, 2.0, 2.5, 1e3, true, nil, []any{"x"}, map[string]any{"a": 1},
		"2026-03-01T12:00:00Z", "2026-03-01T12:00:00.123456789Z", "2026-03-01T12:00:00+02:00", "2026-02-30T12:00:00Z",
		"2026-03-01t12:00:00z", "2026-03-01T24:00:00Z", "2026-03-01T12:00:60Z", "01/03/2026 12:00", "2026-03-01T12:00:00.Z",
		"application/json", "Application/JSON", "application/cloudevents+json", "text/plain", "application/json; charset=utf-8",
		schemas.URL("order.placed.v1"), schemas.URL("nope"), "https://example.com/schema.json", "not a uri",
		"success", "failure", "error", "Success",
		TypeOrderPlaced, TypeInventoryReserve, ReplyType(TypeInventoryReserve), TypeOrderApproved, "podium.order.shipped.v1",
		"podium.inventory.reserve.reply.v1x", "other.type.v1",
	}
	attrs := []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema",
		ExtSagaID, ExtStep, ExtAttempt, ExtCorrelationID, ExtCausationID, ExtIdempotencyKey, ExtOutcome, ExtTraceParent,
		"data_base64", "partitionkey", "tenant"}
	for name, e := range fx {
		add(name, structuredRecord(t, e))
		add(name+"/binary", binaryRecord(e))
		for _, a := range attrs {
			add(fmt.Sprintf("%s/delete %s", name, a), mutate(t, e, func(m map[string]any) { delete(m, a) }))
			for i, v := range values {
				add(fmt.Sprintf("%s/%s=%d:%v", name, a, i, v), mutate(t, e, func(m map[string]any) { m[a] = v }))
			}
		}
		add(name+"/no data", mutate(t, e, func(m map[string]any) { delete(m, "data") }))
		add(name+"/null data", mutate(t, e, func(m map[string]any) { m["data"] = nil }))
	}
	// The schema samples and the golden files.
	for _, root := range []string{"../schemas/testdata", "testdata/golden"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || strings.HasSuffix(path, "expectations.json") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, topic := range []string{TopicOrdersPlaced, "inventory.commands"} {
				add(path+"@"+topic, Record{Topic: topic, Value: b, Headers: []Header{{HeaderContentType, []byte(ContentTypeCloudEvents)}}})
				add(path+"@"+topic+"/no header", Record{Topic: topic, Value: b})
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walking %s: %v", root, err)
		}
	}

	fastAccepted := 0
	for _, rc := range records {
		fast, general, fastErr, generalErr := decodeBothWays(rc.r)
		if fmt.Sprint(fastErr) != fmt.Sprint(generalErr) {
			t.Errorf("%s: fast path error %v, general path error %v", rc.name, fastErr, generalErr)
			continue
		}
		if !reflect.DeepEqual(fast, general) {
			t.Errorf("%s: fast path decoded %+v, general path %+v", rc.name, fast, general)
		}
		if fastErr == nil {
			if raw, err := parseObject(rc.r.Value); err == nil {
				if _, ok := fastAttributes(raw); ok {
					fastAccepted++
				}
			}
		}
	}
	if fastAccepted < len(fx) {
		t.Errorf("the fast path took %d of %d records, want at least the %d fixtures", fastAccepted, len(records), len(fx))
	}
	t.Logf("%d records, %d through the fast path", len(records), fastAccepted)
}
