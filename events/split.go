package events

import (
	"bytes"
	"encoding/json"
)

// splitObject is the fast way of parseObject: it splits a JSON object into its members
// with a hand-written scanner instead of encoding/json, which scans a record twice and
// costs more than a tenth of an orchestrator's or worker's CPU. It accepts only what
// encoding/json accepts and then returns the same members (the last of duplicate keys
// winning), their values copied: all into one copy of doc, each capped at its end. ok is
// false for anything else — invalid JSON, a key with an escape or a non-ASCII byte, a value
// that is not an object — and the caller asks encoding/json, which also produces the errors.
func splitObject(doc []byte) (members map[string]json.RawMessage, ok bool) {
	s := scanner{b: doc}
	var values []byte // one copy of doc, made at the first member
	s.space()
	if !s.next('{') {
		return nil, false
	}
	members = make(map[string]json.RawMessage, 16)
	s.space()
	if s.next('}') {
		s.space()
		return members, s.i == len(s.b)
	}
	for {
		s.space()
		start := s.i
		if !s.string() {
			return nil, false
		}
		key := s.b[start+1 : s.i-1]
		for _, c := range key {
			if c == '\\' || c >= 0x80 {
				return nil, false
			}
		}
		s.space()
		if !s.next(':') {
			return nil, false
		}
		s.space()
		vstart := s.i
		if !s.value(0) {
			return nil, false
		}
		if values == nil {
			values = bytes.Clone(doc)
		}
		members[string(key)] = values[vstart:s.i:s.i]
		s.space()
		if s.next(',') {
			continue
		}
		if !s.next('}') {
			return nil, false
		}
		s.space()
		return members, s.i == len(s.b)
	}
}

// maxDepth bounds nesting well below encoding/json's limit (10000 levels); deeper documents
// go the general way.
const maxDepth = 1000

// scanner validates JSON (RFC 8259, as encoding/json's checkValid) from b[i:].
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) next(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.string()
	case c == '{':
		s.i++
		s.space()
		if s.next('}') {
			return true
		}
		for {
			s.space()
			if !s.string() {
				return false
			}
			s.space()
			if !s.next(':') {
				return false
			}
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.next(',') {
				continue
			}
			return s.next('}')
		}
	case c == '[':
		s.i++
		s.space()
		if s.next(']') {
			return true
		}
		for {
			s.space()
			if !s.value(depth + 1) {
				return false
			}
			s.space()
			if s.next(',') {
				continue
			}
			return s.next(']')
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// string scans a string starting at its opening quote.
func (s *scanner) string() bool {
	if !s.next('"') {
		return false
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 {
					return false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				s.i += 5
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.next('-')
	switch {
	case s.next('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.next('.') {
		if !s.digits() {
			return false
		}
	}
	if s.next('e') || s.next('E') {
		if !s.next('+') {
			s.next('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits scans one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
