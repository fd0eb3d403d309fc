// Package schemas holds podium's JSON Schemas (draft 2020-12): one for the CloudEvents
// envelope (envelope.v1) and one for the data of every built-in event type (order.placed.v1
// and return.requested.v1, each command, the generic reply.v1, order.control.v1,
// order.control-outcome.v1, order.lifecycle.v1, the generic saga.control.v1,
// saga.control-outcome.v1, saga.lifecycle.v1 and saga.timeline.v1), with shared building
// blocks in defs.v1. The files are embedded into the binary and are the wire contract:
// package events enforces them on every record it decodes. The schemas of the types other
// programs register with events.Register are compiled by [Compiler] and may $ref these.
//
// A schema is named by its file name without ".json" and identified by [URL]. Breaking
// changes are new files (order.placed.v2.json) next to the old ones, never edits.
//
// Besides the standard formats, which are asserted (email, date-time, uri, ...), the
// compiler asserts two podium formats: [FormatCurrency] (ISO 4217) and [FormatCountry]
// (ISO 3166-1 alpha-2), checked against static code lists in this package.
//
// Concurrency: the schemas are compiled once, on first use; every function is safe for
// concurrent use.
package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	msgs "golang.org/x/text/message"
)

//go:embed *.json
var files embed.FS

// BaseURL is the base of every schema's $id. The URLs identify; they are never fetched.
const BaseURL = "https://github.com/podiumhq/podium/schemas/"

// Envelope is the name of the CloudEvents envelope schema.
const Envelope = "envelope.v1"

// ErrUnknownSchema is returned (wrapped) for a schema name that is not embedded.
var ErrUnknownSchema = errors.New("unknown schema")

// FS returns the embedded schema files (*.json, at the root).
func FS() fs.FS { return files }

// Names returns the names of every embedded schema, sorted.
func Names() []string {
	entries, err := files.ReadDir(".")
	if err != nil { // impossible for an embed.FS root
		panic(fmt.Sprintf("reading embedded schemas: %v", err))
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}

// URL returns the $id of the named schema: BaseURL + name + ".json".
func URL(name string) string { return BaseURL + name + ".json" }

// Compiler returns a new compiler that knows every embedded schema (by [URL]), defaults to
// draft 2020-12, asserts formats including [FormatCurrency] and [FormatCountry], and loads
// nothing from the network or the file system. Use it to compile schemas of your own that
// $ref podium's; for podium's own schemas use [Schema] or [Validate], which compile once.
//
// It panics if an embedded file is not JSON, a build defect that the package tests catch.
func Compiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(currencyFormat)
	c.RegisterFormat(countryFormat)
	c.UseLoader(noLoader{})
	for _, name := range Names() {
		f, err := files.Open(name + ".json")
		if err != nil {
			panic(fmt.Sprintf("opening embedded schema %s: %v", name, err))
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			panic(fmt.Sprintf("parsing embedded schema %s: %v", name, err))
		}
		if err := c.AddResource(URL(name), doc); err != nil {
			panic(fmt.Sprintf("adding embedded schema %s: %v", name, err))
		}
	}
	return c
}

// noLoader refuses every URL that is not an embedded schema.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("loading %s: only embedded schemas are available", url)
}

var compiled struct {
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	err     error
}

func compileAll() {
	c := Compiler()
	compiled.schemas = make(map[string]*jsonschema.Schema)
	var errs []error
	for _, name := range Names() {
		sch, err := c.Compile(URL(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("compiling schema %s: %w", name, err))
			continue
		}
		compiled.schemas[name] = sch
	}
	compiled.err = errors.Join(errs...)
}

// Compile compiles every embedded schema now rather than on the first Schema or Validate
// call (about 5 ms of CPU): a process that validates calls it at start, so that its first
// record does not wait for it. It returns the compile errors, if any, every time.
func Compile() error {
	compiled.once.Do(compileAll)
	return compiled.err
}

// Schema returns the compiled schema of that name (e.g. "order.placed.v1"). Every schema is
// compiled on the first call; the result is shared and safe for concurrent use.
func Schema(name string) (*jsonschema.Schema, error) {
	compiled.once.Do(compileAll)
	if sch, ok := compiled.schemas[name]; ok {
		return sch, nil
	}
	if compiled.err != nil {
		return nil, compiled.err
	}
	return nil, fmt.Errorf("schema %q: %w", name, ErrUnknownSchema)
}

// Validate checks doc against the named schema. doc is a decoded JSON value as produced by
// [jsonschema.UnmarshalJSON] or encoding/json with UseNumber (map[string]any, []any,
// json.Number, string, bool, nil); a []byte or json.RawMessage is parsed first, as by
// [ValidateJSON]. It returns nil, an *[Error] listing every violation, or another error
// (unknown schema, malformed JSON).
func Validate(name string, doc any) error {
	if b, ok := doc.([]byte); ok {
		return ValidateJSON(name, b)
	}
	if b, ok := doc.(interface{ MarshalJSON() ([]byte, error) }); ok {
		raw, err := b.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encoding document: %w", err)
		}
		return ValidateJSON(name, raw)
	}
	sch, err := Schema(name)
	if err != nil {
		return err
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validating against %s: %w", name, err)
	}
	return &Error{Schema: name, Violations: Violations(ve)}
}

// ValidateJSON parses data (one JSON document, numbers kept exact) and checks it against
// the named schema, like [Validate].
func ValidateJSON(name string, data []byte) error {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("parsing JSON: %w", err)
	}
	return Validate(name, doc)
}

// Violation is one failed rule at one place in a document.
type Violation struct {
	// Field is the JSON pointer of the failing value in the validated document
	// ("/items/3/quantity"); "" is the document itself. For a missing property it points
	// at the property ("/customer/email").
	Field string
	// Rule is the failed keyword: "required", "type", "minimum", "maxItems", "pattern",
	// "format", "enum", "const", ...
	Rule string
	// Message says what was wrong in words: "got -1, want 1", "not an ISO 4217 currency code".
	Message string
}

func (v Violation) String() string {
	field := v.Field
	if field == "" {
		field = "(document)"
	}
	return field + ": " + v.Rule + ": " + v.Message
}

// Error is the error of [Validate] for a document that does not match its schema.
type Error struct {
	Schema     string      // the schema name
	Violations []Violation // at least one, sorted by Field then Rule
}

func (e *Error) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: ", e.Schema)
	for i, v := range e.Violations {
		if i > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString(v.String())
	}
	return sb.String()
}

var printer = msgs.NewPrinter(language.English)

// Violations flattens a validation error of the jsonschema library into its leaf
// violations, sorted by Field then Rule, without duplicates.
func Violations(ve *jsonschema.ValidationError) []Violation {
	var out []Violation
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		field := pointer(e.InstanceLocation)
		if req, ok := e.ErrorKind.(*kind.Required); ok {
			for _, m := range req.Missing {
				out = append(out, Violation{Field: field + "/" + escape(m), Rule: "required", Message: "missing"})
			}
			return
		}
		rule := path.Join(e.ErrorKind.KeywordPath()...)
		msg := message(e.ErrorKind)
		if rule == "" {
			rule = "schema"
		}
		out = append(out, Violation{Field: field, Rule: rule, Message: msg})
	}
	walk(ve)
	slices.SortFunc(out, func(a, b Violation) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return slices.Compact(out)
}

// message words the common kinds as "must be ..., got ..."; others keep the library's text.
func message(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Minimum:
		return fmt.Sprintf("must be >= %s, got %s", k.Want.RatString(), k.Got.RatString())
	case *kind.Maximum:
		return fmt.Sprintf("must be <= %s, got %s", k.Want.RatString(), k.Got.RatString())
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters, got %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, got %d", k.Want, k.Got)
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Format:
		if k.Err != nil {
			if s, ok := k.Got.(string); ok {
				return fmt.Sprintf("%q: %v", truncate(s), k.Err)
			}
			return k.Err.Error()
		}
	case *kind.Pattern:
		return fmt.Sprintf("%q does not match %s", truncate(k.Got), k.Want)
	}
	msg := k.LocalizedString(printer)
	return strings.TrimPrefix(msg, path.Join(k.KeywordPath()...)+": ")
}

// truncate shortens a value quoted in a message (oversized strings stay readable).
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escape(t))
	}
	return sb.String()
}

func escape(token string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
}
