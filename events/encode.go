package events

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendStructured appends s as encoding/json marshals it (the same members, order,
// omitempty rules and string escaping), without reflection: the data is appended as it is
// once validJSON accepted it. Every record podium
// writes goes through it, and json.Marshal spent more time compacting the data again than
// encoding everything else (8 % of the orchestrator's CPU for the timeline records alone).
func appendStructured(b []byte, s *structured) ([]byte, bool) {
	if len(s.Data) > 0 && !validJSON(s.Data) {
		return nil, false
	}
	b = append(b, `{"specversion":`...)
	b = appendJSONString(b, s.SpecVersion)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, s.Source)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, s.Type)
	for _, m := range [...]struct{ key, value string }{
		{`,"subject":`, s.Subject},
		{`,"time":`, s.Time},
		{`,"datacontenttype":`, s.DataContentType},
		{`,"dataschema":`, s.DataSchema},
		{`,"sagaid":`, s.SagaID},
		{`,"step":`, s.Step},
	} {
		if m.value != "" {
			b = appendJSONString(append(b, m.key...), m.value)
		}
	}
	if s.Attempt != 0 {
		b = strconv.AppendInt(append(b, `,"attempt":`...), int64(s.Attempt), 10)
	}
	for _, m := range [...]struct{ key, value string }{
		{`,"correlationid":`, s.CorrelationID},
		{`,"causationid":`, s.CausationID},
		{`,"idempotencykey":`, s.IdempotencyKey},
		{`,"outcome":`, s.Outcome},
		{`,"traceparent":`, s.TraceParent},
	} {
		if m.value != "" {
			b = appendJSONString(append(b, m.key...), m.value)
		}
	}
	if len(s.Data) > 0 {
		b = append(append(b, `,"data":`...), s.Data...)
	}
	return append(b, '}'), true
}

// validJSON reports whether b is one JSON value: the scanner of splitObject (3–4 times
// faster than json.Valid), and json.Valid for what it does not take (nesting deeper than
// maxDepth).
func validJSON(b []byte) bool {
	s := scanner{b: b}
	s.space()
	if s.value(0) {
		s.space()
		if s.i == len(s.b) {
			return true
		}
	}
	return json.Valid(b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does by default: ", \ and control
// characters escaped (\n, \r, \t, \b, \f by name), <, > and & as \u003c, \u003e, \u0026, U+2028
// and U+2029 as \u2028 and \u2029, and invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
