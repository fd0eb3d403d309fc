package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/podiumhq/podium/schemas"
)

// Decode reads r in structured mode (content-type application/cloudevents+json), binary mode
// (ce_* headers, JSON data), or — only when r.Topic is TopicOrdersPlaced — as a bare
// OrderPlaced JSON document. A structured document that arrives without its content-type
// header is recognised by its specversion member.
//
// A bare OrderPlaced gets a synthesised envelope: Type TypeOrderPlaced, Subject the order ID,
// Source SourceBare, ID a UUID derived from topic, partition and offset (so a redelivered
// record gets the same ID), no Time. A record without a traceparent attribute (a bare one
// always) takes TraceParent from its HeaderTraceParent header, if it has one.
//
// Decode checks, in this order, and returns a *DecodeError for the first problem found:
// the value size (at most MaxRecordSize, before parsing); the JSON; that the type is known,
// built in or registered ([Register]) (RuleUnknownType, also for an unknown version); the
// attributes against the envelope schema (id, source, type, subject and specversion 1.0
// required; on replies correlationid and outcome success|failure|error; on commands sagaid,
// step, idempotencykey and attempt >= 1); the data against the type's schema; that the
// data decodes into the type's payload struct (if it has one); that subject equals the
// data's saga ID member (order_id, return_id or saga_id; a registered type's SubjectField);
// and for OrderPlaced that total, for ReturnRequested that refund equals the sum of
// quantity × unit_price (checked arithmetic).
//
// The returned envelope's Data does not alias r.Value; its Payload is the data decoded into
// the type's payload struct (see Envelope.Payload), so that readers need not decode Data again.
func Decode(r Record) (Envelope, error) {
	d := decoder{r: r}
	e, err := d.decode()
	if err != nil {
		return Envelope{}, err
	}
	if e.TraceParent == "" && len(r.Headers) > 0 {
		// Like the attribute, not validated beyond its length: a bad trace header must not
		// dead-letter a record, and one too long is dropped.
		if tp, ok := header(r.Headers, HeaderTraceParent); ok && len(tp) <= maxTraceParent {
			e.TraceParent = tp
		}
	}
	return e, nil
}

// maxTraceParent is the longest traceparent accepted (envelope.v1's maxLength).
const maxTraceParent = 512

// decoder decodes one record.
type decoder struct {
	r Record
}

// problem is a DecodeError without its record position.
type problem struct {
	field, rule string
	err         error
}

func (d *decoder) fail(field, rule string, err error) *DecodeError {
	return &DecodeError{Topic: d.r.Topic, Partition: d.r.Partition, Offset: d.r.Offset, Field: field, Rule: rule, Err: err}
}

func (d *decoder) failWith(p problem) *DecodeError { return d.fail(p.field, p.rule, p.err) }

func (d *decoder) decode() (Envelope, error) {
	value := d.r.Value
	if n := len(value); n > MaxRecordSize {
		return Envelope{}, d.fail("", RuleTooLarge, fmt.Errorf("value is %d bytes, limit %d", n, MaxRecordSize))
	}
	ct, hasCT := header(d.r.Headers, HeaderContentType)
	mt := mediaType(ct)
	switch {
	case mt == ContentTypeCloudEvents:
		raw, err := parseObject(value)
		if err != nil {
			return Envelope{}, d.fail("", RuleMalformedJSON, err)
		}
		return d.structured(raw)
	case strings.HasPrefix(mt, "application/cloudevents"):
		return Envelope{}, d.fail("", RuleContentType, fmt.Errorf("content-type %q: only %s is supported", ct, ContentTypeCloudEvents))
	case hasBinaryAttributes(d.r.Headers):
		return d.binary(ct, hasCT)
	}
	if bytes.Contains(value, []byte(`"specversion"`)) {
		if raw, err := parseObject(value); err == nil {
			if _, ok := raw["specversion"]; ok {
				return d.structured(raw)
			}
		}
	}
	if d.r.Topic != TopicOrdersPlaced {
		return Envelope{}, d.fail("", RuleNotCloudEvent, fmt.Errorf("no content-type %s, no %sspecversion header, and bare JSON is only accepted on %s", ContentTypeCloudEvents, BinaryHeaderPrefix, TopicOrdersPlaced))
	}
	if hasCT && !isJSON(mt) {
		return Envelope{}, d.fail("datacontenttype", RuleContentType, fmt.Errorf("%q is not JSON", ct))
	}
	return d.bare()
}

// structured decodes the attributes of a structured-mode document.
func (d *decoder) structured(raw map[string]json.RawMessage) (Envelope, error) {
	if _, b64 := raw["data_base64"]; fastEnvelope && !b64 {
		if attrs, ok := fastAttributes(raw); ok {
			return d.finish(attrs, raw["data"], true)
		}
	}
	attrs := make(map[string]any, len(raw))
	var data json.RawMessage
	for k, v := range raw {
		switch k {
		case "data":
			data = v
			attrs[k] = true // presence only: the data is checked against its own schema
		case "data_base64":
			return Envelope{}, d.fail(k, RuleContentType, errors.New("base64 data is not supported: podium data is JSON"))
		default:
			a, err := attrValue(v)
			if err != nil {
				return Envelope{}, d.fail(k, RuleMalformedJSON, err)
			}
			attrs[k] = a
		}
	}
	return d.finish(attrs, data, false)
}

// binary decodes the ce_* headers of a binary-mode record; the value is the data.
func (d *decoder) binary(ct string, hasCT bool) (Envelope, error) {
	attrs := make(map[string]any, len(d.r.Headers)+1)
	for _, h := range d.r.Headers {
		name, ok := binaryAttribute(h.Key)
		if !ok {
			continue
		}
		if _, dup := attrs[name]; dup {
			continue // the first header wins
		}
		v := string(h.Value)
		if name == ExtAttempt {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return Envelope{}, d.fail(name, RuleAttribute, fmt.Errorf("%q is not an integer", v))
			}
			attrs[name] = json.Number(strconv.Itoa(n))
			continue
		}
		attrs[name] = v
	}
	if hasCT {
		attrs["datacontenttype"] = ct
	}
	var data json.RawMessage
	if len(d.r.Value) > 0 {
		attrs["data"] = true
		data = bytes.Clone(d.r.Value)
	}
	return d.finish(attrs, data, false)
}

// finish validates the attributes and the data and builds the envelope. envelopeChecked
// says the attributes are known to satisfy the envelope schema (fastAttributes).
func (d *decoder) finish(attrs map[string]any, data json.RawMessage, envelopeChecked bool) (Envelope, error) {
	var spec typeSpec
	if typ, ok := attrs["type"].(string); ok {
		if spec, ok = lookup(typ); !ok {
			return Envelope{}, d.fail("type", RuleUnknownType, unknownType(typ))
		}
	}
	if ct, ok := attrs["datacontenttype"].(string); ok && !isJSON(mediaType(ct)) {
		return Envelope{}, d.fail("datacontenttype", RuleContentType, fmt.Errorf("%q is not JSON", ct))
	}
	if !envelopeChecked {
		if err := schemas.Validate(schemas.Envelope, attrs); err != nil {
			return Envelope{}, d.failWith(schemaProblems(err, attributeField)[0])
		}
		// The schema recognises podium's commands by name; registered ones by their kind.
		if spec.kind == KindCommand {
			for _, a := range commandAttributes {
				if _, ok := attrs[a]; !ok {
					return Envelope{}, d.fail(a, schemaRule("required"), errMissing)
				}
			}
		}
	}
	e := Envelope{
		ID:              str(attrs, "id"),
		Source:          str(attrs, "source"),
		Type:            str(attrs, "type"),
		Subject:         str(attrs, "subject"),
		DataContentType: str(attrs, "datacontenttype"),
		DataSchema:      str(attrs, "dataschema"),
		SagaID:          str(attrs, ExtSagaID),
		Step:            str(attrs, ExtStep),
		CorrelationID:   str(attrs, ExtCorrelationID),
		CausationID:     str(attrs, ExtCausationID),
		IdempotencyKey:  str(attrs, ExtIdempotencyKey),
		Outcome:         str(attrs, ExtOutcome),
		TraceParent:     str(attrs, ExtTraceParent),
		Data:            data,
	}
	if n, ok := attrs[ExtAttempt].(json.Number); ok {
		f, err := n.Float64() // an integer in [1, 1e6]: the schema checked it
		if err != nil {
			return Envelope{}, d.fail(ExtAttempt, RuleAttribute, err)
		}
		e.Attempt = int(f)
	}
	if s := str(attrs, "time"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Envelope{}, d.fail("time", RuleAttribute, err)
		}
		e.Time = t.UTC()
	}
	p, id, problems := validateData(spec, e.Type, data)
	if len(problems) > 0 {
		return Envelope{}, d.failWith(problems[0])
	}
	if spec.subject != "" {
		if id != e.Subject { // the envelope schema wants a subject: never ""
			rule := RuleSubjectSagaID
			if spec.subject == "order_id" {
				rule = RuleSubjectOrderID
			}
			return Envelope{}, d.fail("subject", rule, fmt.Errorf("subject %q, data %s %q", e.Subject, spec.subject, id))
		}
	}
	e.Payload = p
	return e, nil
}

// commandAttributes are the attributes every command needs, in the order the envelope
// schema's violations are reported (sorted).
var commandAttributes = [...]string{ExtAttempt, ExtIdempotencyKey, ExtSagaID, ExtStep}

// errMissing is the error of a missing required attribute, worded as the schema's.
var errMissing = errors.New("missing")

// bareNamespace derives the IDs of bare OrderPlaced records.
var bareNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/podiumhq/podium/events/bare"))

// bare decodes a bare OrderPlaced document.
func (d *decoder) bare() (Envelope, error) {
	spec, _ := lookup(TypeOrderPlaced)
	data := bytes.Clone(d.r.Value)
	p, _, problems := validateData(spec, TypeOrderPlaced, data)
	if len(problems) > 0 {
		return Envelope{}, d.failWith(problems[0])
	}
	position := fmt.Sprintf("%s/%d/%d", d.r.Topic, d.r.Partition, d.r.Offset)
	return Envelope{
		ID:              uuid.NewSHA1(bareNamespace, []byte(position)).String(),
		Source:          SourceBare,
		Type:            TypeOrderPlaced,
		Subject:         p.(*OrderPlaced).OrderID,
		DataContentType: ContentTypeJSON,
		DataSchema:      spec.dataSchemaURL(),
		Data:            data,
		Payload:         p,
	}, nil
}

// validateData checks data against the schema of the type typ, decodes it into the type's
// payload (if it has one) and applies the payload's code rules. It returns the payload (nil
// without one) and the value of the type's subject member (spec.subject; "" without one, or
// when the member is absent or not a string), or every problem found (schema violations are
// all reported; code rules run only on schema-valid data).
//
// The data of replies and built-in commands, which podium writes itself, is first given to
// the type's fast decoder (fastdata.go); only what it does not judge valid goes the general
// way, which produces the errors.
func validateData(spec typeSpec, typ string, data json.RawMessage) (payload any, subject string, problems []problem) {
	if fast := fastDecoders[spec.schema]; fast != nil && fastData && spec.compiled == nil {
		if p, id, v := decodeFast(fast, data); v == valid {
			return p, id, spec.checkReply(typ, p)
		}
	}
	p, id, problems := validateDataGeneral(spec, typ, data)
	if len(problems) > 0 {
		return p, id, problems
	}
	return p, id, spec.checkReply(typ, p)
}

// checkReply applies a registered command's result schema to its reply's payload.
func (s typeSpec) checkReply(typ string, p any) []problem {
	if r, ok := p.(*Reply); ok && s.result != nil {
		return s.checkResult(typ, r.Result)
	}
	return nil
}

// validateDataGeneral is validateData the general way: the schema validator on a generic
// document, then encoding/json into the payload.
func validateDataGeneral(spec typeSpec, typ string, data json.RawMessage) (payload any, subject string, problems []problem) {
	if len(data) == 0 {
		return nil, "", []problem{{fieldData, schemaRule("required"), errNoData}}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, "", []problem{{fieldData, RuleMalformedJSON, err}}
	}
	if err := spec.validate(typ, doc); err != nil {
		return nil, "", schemaProblems(err, dataField)
	}
	if spec.subject != "" {
		subject, _ = subjectOf(doc, spec.subject)
	}
	if spec.payload == nil {
		return nil, subject, nil
	}
	p := spec.payload()
	if err := json.Unmarshal(data, p); err != nil {
		return nil, "", []problem{payloadProblem(err, doc)}
	}
	switch p := p.(type) {
	case *OrderPlaced:
		problems = checkLines(p.Items, p.Total, "/total", RuleTotal)
	case *ReturnRequested:
		problems = checkLines(p.Items, p.Refund, "/refund", RuleRefund)
	}
	if len(problems) > 0 {
		return nil, "", problems
	}
	return p, subject, nil
}

// checkLines applies the code rule of OrderPlaced's total and ReturnRequested's refund:
// the amount (at field) equals the sum of the lines, computed without overflow.
func checkLines(items []Item, amount int64, field, rule string) []problem {
	var sum int64
	for i, it := range items {
		line, ok := mul64(int64(it.Quantity), it.UnitPrice)
		if !ok {
			return []problem{{fmt.Sprintf("/items/%d/unit_price", i), RuleAmountOverflow,
				fmt.Errorf("%d × %d overflows int64", it.Quantity, it.UnitPrice)}}
		}
		if sum, ok = add64(sum, line); !ok {
			return []problem{{fmt.Sprintf("/items/%d", i), RuleAmountOverflow,
				errors.New("the sum of the lines overflows int64")}}
		}
	}
	if amount != sum {
		return []problem{{field, rule, fmt.Errorf("got %d, want %d", amount, sum)}}
	}
	return nil
}

// mul64 returns a*b and whether it did not overflow.
func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) || c/b != a {
		return 0, false
	}
	return c, true
}

// add64 returns a+b and whether it did not overflow.
func add64(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, false
	}
	return a + b, true
}

// ValidateOrderPlaced checks an OrderPlaced document (schema and code rules) and returns it
// decoded, or every problem found: a *DecodeError, or an errors.Join of several (errors.As
// finds the first). The errors carry no record position.
func ValidateOrderPlaced(raw json.RawMessage) (OrderPlaced, error) {
	if n := len(raw); n > MaxRecordSize {
		return OrderPlaced{}, &DecodeError{Field: fieldData, Rule: RuleTooLarge, Err: fmt.Errorf("document is %d bytes, limit %d", n, MaxRecordSize)}
	}
	spec, _ := lookup(TypeOrderPlaced)
	p, _, problems := validateData(spec, TypeOrderPlaced, raw)
	if len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, pr := range problems {
			errs[i] = &DecodeError{Field: pr.field, Rule: pr.rule, Err: pr.err}
		}
		if len(errs) == 1 {
			return OrderPlaced{}, errs[0]
		}
		return OrderPlaced{}, errors.Join(errs...)
	}
	return *p.(*OrderPlaced), nil
}

func schemaRule(keyword string) string { return "schema: " + keyword }

// attributeField names an envelope violation by its attribute ("/correlationid" -> "correlationid").
func attributeField(pointer string) string { return strings.TrimPrefix(pointer, "/") }

// dataField names a data violation by its pointer in the data, the data itself as "data".
func dataField(pointer string) string {
	if pointer == "" {
		return fieldData
	}
	return pointer
}

// schemaProblems converts a schemas.Validate error into problems (at least one).
func schemaProblems(err error, field func(string) string) []problem {
	var se *schemas.Error
	if !errors.As(err, &se) || len(se.Violations) == 0 {
		return []problem{{field(""), "schema", err}}
	}
	out := make([]problem, len(se.Violations))
	for i, v := range se.Violations {
		out[i] = problem{field(v.Field), schemaRule(v.Rule), errors.New(v.Message)}
	}
	return out
}

// payloadProblem converts an encoding/json error on schema-valid data (2.0 or 1e3 for an
// integer, an integer out of the Go type's range) into a problem. encoding/json names the
// field without array indices ("items.quantity"); doc gives them back.
func payloadProblem(err error, doc any) problem {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return problem{fieldData, RulePayload, err}
	}
	field := "/" + strings.ReplaceAll(te.Field, ".", "/")
	if ptr, ok := findNonInteger(doc, strings.Split(te.Field, "."), ""); ok {
		field = ptr
	}
	return problem{field, RulePayload, fmt.Errorf("cannot decode %s into %s: integers are written without fraction or exponent and fit 64 bits", te.Value, te.Type)}
}

// findNonInteger follows path in doc, trying every element of arrays, and returns the
// pointer of the first number on it that is not a plain int64.
func findNonInteger(doc any, path []string, at string) (string, bool) {
	switch v := doc.(type) {
	case []any:
		for i, el := range v {
			if ptr, ok := findNonInteger(el, path, at+"/"+strconv.Itoa(i)); ok {
				return ptr, true
			}
		}
	case map[string]any:
		if len(path) > 0 {
			return findNonInteger(v[path[0]], path[1:], at+"/"+path[0])
		}
	case json.Number:
		if len(path) == 0 {
			_, err := strconv.ParseInt(string(v), 10, 64)
			return at, err != nil
		}
	}
	return "", false
}

// unknownType explains an unknown type, naming the known versions of the same type.
func unknownType(typ string) error {
	base := typ
	if i := strings.LastIndex(typ, ".v"); i >= 0 && isVersion(typ[i+2:]) {
		base = typ[:i]
	}
	var known []string
	for t := range registered().types {
		if i := strings.LastIndex(t, ".v"); i >= 0 && t[:i] == base {
			known = append(known, t)
		}
	}
	if len(known) == 0 {
		return fmt.Errorf("%q is not a podium event type (built in or registered)", typ)
	}
	slices.Sort(known)
	return fmt.Errorf("%q: unknown version, known: %s", typ, strings.Join(known, ", "))
}

// parseObject parses a JSON object into its members.
func parseObject(value []byte) (map[string]json.RawMessage, error) {
	if members, ok := splitObject(value); ok {
		return members, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(value, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("a structured CloudEvent is a JSON object, got %s", te.Value)
		}
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("null is not a CloudEvent")
	}
	return raw, nil
}

// attrValue converts one raw attribute into a schema-checkable value.
func attrValue(v json.RawMessage) (any, error) {
	if len(v) == 0 {
		return nil, errors.New("empty value")
	}
	switch v[0] {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	case '{', '[':
		return jsonschema.UnmarshalJSON(bytes.NewReader(v))
	default: // a number: the outer parse validated its syntax
		return json.Number(v), nil
	}
}

func str(attrs map[string]any, name string) string {
	s, _ := attrs[name].(string)
	return s
}

// header returns the value of the first header named key (case-insensitively).
func header(hs []Header, key string) (string, bool) {
	for _, h := range hs {
		if strings.EqualFold(h.Key, key) {
			return string(h.Value), true
		}
	}
	return "", false
}

// binaryAttribute returns the attribute name of a ce_* header.
func binaryAttribute(key string) (string, bool) {
	if len(key) <= len(BinaryHeaderPrefix) || !strings.EqualFold(key[:len(BinaryHeaderPrefix)], BinaryHeaderPrefix) {
		return "", false
	}
	return strings.ToLower(key[len(BinaryHeaderPrefix):]), true
}

func hasBinaryAttributes(hs []Header) bool {
	for _, h := range hs {
		if name, ok := binaryAttribute(h.Key); ok && name == "specversion" {
			return true
		}
	}
	return false
}

// mediaType returns the lower-case media type of a content type, without parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

func isJSON(mt string) bool { return mt == ContentTypeJSON || strings.HasSuffix(mt, "+json") }
