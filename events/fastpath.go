package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/podiumhq/podium/schemas"
)

// The envelope fast path.
//
// Decode checks every record's attributes against the envelope schema. For the records
// podium writes itself — plain ASCII attributes, RFC 3339 UTC times, known types and schema
// URLs — that generic check costs more than everything else of the envelope. fastAttributes
// recognises such records with plain code whose every acceptance implies the schema's:
// it checks each constraint of envelope.v1 (required attributes, the reply and command
// conditionals, types, lengths, const, enum, pattern, formats) with rules that are equal to
// or stricter than the schema's. Anything it is not sure of — escapes or non-ASCII in a
// string, an unusual time or content type, a number that is not plain digits — goes the
// general way (attrValue + the schema), which also produces every error. So the fast path
// changes what Decode costs, never what it returns; fastpath_test.go checks both paths
// agree on every sample record and mutation.
//
// The rules are written for one version of envelope.v1.json, identified by its SHA-256:
// when the schema file changes, the fast path switches itself off (and a test says so)
// until someone checks the rules against the new schema and updates the hash.

// envelopeSchemaSHA256 is the hash of schemas/envelope.v1.json the fast path implements.
const envelopeSchemaSHA256 = "fc5234e3f954399bcce4d3f25667d03a636894e754d793c9a34c0f29bb894d54"

// fastEnvelope reports whether the fast path is on: the embedded envelope schema is the one
// the rules were written for.
var fastEnvelope = envelopeSchemaMatches()

func envelopeSchemaMatches() bool {
	b, err := schemaFile(schemas.Envelope)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == envelopeSchemaSHA256
}

func schemaFile(name string) ([]byte, error) {
	f, err := schemas.FS().Open(name + ".json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(f)
	return buf.Bytes(), err
}

// attrLimit is an envelope attribute's length bounds (in characters; the fast path only
// takes ASCII, where characters are bytes).
type attrLimit struct{ min, max int }

// envelopeStrings are the string attributes of envelope.v1 and their bounds, except time,
// datacontenttype, dataschema and outcome, which have their own rules.
var envelopeStrings = map[string]attrLimit{
	"specversion":     {3, 3}, // const "1.0", checked below
	"id":              {1, 256},
	"source":          {1, 1024},
	"type":            {1, 256},
	"subject":         {1, 256},
	ExtSagaID:         {1, 256},
	ExtStep:           {1, 128},
	ExtCorrelationID:  {1, 256},
	ExtCausationID:    {0, 256},
	ExtIdempotencyKey: {1, 512},
	ExtTraceParent:    {0, 512},
}

// fastAttributes returns the attributes of a structured document as the general path would
// (strings, and attempt as a json.Number; "data" true) when they certainly satisfy the
// envelope schema, and false when the general path must decide. Extension attributes the
// schema does not name are left out: the schema does not constrain them and Decode does not
// return them.
func fastAttributes(raw map[string]json.RawMessage) (map[string]any, bool) {
	if _, ok := raw["data"]; !ok {
		return nil, false
	}
	attrs := make(map[string]any, 16)
	attrs["data"] = true
	for k, v := range raw {
		switch k {
		case "data":
			continue
		case ExtAttempt:
			n, ok := plainInt(v)
			if !ok || n < 1 || n > 1_000_000 {
				return nil, false
			}
			attrs[k] = json.Number(v)
			continue
		}
		s, ok := plainString(v)
		if !ok {
			if _, named := envelopeStrings[k]; named || isEnvelopeAttr(k) {
				return nil, false
			}
			continue // an extension attribute: unconstrained
		}
		switch k {
		case "time":
			if !plainTime(s) {
				return nil, false
			}
		case "datacontenttype":
			if s != ContentTypeJSON {
				return nil, false
			}
		case "dataschema":
			if !knownSchemaURL(s) {
				return nil, false
			}
		case ExtOutcome:
			if s != OutcomeSuccess && s != OutcomeFailure && s != OutcomeError {
				return nil, false
			}
		default:
			lim, named := envelopeStrings[k]
			if !named {
				continue // an extension attribute
			}
			if len(s) < lim.min || len(s) > lim.max {
				return nil, false
			}
		}
		attrs[k] = s
	}
	// required, const, and the type's pattern (every known type matches it)
	for _, k := range [...]string{"specversion", "id", "source", "type", "subject"} {
		if _, ok := attrs[k]; !ok {
			return nil, false
		}
	}
	spec, known := lookup(attrs["type"].(string))
	if attrs["specversion"] != SpecVersion || !known || !plainSource(attrs["source"].(string)) {
		return nil, false
	}
	// the conditionals: replies need correlationid and outcome; commands need sagaid, step,
	// idempotencykey and attempt. The schema tells them by name (a reply ends in
	// .reply.vN; a command is any other podium.* type but podium.order.*, podium.saga.* and
	// podium.return.*), finish tells registered commands by their kind: for every known
	// type the two agree (TestTypeRegistry, TestRegisteredFastPath).
	var needed []string
	switch spec.kind {
	case KindReply:
		needed = []string{ExtCorrelationID, ExtOutcome}
	case KindCommand:
		needed = []string{ExtSagaID, ExtStep, ExtIdempotencyKey, ExtAttempt}
	}
	for _, k := range needed {
		if _, ok := attrs[k]; !ok {
			return nil, false
		}
	}
	return attrs, true
}

// isEnvelopeAttr reports whether the envelope schema names k.
func isEnvelopeAttr(k string) bool {
	switch k {
	case "time", "datacontenttype", "dataschema", ExtOutcome, ExtAttempt:
		return true
	}
	return false
}

// isReplyType reports whether typ matches the schema's reply pattern `\.reply\.v[0-9]+$`.
func isReplyType(typ string) bool {
	i := strings.LastIndex(typ, ".reply.v")
	if i < 0 {
		return false
	}
	digits := typ[i+len(".reply.v"):]
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plainString returns the value of a JSON string made of printable ASCII without escapes.
func plainString(v json.RawMessage) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	body := v[1 : len(v)-1]
	for _, c := range body {
		if c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
			return "", false
		}
	}
	return string(body), true
}

// plainInt returns the value of a JSON number made of 1 to 7 digits without a leading zero.
func plainInt(v json.RawMessage) (int, bool) {
	if len(v) == 0 || len(v) > 7 || v[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// plainTime reports whether s is a UTC RFC 3339 time as podium writes it:
// YYYY-MM-DDTHH:MM:SS[.fraction]Z with a real date and time of day (what time.Parse
// accepts), which is a valid JSON Schema date-time.
func plainTime(s string) bool {
	if len(s) < 20 || len(s) > 30 || s[len(s)-1] != 'Z' {
		return false
	}
	for i, c := range []byte(s[:19]) {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	if frac := s[19 : len(s)-1]; frac != "" {
		if len(frac) < 2 || frac[0] != '.' {
			return false
		}
		for _, c := range []byte(frac[1:]) {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// plainSource reports whether s is a relative reference made of letters, digits and
// "-._~/", not starting with "/": a valid uri-reference.
func plainSource(s string) bool {
	if s == "" || s[0] == '/' {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return false
		}
	}
	return true
}

// knownSchemaURL reports whether s is the URL of an embedded schema or the $id of a
// registered type's schema (both valid uris: Register checks its URLs against the envelope
// schema).
func knownSchemaURL(s string) bool {
	name, ok := strings.CutPrefix(s, schemas.BaseURL)
	if !ok {
		_, ok = registered().urls[s]
		return ok
	}
	name, ok = strings.CutSuffix(name, ".json")
	if !ok || name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
