package api

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// TimelineLimit is how many entries the read model keeps of an order's timeline: the
// newest ones; older ones are counted (OrderDetail.HistoryDropped). It is the engine's
// default history cap, so a format-1 snapshot's history fits as it is.
const TimelineLimit = saga.DefaultHistoryLimit

// timeline.n counts at most TimelineLimit entries.
const _ = uint16(TimelineLimit)

// A timeline is one order's history entries, oldest first, in a compact binary encoding:
// ~10 bytes per entry instead of ~150 as structs with strings. Kinds, step names, command
// types and short reasons are numbers in the model's symbol table; command IDs that are
// the engine's deterministic ones (saga.CommandID) are a one-byte tag; times are varints
// relative to the first entry ever appended. data is never modified in place: every change
// allocates a new slice of the exact size, so a reader may decode a copy of the struct
// taken under the lock after releasing it.
//
// One entry is:
//
//	varint   time - base, in nanoseconds (zigzag)
//	field    kind
//	field    step
//	uvarint  attempt
//	uvarint  command ID tag: 0 none, 1 CommandID(order, step, do, attempt), 2 the same for undo,
//	         3 a UUID (16 bytes follow), 4+n a literal of n bytes (follow)
//	field    detail
//
// where a field is a uvarint v: odd, symbol v>>1; even, a literal of v>>1 bytes (follow).
type timeline struct {
	data []byte
	base int64 // Unix nanoseconds the entry times are relative to
	last int64 // Unix nanoseconds of the newest entry
	// version is the saga version of the last timeline record applied (or of the format-1
	// snapshot whose history was taken).
	version uint64
	// marks are the last records applied (see plan), oldest first: nmarks of them.
	marks  [timelineMarks]recordMark
	nmarks uint8
	// gen is the highest writer generation of the records applied (0: none said).
	gen int32
	// status is the saga status the last applied record reported (zero: none).
	status sym
	// milestone is the latest milestone an entry recorded (zero: none).
	milestone sym
	dropped   uint32 // older entries no longer held
	n         uint16 // entries in data, at most TimelineLimit
}

// timelineMarks is how many of its last records an order's timeline remembers, to replace
// what followed a version when a record from that version arrives (see plan). After a
// failover, the new owner redoes the records an ended owner wrote since the snapshot it
// restored: a handful of batches at most.
const timelineMarks = 6

// recordMark is one timeline record applied: its base version and version (0 for
// versions beyond 32 bits: not remembered), and how many entries the order had before it,
// dropped ones included.
type recordMark struct {
	base, version, start uint32
}

// total is the number of entries ever held, dropped ones included.
func (t *timeline) total() uint32 { return t.dropped + uint32(t.n) }

// plan decides what a timeline record with base version base (nil: a record of an older
// orchestrator) and version does, applied after the records before it in offset order:
//
//   - base at least the last version applied: appended (the next batch; a base above it
//     means records are missing, and the new one is taken as it is);
//   - the base and version of a record applied: a redelivery after a crash, skipped;
//   - a base below the last version applied, and a record applied from that base on or
//     right up to it: the record replaces the entries from there (cut, the number of
//     entries to keep, dropped ones included). After a failover, the new owner redoes the
//     saga from the snapshot it restored; what an ended owner wrote meanwhile for the same
//     versions is not the saga's history;
//   - otherwise (no base, or a base older than the records remembered): as before base
//     versions existed, applied only if its version is above the last one.
func (t *timeline) plan(base *uint64, version uint64, gen int32) (apply bool, cut int64) {
	if gen > 0 && gen < t.gen {
		return false, -1 // an ended owner's write that landed after its successor's
	}
	if base == nil || *base >= t.version {
		return version > t.version, -1
	}
	marks := t.marks[:t.nmarks]
	for _, mk := range marks {
		if uint64(mk.base) == *base && uint64(mk.version) == version && mk.version != 0 {
			return false, -1
		}
	}
	for i, mk := range marks {
		if mk.version == 0 {
			continue
		}
		switch {
		case uint64(mk.base) == *base:
			return true, int64(mk.start)
		case uint64(mk.version) == *base:
			if i+1 < len(marks) {
				return true, int64(marks[i+1].start)
			}
			return true, int64(t.total())
		}
	}
	return version > t.version, -1
}

// mark remembers a record applied: its base (nil: the last version before it), version,
// and the entry count before it.
func (t *timeline) mark(base *uint64, version uint64, start uint32) {
	b := t.version
	if base != nil {
		b = *base
	}
	mk := recordMark{start: start}
	if b <= math.MaxUint32 && version <= math.MaxUint32 {
		mk.base, mk.version = uint32(b), uint32(version)
	}
	if int(t.nmarks) == len(t.marks) {
		copy(t.marks[:], t.marks[1:])
		t.nmarks--
	}
	t.marks[t.nmarks] = mk
	t.nmarks++
}

// truncate keeps the first cut entries ever held (dropped ones included) and forgets the
// marks of the records after them; milestone and last are recomputed from what is kept.
func (t *timeline) truncate(cut int64, orderID string, syms *symbols) {
	keep := cut - int64(t.dropped)
	switch {
	case keep <= 0:
		t.data, t.n, t.dropped = nil, 0, uint32(max(cut, 0))
	case keep < int64(t.n):
		r := entryReader{b: t.data}
		for range keep {
			if r.skip() != nil {
				break
			}
		}
		t.data = slices.Clone(t.data[:len(t.data)-len(r.b)])
		t.n = uint16(keep)
	}
	n := 0
	for _, mk := range t.marks[:t.nmarks] {
		if int64(mk.start) < cut {
			t.marks[n] = mk
			n++
		}
	}
	t.nmarks = uint8(n)
	t.milestone, t.last = sym{}, 0
	for _, e := range t.entries(orderID, syms) {
		t.last = max(t.last, e.Time.UnixNano())
		if e.Kind == saga.HistoryMilestone {
			t.milestone = intern(e.Detail)
		}
	}
}

// Command ID tags of the encoding.
const (
	cmdNone = iota
	cmdDo
	cmdUndo
	cmdUUID
	cmdLiteral
)

// preEntry is a timeline entry ready to be encoded: its symbols looked up and its command
// ID classified, work done outside the read model's lock.
type preEntry struct {
	at                 int64
	kind, step, detail field
	attempt            uint64
	cmdTag             uint64
	cmdUUID            uuid.UUID
	cmdLit             string
}

// field is a symbol or a literal string.
type field struct {
	id  uint32
	sym bool
	lit string
}

func (f field) put(b []byte) []byte {
	if f.sym {
		return binary.AppendUvarint(b, uint64(f.id)<<1|1)
	}
	b = binary.AppendUvarint(b, uint64(len(f.lit))<<1)
	return append(b, f.lit...)
}

// encode appends e with times relative to base.
func (e *preEntry) encode(b []byte, base int64) []byte {
	b = binary.AppendVarint(b, e.at-base)
	b = e.kind.put(b)
	b = e.step.put(b)
	b = binary.AppendUvarint(b, e.attempt)
	switch e.cmdTag {
	case cmdUUID:
		b = binary.AppendUvarint(b, cmdUUID)
		b = append(b, e.cmdUUID[:]...)
	case cmdLiteral:
		b = binary.AppendUvarint(b, cmdLiteral+uint64(len(e.cmdLit)))
		b = append(b, e.cmdLit...)
	default:
		b = binary.AppendUvarint(b, e.cmdTag)
	}
	return e.detail.put(b)
}

// errCorrupt is returned by the entry reader on bytes it did not write; it cannot happen
// unless memory is corrupted, and then the rest of the timeline is not shown.
var errCorrupt = errors.New("corrupt timeline encoding")

// entryReader walks the entries of a timeline's data.
type entryReader struct {
	b    []byte
	syms []string // a snapshot of the symbol table
}

func (r *entryReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errCorrupt
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *entryReader) bytes(n uint64) (string, error) {
	if n > uint64(len(r.b)) {
		return "", errCorrupt
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s, nil
}

func (r *entryReader) field() (string, error) {
	v, err := r.uvarint()
	if err != nil {
		return "", err
	}
	if v&1 == 1 {
		if v>>1 >= uint64(len(r.syms)) {
			return "", errCorrupt
		}
		return r.syms[v>>1], nil
	}
	return r.bytes(v >> 1)
}

// next decodes one entry. orderID resolves derived command IDs.
func (r *entryReader) next(base int64, orderID string) (events.TimelineEntry, error) {
	var e events.TimelineEntry
	d, n := binary.Varint(r.b)
	if n <= 0 {
		return e, errCorrupt
	}
	r.b = r.b[n:]
	e.Time = time.Unix(0, base+d).UTC()
	var err error
	if e.Kind, err = r.field(); err != nil {
		return e, err
	}
	if e.Step, err = r.field(); err != nil {
		return e, err
	}
	attempt, err := r.uvarint()
	if err != nil {
		return e, err
	}
	e.Attempt = int(attempt)
	tag, err := r.uvarint()
	if err != nil {
		return e, err
	}
	switch {
	case tag == cmdNone:
	case tag == cmdDo || tag == cmdUndo:
		e.CommandID = saga.CommandID(orderID, e.Step, tag == cmdUndo, e.Attempt)
	case tag == cmdUUID:
		raw, err := r.bytes(16)
		if err != nil {
			return e, err
		}
		e.CommandID = uuid.UUID([]byte(raw)).String()
	default:
		if e.CommandID, err = r.bytes(tag - cmdLiteral); err != nil {
			return e, err
		}
	}
	e.Detail, err = r.field()
	return e, err
}

// skip advances past one entry without building it.
func (r *entryReader) skip() error {
	_, n := binary.Varint(r.b)
	if n <= 0 {
		return errCorrupt
	}
	r.b = r.b[n:]
	for range 2 {
		if err := r.skipField(); err != nil {
			return err
		}
	}
	if _, err := r.uvarint(); err != nil {
		return err
	}
	tag, err := r.uvarint()
	if err != nil {
		return err
	}
	switch {
	case tag == cmdUUID:
		_, err = r.bytes(16)
	case tag >= cmdLiteral:
		_, err = r.bytes(tag - cmdLiteral)
	}
	if err != nil {
		return err
	}
	return r.skipField()
}

func (r *entryReader) skipField() error {
	v, err := r.uvarint()
	if err != nil || v&1 == 1 {
		return err
	}
	_, err = r.bytes(v >> 1)
	return err
}

// entries decodes the whole timeline; on corrupt bytes it returns what it read.
func (t *timeline) entries(orderID string, syms *symbols) []events.TimelineEntry {
	out := make([]events.TimelineEntry, 0, t.n)
	r := entryReader{b: t.data, syms: syms.snapshot()}
	for len(r.b) > 0 {
		e, err := r.next(t.base, orderID)
		if err != nil {
			break
		}
		out = append(out, e)
	}
	return out
}

// add appends entries (oldest first), keeping at most limit: the oldest are dropped and
// counted.
func (t *timeline) add(pre []preEntry, limit int) {
	if len(pre) == 0 {
		return
	}
	if t.n == 0 { // no entry depends on the base: take the first new one's time
		t.base = pre[0].at
	}
	keep := t.data
	if drop := int(t.n) + len(pre) - limit; drop > 0 {
		fromOld := min(drop, int(t.n))
		r := entryReader{b: keep}
		for range fromOld {
			if r.skip() != nil {
				r.b = nil
				break
			}
		}
		keep = r.b
		t.n -= uint16(fromOld)
		t.dropped += uint32(drop)
		pre = pre[drop-fromOld:]
	}
	var fresh []byte
	for i := range pre {
		fresh = pre[i].encode(fresh, t.base)
		t.last = max(t.last, pre[i].at)
	}
	data := make([]byte, len(keep)+len(fresh))
	copy(data, keep)
	copy(data[len(keep):], fresh)
	t.data = data
	t.n += uint16(len(pre))
}

// replace sets the timeline to entries (a format-1 snapshot's history) of which dropped
// older ones are gone.
func (t *timeline) replace(pre []preEntry, dropped int, limit int) {
	t.data, t.n, t.dropped, t.last = nil, 0, uint32(min(max(dropped, 0), math.MaxUint32)), 0
	t.add(pre, limit)
}

// symbols interns the repeated strings of timeline entries — kinds, step names, command
// types, failure reasons — as small numbers. It is bounded: beyond maxSymbols strings, or
// for strings longer than maxSymbolLen, entries hold the string itself. Safe for concurrent
// use; symbols are never removed, so a snapshot of the table stays valid.
type symbols struct {
	mu   sync.RWMutex
	ids  map[string]uint32
	strs []string
}

// Bounds of the symbol table: at most ~1 MiB whatever the input.
const (
	maxSymbols   = 8192
	maxSymbolLen = 80
)

func newSymbols() *symbols { return &symbols{ids: make(map[string]uint32)} }

// field returns s as a symbol when it is in the table or may join it, else as a literal.
func (t *symbols) field(s string, intern bool) field {
	if s == "" {
		return field{}
	}
	t.mu.RLock()
	id, ok := t.ids[s]
	t.mu.RUnlock()
	if ok {
		return field{id: id, sym: true}
	}
	if !intern || len(s) > maxSymbolLen {
		return field{lit: s}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[s]; ok {
		return field{id: id, sym: true}
	}
	if len(t.strs) >= maxSymbols {
		return field{lit: s}
	}
	s = strings.Clone(s)
	id = uint32(len(t.strs))
	t.strs = append(t.strs, s)
	t.ids[s] = id
	return field{id: id, sym: true}
}

func (t *symbols) snapshot() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.strs
}

// internDetail reports whether a detail is worth a symbol: command types and milestone
// names always; otherwise short texts without digits (failure reasons, "duplicate:
// success"), as digits mostly mean a time or an ID that will not repeat.
func internDetail(kind, detail string) bool {
	switch kind {
	case saga.HistoryDispatched, saga.HistoryCompensationSent, saga.HistoryMilestone:
		return true
	}
	return !strings.ContainsAny(detail, "0123456789")
}

// prepare classifies entries for encoding (symbols, command ID tags); orderID is the
// order they belong to.
func (t *symbols) prepare(orderID string, in []timelineEntryJSON) []preEntry {
	out := make([]preEntry, len(in))
	for i := range in {
		e := &in[i]
		p := &out[i]
		p.at = e.Time.UnixNano()
		p.kind = t.field(e.Kind, true)
		p.step = t.field(e.Step, true)
		p.detail = t.field(e.Detail, internDetail(e.Kind, e.Detail))
		p.attempt = uint64(max(e.Attempt, 0))
		switch {
		case e.CommandID == "":
			p.cmdTag = cmdNone
		case e.Attempt > 0 && e.CommandID == saga.CommandID(orderID, e.Step, false, e.Attempt):
			p.cmdTag = cmdDo
		case e.Attempt > 0 && e.CommandID == saga.CommandID(orderID, e.Step, true, e.Attempt):
			p.cmdTag = cmdUndo
		default:
			if u, err := uuid.Parse(e.CommandID); err == nil && u.String() == e.CommandID {
				p.cmdTag, p.cmdUUID = cmdUUID, u
			} else {
				p.cmdTag, p.cmdLit = cmdLiteral, e.CommandID
			}
		}
	}
	return out
}

// timelineEntryJSON is one history entry as the orchestrator writes it, in a timeline
// record (events.TimelineEntry) and in a format-1 snapshot's history.
type timelineEntryJSON struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Step      string    `json:"step"`
	Attempt   int       `json:"attempt"`
	CommandID string    `json:"command_id"`
	Detail    string    `json:"detail"`
}

// Bounds of a timeline record, as schemas/saga.timeline.v1.json states them.
const (
	maxTimelineEntries = 1000
	maxKindLen         = 64
	maxStepLen         = 128
	maxCommandIDLen    = 256
	maxDetailLen       = 4096
	maxOrderIDLen      = 64
)

// Times outside these bounds cannot be held as Unix nanoseconds.
var (
	minEntryTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEntryTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkEntries reports the first entry that breaks the bounds of a timeline record.
func checkEntries(entries []timelineEntryJSON) error {
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Kind == "" || len(e.Kind) > maxKindLen:
			return fmt.Errorf("entry %d: kind of %d bytes, want 1..%d", i, len(e.Kind), maxKindLen)
		case len(e.Step) > maxStepLen:
			return fmt.Errorf("entry %d: step longer than %d bytes", i, maxStepLen)
		case len(e.CommandID) > maxCommandIDLen:
			return fmt.Errorf("entry %d: command ID longer than %d bytes", i, maxCommandIDLen)
		case len(e.Detail) > maxDetailLen:
			return fmt.Errorf("entry %d: detail longer than %d bytes", i, maxDetailLen)
		case e.Attempt < 0 || e.Attempt > 1<<20:
			return fmt.Errorf("entry %d: attempt %d out of range", i, e.Attempt)
		case e.Time.Before(minEntryTime) || !e.Time.Before(maxEntryTime):
			return fmt.Errorf("entry %d: time %s out of range", i, e.Time.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// timelineRecord is the data of a podium.saga.timeline.v1 record (events.SagaTimeline),
// decoded without the schema validator: the API reads every record of orders.events at
// start, and checks the bounds that matter to it (checkEntries) by hand.
type timelineRecord struct {
	SagaID      string              `json:"saga_id"`
	Definition  string              `json:"definition"`
	Version     uint64              `json:"version"`
	BaseVersion *uint64             `json:"base_version"`
	Generation  int32               `json:"generation"`
	Status      saga.Status         `json:"status"`
	Entries     []timelineEntryJSON `json:"entries"`
}

// errNotTimeline is returned by decodeTimeline for a record of another type (a lifecycle
// event): nothing for the read model.
var errNotTimeline = errors.New("not a timeline record")

// decodeTimeline reads a record of orders.events in structured mode (one CloudEvents JSON
// document) or binary mode (ce_* headers, the value is the data), and returns its data if
// it is a podium.saga.timeline.v1 record (errNotTimeline otherwise). key is the record's
// key, the order ID; when set it must match the data's saga_id.
func decodeTimeline(key, value []byte, headers []events.Header) (*timelineRecord, error) {
	if len(value) > events.MaxRecordSize {
		return nil, fmt.Errorf("value is %d bytes, limit %d", len(value), events.MaxRecordSize)
	}
	var (
		rec        timelineRecord
		typ        string
		binaryMode bool
	)
	for _, h := range headers {
		if strings.EqualFold(h.Key, events.BinaryHeaderPrefix+"type") {
			typ, binaryMode = string(h.Value), true
			break
		}
	}
	if binaryMode {
		if typ != events.TypeSagaTimeline {
			return nil, errNotTimeline
		}
		if err := json.Unmarshal(value, &rec); err != nil {
			return nil, fmt.Errorf("decoding %s data: %w", typ, err)
		}
	} else {
		// One pass over the document: the data of another type decodes into the timeline
		// fields harmlessly (or fails to), and is then ignored.
		var env struct {
			Type string         `json:"type"`
			Data timelineRecord `json:"data"`
		}
		err := json.Unmarshal(value, &env)
		typ, rec = env.Type, env.Data
		switch {
		case typ != "" && typ != events.TypeSagaTimeline:
			return nil, errNotTimeline
		case err != nil && typ == "":
			return nil, fmt.Errorf("decoding the envelope: %w", err)
		case err != nil:
			return nil, fmt.Errorf("decoding %s data: %w", typ, err)
		case typ == "":
			return nil, errors.New("the record has no CloudEvents type")
		}
	}
	switch {
	case rec.SagaID == "" || len(rec.SagaID) > maxOrderIDLen || !utf8.ValidString(rec.SagaID):
		return nil, fmt.Errorf("saga_id %q: want 1..%d characters", rec.SagaID, maxOrderIDLen)
	case len(key) > 0 && string(key) != rec.SagaID:
		return nil, fmt.Errorf("saga_id %q differs from the record key %q", rec.SagaID, key)
	case rec.Version == 0:
		return nil, errors.New("version 0: want at least 1")
	case rec.BaseVersion != nil && *rec.BaseVersion >= rec.Version:
		return nil, fmt.Errorf("base version %d: want below the version %d", *rec.BaseVersion, rec.Version)
	case len(rec.Entries) == 0 || len(rec.Entries) > maxTimelineEntries:
		return nil, fmt.Errorf("%d entries: want 1..%d", len(rec.Entries), maxTimelineEntries)
	case len(rec.Definition) > maxStepLen:
		return nil, fmt.Errorf("definition longer than %d bytes", maxStepLen)
	}
	switch rec.Status {
	case saga.StatusRunning, saga.StatusCompensating, saga.StatusCompleted, saga.StatusCompensated, saga.StatusFailed:
	default:
		return nil, fmt.Errorf("unknown saga status %q", rec.Status)
	}
	if err := checkEntries(rec.Entries); err != nil {
		return nil, err
	}
	return &rec, nil
}

// lastMilestone is the latest milestone entries record, "" if none.
func lastMilestone(entries []timelineEntryJSON) string {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Kind == saga.HistoryMilestone {
			return entries[i].Detail
		}
	}
	return ""
}

// rejection is a rejected operator request (podium.order.control-rejected.v1 or
// podium.saga.control-rejected.v1) as the read model uses it.
type rejection struct {
	events.ControlOutcome
	at time.Time
}

// sagaID is the saga the request was about.
func (r *rejection) sagaID() string {
	if r.SagaID != "" {
		return r.SagaID
	}
	return r.OrderID
}

// rejectedMarker is what the types of rejected operator requests have in common, to tell
// them from the other records of orders.events without decoding.
const rejectedMarker = "control-rejected.v"

func isRejectionType(t string) bool {
	return t == events.TypeOrderControlRejected || t == events.TypeSagaControlRejected
}

// decodeRejection reads a record of orders.events that is a rejected operator request
// (of an order or of a saga of any type) the saga's timeline does not record itself
// (events.ControlOutcome.Recorded unset).
func decodeRejection(key, value []byte, headers []events.Header) (rejection, bool) {
	if typ, ok := headerType(headers); ok {
		if !isRejectionType(typ) {
			return rejection{}, false
		}
	} else if !bytes.Contains(value, []byte(rejectedMarker)) {
		return rejection{}, false
	}
	env, err := events.Decode(events.Record{Topic: events.TopicOrdersEvents, Key: key, Value: value, Headers: headers})
	if err != nil || !isRejectionType(env.Type) {
		return rejection{}, false
	}
	var r rejection
	if env.DecodeData(&r.ControlOutcome) != nil || r.Recorded || r.sagaID() == "" {
		return rejection{}, false
	}
	r.at = env.Time
	if r.at.Before(minEntryTime) || !r.at.Before(maxEntryTime) {
		return rejection{}, false
	}
	return r, true
}

// headerType is the CloudEvents type of a binary-mode record (ok false: not binary mode).
func headerType(headers []events.Header) (string, bool) {
	for _, h := range headers {
		if strings.EqualFold(h.Key, events.BinaryHeaderPrefix+"type") {
			return string(h.Value), true
		}
	}
	return "", false
}

// applyRejection adds a rejected operator request to the timeline of a saga the model
// holds, as a "rejected" entry (the engine's kind for the rejections it records itself).
// The version is unchanged; a repeated event (a redo) is added once.
func (m *ReadModel) applyRejection(r rejection) Change {
	id := r.sagaID()
	detail := r.Action + ": " + r.Message + " (" + r.Reason + ", request " + r.RequestID + ")"
	if r.Message == "" {
		detail = r.Action + ": " + r.Reason + " (request " + r.RequestID + ")"
	}
	pre := m.syms.prepare(id, []timelineEntryJSON{{Time: r.at, Kind: saga.HistoryRejected, Detail: detail}})

	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.orders[id]
	if e == nil {
		return Change{SagaID: id, Other: true}
	}
	if tl := e.tl.entries(id, m.syms); len(tl) > 0 && tl[len(tl)-1].Kind == saga.HistoryRejected && tl[len(tl)-1].Detail == detail {
		return e.unchanged()
	}
	return m.change(id, e, func(e *entry) {
		e.tl.add(pre, TimelineLimit)
	})
}
