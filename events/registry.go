package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/podiumhq/podium/schemas"
)

// Kind is the kind of a CloudEvents type known to the codec.
type Kind int

// Kinds of a type.
const (
	// KindEvent is every type that is neither a command nor a reply: start events,
	// control requests, lifecycle events.
	KindEvent Kind = iota + 1
	// KindCommand is a command sent on <worker>.commands. Its envelope needs the
	// attributes sagaid, step, idempotencykey and attempt; its reply type is
	// [ReplyType](type).
	KindCommand
	// KindReply is the reply to a command (data [Reply]); registered with its command,
	// never on its own.
	KindReply
)

// String returns "event", "command", "reply" or "Kind(n)".
func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindCommand:
		return "command"
	case KindReply:
		return "reply"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// TypeSpec describes one CloudEvents type to the codec, for [Register].
type TypeSpec struct {
	// Type is the CloudEvents type, e.g. "trip.flight.book.v1": dot-separated lower-case
	// words of [a-z0-9] and inner hyphens, ending in a version .v<N> (N >= 1), at most 250
	// characters. The prefix "podium." is reserved for podium's own types, and a name
	// ending in .reply.v<N> for replies.
	Type string
	// Kind is KindEvent (start events, anything else) or KindCommand (its reply type
	// ReplyType(Type), data events.Reply, is registered with it).
	Kind Kind
	// Worker is, for KindCommand, the worker that accepts it (required; it reads
	// Worker + ".commands", so a Kafka topic name: [a-zA-Z0-9._-], at most 200
	// characters). Empty for KindEvent.
	Worker string
	// Schema is the JSON Schema (draft 2020-12 unless it says otherwise) of the data;
	// required. It is compiled at Register by the compiler of [schemas.Compiler], which
	// asserts formats, knows podium's embedded schemas and loads nothing else: it may $ref
	// itself and podium's schemas, by absolute URL ([schemas.URL]("defs.v1")) or, when it
	// has no $id, relative ("defs.v1.json#/$defs/order_id"). Its $id, if any, must be an
	// absolute URI: it becomes the dataschema attribute that NewEvent sets.
	Schema []byte
	// SubjectField, when set, names a top-level string member of the data that must equal
	// the envelope's subject (the saga ID), like order_id for OrderPlaced. Optional.
	SubjectField string
	// New returns a new zero payload (a pointer) that Decode fills to check that
	// schema-valid data also decodes into it (integers without fraction, in range). nil:
	// no such check; Envelope.Data is the validated JSON either way.
	New func() any
	// ResultSchema, for KindCommand, is the JSON Schema of the result that a successful
	// reply carries (Reply.Result, the handler's workers.Success value), compiled like
	// Schema. Optional: without it any JSON object is accepted. A reply whose result does
	// not match fails Decode (the orchestrator dead-letters it, so the step times out and
	// is retried); the worker runtime checks the result before it replies (see
	// ValidateResult) and answers a retryable error instead.
	ResultSchema []byte
}

// ErrDuplicateType is returned (wrapped) by [Register] for a type that is already known,
// built in or registered, or given twice.
var ErrDuplicateType = errors.New("type already registered")

// Register adds types to the codec, for every process of this binary: Decode accepts them
// from then on, NewEvent sets their dataschema, and [CommandTypes] lists the commands. A
// KindCommand type brings its reply type. The types are registered all or none: Register
// returns an error, wrapping [ErrDuplicateType] for a known type, if any spec is invalid:
// a bad or unversioned type name, a reserved one, a duplicate (of a built-in type too, or
// of another spec's reply type), a KindCommand without Worker, a missing schema or one that
// does not compile.
//
// Register is meant for program start (init or main), like gob.Register; it is safe for
// concurrent use with itself and with the codec, which sees either none or all of one
// call's types. Types cannot be unregistered.
func Register(specs ...TypeSpec) error {
	if len(specs) == 0 {
		return nil
	}
	// Compile outside the lock: it is the slow part.
	built := make(map[string]typeSpec, 2*len(specs))
	var errs []error
	for _, s := range specs {
		if _, known := lookup(s.Type); known { // also checked under the lock, below
			errs = append(errs, fmt.Errorf("registering type %q: %w", s.Type, ErrDuplicateType))
			continue
		}
		ts, err := buildSpec(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("registering type %q: %w", s.Type, err))
			continue
		}
		names := []string{s.Type}
		if s.Kind == KindCommand {
			names = append(names, ReplyType(s.Type))
		}
		for _, n := range names {
			if _, dup := built[n]; dup {
				errs = append(errs, fmt.Errorf("registering type %q: %s: %w", s.Type, n, ErrDuplicateType))
			}
		}
		built[s.Type] = ts
		if s.Kind == KindCommand {
			rs := typeSpec{kind: KindReply, schema: replySchema, worker: s.Worker, payload: payload[Reply]()}
			if len(s.ResultSchema) > 0 {
				sch, _, err := compileSchema(s.Type+".result", s.ResultSchema)
				if err != nil {
					errs = append(errs, fmt.Errorf("registering type %q: result schema: %w", s.Type, err))
					continue
				}
				rs.result = sch
			}
			built[ReplyType(s.Type)] = rs
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	registerMu.Lock()
	defer registerMu.Unlock()
	old := registered()
	for n := range built {
		if _, dup := old.types[n]; dup {
			errs = append(errs, fmt.Errorf("registering type %q: %w", n, ErrDuplicateType))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	next := &registry{
		types: make(map[string]typeSpec, len(old.types)+len(built)),
		urls:  make(map[string]struct{}, len(old.urls)+len(built)),
	}
	for n, s := range old.types {
		next.types[n] = s
	}
	for u := range old.urls {
		next.urls[u] = struct{}{}
	}
	for n, s := range built {
		next.types[n] = s
		if s.url != "" {
			next.urls[s.url] = struct{}{}
		}
	}
	current.Store(next)
	return nil
}

// MustRegister is [Register] that panics on an error, for package init.
func MustRegister(specs ...TypeSpec) {
	if err := Register(specs...); err != nil {
		panic(err)
	}
}

// typeNamePattern is the envelope schema's type pattern, which the fast path relies on
// (schemas/envelope.v1.json).
var typeNamePattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*\.v[1-9][0-9]*$`)

// workerPattern is what a worker name may be: <worker>.commands is a Kafka topic.
var workerPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,200}$`)

// maxRegisteredType leaves room for ".reply" within the envelope's 256 characters.
const maxRegisteredType = 250

// buildSpec checks one spec and compiles its schema.
func buildSpec(s TypeSpec) (typeSpec, error) {
	switch {
	case s.Type == "":
		return typeSpec{}, errors.New("type name is empty")
	case len(s.Type) > maxRegisteredType:
		return typeSpec{}, fmt.Errorf("type name is %d characters, limit %d", len(s.Type), maxRegisteredType)
	case !typeNamePattern.MatchString(s.Type):
		return typeSpec{}, fmt.Errorf("type name does not match %s (lower-case dotted words ending in a version .v<N>)", typeNamePattern)
	case strings.HasPrefix(s.Type, "podium."):
		return typeSpec{}, errors.New(`type name prefix "podium." is reserved for podium's own types`)
	case isReplyType(s.Type):
		return typeSpec{}, errors.New("type name ends in .reply.v<N>, reserved for replies: register the command")
	}
	switch s.Kind {
	case KindEvent:
		if s.Worker != "" {
			return typeSpec{}, errors.New("worker is set on an event: only commands have one")
		}
	case KindCommand:
		if s.Worker == "" {
			return typeSpec{}, errors.New("command without worker")
		}
		if !workerPattern.MatchString(s.Worker) {
			return typeSpec{}, fmt.Errorf("worker %q does not match %s", s.Worker, workerPattern)
		}
	default:
		return typeSpec{}, fmt.Errorf("kind %v: want KindEvent or KindCommand", s.Kind)
	}
	if len(s.Schema) == 0 {
		return typeSpec{}, errors.New("schema is missing")
	}
	sch, url, err := compileSchema(s.Type, s.Schema)
	if err != nil {
		return typeSpec{}, err
	}
	// The envelope schema accepts the names and the dataschema URL, so that the fast path,
	// which takes known types and URLs on trust, agrees with it.
	probe := map[string]any{"specversion": SpecVersion, "id": "x", "source": "x", "type": s.Type, "subject": "x", "data": true}
	if url != "" {
		probe["dataschema"] = url
	}
	if err := schemas.Validate(schemas.Envelope, probe); err != nil {
		return typeSpec{}, fmt.Errorf("checking the name against the envelope schema: %w", err)
	}
	return typeSpec{kind: s.Kind, compiled: sch, url: url, worker: s.Worker, subject: s.SubjectField, payload: s.New}, nil
}

// compileSchema compiles a registered type's schema; url is its $id ("" without one).
func compileSchema(typ string, raw []byte) (*jsonschema.Schema, string, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, "", fmt.Errorf("parsing schema: %w", err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, "", errors.New("schema is not a JSON object")
	}
	loc := schemas.BaseURL + "registered." + typ + ".json" // no embedded schema has this name
	var url string
	if id, ok := m["$id"]; ok {
		s, ok := id.(string)
		if !ok || !isAbsoluteURI(s) {
			return nil, "", fmt.Errorf("schema $id %v: want an absolute URI", id)
		}
		if strings.HasPrefix(s, schemas.BaseURL) {
			return nil, "", fmt.Errorf("schema $id %s: the prefix %s is podium's", s, schemas.BaseURL)
		}
		url, loc = strings.TrimSuffix(s, "#"), strings.TrimSuffix(s, "#")
	}
	c := schemas.Compiler()
	if err := c.AddResource(loc, doc); err != nil {
		return nil, "", fmt.Errorf("adding schema: %w", err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, "", fmt.Errorf("compiling schema: %w", err)
	}
	return sch, url, nil
}

// isAbsoluteURI reports whether s looks like an absolute URI without spaces (the envelope
// schema's format check decides the rest).
func isAbsoluteURI(s string) bool {
	i := strings.Index(s, ":")
	if i < 1 || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	for j, c := range s[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// typeSpec is what the codec knows about one type.
type typeSpec struct {
	kind     Kind
	schema   string             // built-in types: the name of the data's schema in package schemas
	compiled *jsonschema.Schema // registered types: the data's compiled schema
	url      string             // registered types: the schema's $id ("" without one)
	worker   string             // commands and replies: the worker that accepts the command
	subject  string             // the data member that equals the subject ("" none)
	payload  func() any         // a new zero payload for typed decoding; nil: none
	result   *jsonschema.Schema // replies of registered commands: the result's schema; nil: any
}

// checkResult validates a reply's result against the reply type's result schema.
func (s typeSpec) checkResult(typ string, result json.RawMessage) []problem {
	if s.result == nil || len(result) == 0 {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(result))
	if err != nil {
		return []problem{{dataField("/result"), RuleMalformedJSON, err}}
	}
	err = s.result.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []problem{{dataField("/result"), schemaRule("result"), err}}
	}
	return schemaProblems(&schemas.Error{Schema: typ + " result", Violations: schemas.Violations(ve)},
		func(ptr string) string { return dataField("/result" + ptr) })
}

// ValidateResult checks the result of a successful reply to a command of type commandType
// against the command's registered ResultSchema: nil when it matches, when the command has
// none, or when commandType is unknown; otherwise a *DecodeError naming the result's
// member that breaks which rule.
func ValidateResult(commandType string, result json.RawMessage) error {
	spec, ok := lookup(ReplyType(commandType))
	if !ok {
		return nil
	}
	if problems := spec.checkResult(ReplyType(commandType), result); len(problems) > 0 {
		return &DecodeError{Field: problems[0].field, Rule: problems[0].rule, Err: problems[0].err}
	}
	return nil
}

// dataSchemaURL is the dataschema attribute of the type's events ("" none).
func (s typeSpec) dataSchemaURL() string {
	if s.schema != "" {
		return schemas.URL(s.schema)
	}
	return s.url
}

// validate checks a decoded JSON document against the type's schema: nil, a
// *schemas.Error, or another error.
func (s typeSpec) validate(typ string, doc any) error {
	if s.compiled == nil {
		return schemas.Validate(s.schema, doc)
	}
	err := s.compiled.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validating %s data: %w", typ, err)
	}
	return &schemas.Error{Schema: typ, Violations: schemas.Violations(ve)}
}

// registry is one immutable generation of the known types.
type registry struct {
	types map[string]typeSpec
	urls  map[string]struct{} // the schema URLs of registered types (fast path)
}

var (
	// current is the registry in force: copy on write, so that the decode path reads it
	// with one atomic load and no lock.
	current atomic.Pointer[registry]
	// registerMu serialises writers.
	registerMu sync.Mutex
)

func init() {
	r := &registry{
		types: make(map[string]typeSpec, len(builtinEvents)+2*len(builtinCommands)),
		urls:  map[string]struct{}{},
	}
	for t, s := range builtinEvents {
		s.kind = KindEvent
		r.types[t] = s
	}
	for t, s := range builtinCommands {
		s.kind = KindCommand
		r.types[t] = s
		r.types[ReplyType(t)] = typeSpec{kind: KindReply, schema: replySchema, worker: s.worker, payload: payload[Reply]()}
	}
	current.Store(r)
}

// registered returns the registry in force.
func registered() *registry { return current.Load() }

// lookup returns what the codec knows about typ.
func lookup(typ string) (typeSpec, bool) {
	s, ok := registered().types[typ]
	return s, ok
}

// subjectOf returns the string member field of a decoded JSON object.
func subjectOf(doc any, field string) (string, bool) {
	m, ok := doc.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m[field].(string)
	return s, ok
}
