package workers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
)

// replyOutcomes are the outcomes a stored reply may have, indexed by storedReply.outcome.
var replyOutcomes = [...]string{events.OutcomeSuccess, events.OutcomeFailure, events.OutcomeError}

// storedReply is what the processed store keeps of a reply sent for an idempotency key: the
// answer, which is all that re-sending it needs. The rest of a re-sent reply (id, time,
// subject, sagaid, step, attempt, correlationid, causationid, traceparent) comes from the
// repeated command, and its source is the worker's. 32 bytes plus the data.
type storedReply struct {
	data    string // the reply's data as sent: {"reason", "message", "result"} JSON
	at      int64  // when the reply was stored, Unix nanoseconds
	typ     uint16 // the reply's type, an index into processedStore.types
	outcome uint8  // an index into replyOutcomes
}

// replyType is a reply type and the URL of its schema (the dataschema of its replies).
type replyType struct{ name, schema string }

// queuedKey is a key of the expiry queue and the stored-at time of the reply it was queued
// for: when the key has been stored again since, the reply in the store has another time and
// the queued entry is stale.
type queuedKey struct {
	at  int64
	key string
}

// expiryQueue is a FIFO of stored keys, the oldest first. Replies are stored in time order,
// so expiring is popping from the front until the front is within the window: no scan of the
// store. Its backing array is at most about twice the number of keys queued.
type expiryQueue struct {
	items []queuedKey
	head  int // items[:head] were popped
}

// queueCompactAt is the number of popped entries from which the queue moves its live
// entries to the front of its array, once they are at most half of it.
const queueCompactAt = 1024

func (q *expiryQueue) push(at int64, key string) { q.items = append(q.items, queuedKey{at, key}) }

func (q *expiryQueue) len() int { return len(q.items) - q.head }

func (q *expiryQueue) front() queuedKey { return q.items[q.head] }

func (q *expiryQueue) pop() {
	q.items[q.head] = queuedKey{} // let the key go
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= queueCompactAt && 2*q.head >= len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
}

// processedStore is the processed store of one partition: the replies stored for
// idempotency keys within the retention window, compacted to storedReply, and the
// tombstones owed to "<worker>.processed" for the keys that left the window. Changes are
// staged by the batch in hand and take effect once its write succeeds (written) or are
// dropped when it fails (unwritten). Not safe for concurrent use.
type processedStore struct {
	retention time.Duration
	replies   map[string]storedReply
	queue     expiryQueue // every key of replies, by stored-at time; may hold stale entries
	types     []replyType
	typeIndex map[string]uint16

	// pending holds the replies stored by the batch in hand, in order; pendingIndex maps
	// their keys to their positions.
	pending      []pendingReply
	pendingIndex map[string]int
	// owed holds the keys that left the window (or were found expired on restore) whose
	// processed record is not tombstoned yet. nil when empty, so a large set (the first
	// restore of a topic that was never tombstoned) releases its memory once written.
	owed map[string]struct{}
	// writing holds the owed keys whose tombstones the write in hand carries.
	writing []string
	// cancelled holds the owed keys that the batch in hand stores again: the new processed
	// record replaces the tombstone, and the key is owed again if the batch is not written.
	cancelled []string
}

// pendingReply is a reply stored by the batch in hand.
type pendingReply struct {
	key   string
	reply storedReply
}

func newProcessedStore(retention time.Duration) *processedStore {
	return &processedStore{
		retention:    retention,
		replies:      map[string]storedReply{},
		typeIndex:    map[string]uint16{},
		pendingIndex: map[string]int{},
	}
}

// len is the number of keys held (the batch in hand's not counted).
func (s *processedStore) len() int { return len(s.replies) }

// owes reports whether tombstones are waiting to be written.
func (s *processedStore) owes() bool { return len(s.owed) > 0 }

// lookup finds the reply stored for key, by the batch in hand or before.
func (s *processedStore) lookup(key string) (storedReply, bool) {
	if i, ok := s.pendingIndex[key]; ok {
		return s.pending[i].reply, true
	}
	r, ok := s.replies[key]
	return r, ok
}

// stage stores r for key as part of the batch in hand.
func (s *processedStore) stage(key string, r storedReply) {
	if i, ok := s.pendingIndex[key]; ok {
		s.pending[i].reply = r
		return
	}
	s.pendingIndex[key] = len(s.pending)
	s.pending = append(s.pending, pendingReply{key, r})
	if _, ok := s.owed[key]; ok {
		delete(s.owed, key)
		s.cancelled = append(s.cancelled, key)
	}
}

// expire forgets the replies stored retention or longer before now, owes a tombstone for
// each, and returns how many it forgot.
func (s *processedStore) expire(now time.Time) int {
	cutoff := now.Add(-s.retention).UnixNano()
	n := 0
	for s.queue.len() > 0 && s.queue.front().at <= cutoff {
		q := s.queue.front()
		s.queue.pop()
		if r, ok := s.replies[q.key]; ok && r.at == q.at {
			delete(s.replies, q.key)
			s.owe(q.key)
			n++
		}
	}
	return n
}

func (s *processedStore) owe(key string) {
	if s.owed == nil {
		s.owed = map[string]struct{}{}
	}
	s.owed[key] = struct{}{}
}

// tombstones picks up to limit owed keys for the write in hand and returns them.
func (s *processedStore) tombstones(limit int) []string {
	s.writing = s.writing[:0]
	for k := range s.owed {
		if len(s.writing) >= limit {
			break
		}
		s.writing = append(s.writing, k)
	}
	return s.writing
}

// written makes the batch in hand part of the store: its replies join it, and the owed keys
// whose tombstones it carried are settled. It returns the number of replies added.
func (s *processedStore) written() int {
	for _, k := range s.writing {
		delete(s.owed, k)
	}
	if len(s.owed) == 0 {
		s.owed = nil
	}
	for _, p := range s.pending {
		s.replies[p.key] = p.reply
		s.queue.push(p.reply.at, p.key)
	}
	n := len(s.pending)
	s.reset()
	return n
}

// unwritten drops the batch in hand: its replies are forgotten (it will be handled again),
// and its tombstones stay owed.
func (s *processedStore) unwritten() {
	for _, k := range s.cancelled {
		s.owe(k)
	}
	s.reset()
}

func (s *processedStore) reset() {
	clear(s.pending)
	s.pending = s.pending[:0]
	clear(s.pendingIndex)
	clear(s.writing)
	s.writing = s.writing[:0]
	s.cancelled = s.cancelled[:0]
}

// processedFormat is the format of the processed records this runtime writes, the "v" of
// their value. Format 1, written by earlier versions, is the reply's structured CloudEvent,
// with no "v"; restore reads both.
const processedFormat = 2

// processedValue is the value of a processed record in format 2: what the store needs to
// re-send the reply and expire its key, and nothing else. One JSON document without headers,
// readable with kcat:
//
//	{"v":2,"type":"podium.inventory.reserve.reply.v1","outcome":"success","at":"2025-03-01T12:00:00.123Z","data":{"result":{"reservation_id":"…"}}}
//
// v is the format, 2; type and outcome are the reply's type and outcome extension; at is
// when the reply was stored, RFC 3339 in UTC to the millisecond (the precision of the
// record's Kafka timestamp, which is the same time), and the key expires
// Config.ProcessedRetention after it; data is the reply's data ({"reason", "message",
// "result"}), left out when it is {}. The rest of a re-sent reply comes from the repeated
// command (see processor.resend). JSON rather than a binary layout: in the zstd-compressed
// record batches the producer writes, a binary layout saves 36 bytes for a record alone in
// its batch, 8 with five in a batch and nothing from about fifty, and the value stays
// readable with kcat.
type processedValue struct {
	V       int             `json:"v"`
	Type    string          `json:"type"`
	Outcome string          `json:"outcome"`
	At      string          `json:"at"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// processedTimeLayout is the layout of processedValue.At: RFC 3339, always three fraction
// digits.
const processedTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// value is the value of the processed record of r, in format 2.
func (s *processedStore) value(r storedReply) ([]byte, error) {
	v := processedValue{
		V:       processedFormat,
		Type:    s.types[r.typ].name,
		Outcome: replyOutcomes[r.outcome],
		At:      time.Unix(0, r.at).UTC().Format(processedTimeLayout),
	}
	if r.data != emptyData {
		v.Data = json.RawMessage(r.data)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the processed record: %w", err)
	}
	return b, nil
}

// decodeProcessed is the reply that the processed record rec holds. For a record of format 1
// it is the whole reply, decoded and validated like any event; for format 2, only its type,
// outcome, data and, as its time, the stored-at time. It fails for a record that does not
// decode, and for a format newer than processedFormat.
func decodeProcessed(rec kafkago.Message) (events.Envelope, error) {
	if len(rec.Headers) > 0 { // format 1 has a content-type header, format 2 none
		return events.Decode(eventsRecord(rec))
	}
	var v processedValue
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		return events.Envelope{}, fmt.Errorf("decoding the processed record: %w", err)
	}
	switch {
	case v.V == 0: // format 1 without its header (copied by a tool that drops them)
		return events.Decode(eventsRecord(rec))
	case v.V != processedFormat:
		return events.Envelope{}, fmt.Errorf("processed record format %d: this worker reads formats 1 and %d",
			v.V, processedFormat)
	}
	var errs []error
	if !events.KnownType(v.Type) {
		errs = append(errs, fmt.Errorf("type %q is not a known type", v.Type))
	}
	at, err := time.Parse(time.RFC3339Nano, v.At)
	if err != nil {
		errs = append(errs, fmt.Errorf("at: %w", err))
	}
	data := json.RawMessage(emptyData)
	if v.Data != nil {
		var r events.Reply
		if err := json.Unmarshal(v.Data, &r); err != nil || !bytes.HasPrefix(v.Data, []byte("{")) {
			errs = append(errs, fmt.Errorf("data %.64s is not a reply's", v.Data))
		}
		data = v.Data
	}
	if err := errors.Join(errs...); err != nil {
		return events.Envelope{}, fmt.Errorf("decoding the processed record: %w", err)
	}
	return events.Envelope{Type: v.Type, Outcome: v.Outcome, Time: at, Data: data}, nil
}

// compact is the storedReply of reply, stored at at. It fails only for an outcome that is
// not a reply's, or when the store already knows 65,536 reply types.
func (s *processedStore) compact(reply events.Envelope, at time.Time) (storedReply, bool) {
	o := slices.Index(replyOutcomes[:], reply.Outcome)
	if o < 0 {
		return storedReply{}, false
	}
	t, ok := s.typeIndex[reply.Type]
	if !ok {
		if len(s.types) > math.MaxUint16 {
			return storedReply{}, false
		}
		t = uint16(len(s.types))
		s.types = append(s.types, replyType{name: reply.Type, schema: schemaURL(reply.Type)})
		s.typeIndex[reply.Type] = t
	}
	return storedReply{data: compactData(reply.Data), at: at.UnixNano(), typ: t, outcome: uint8(o)}, true
}

// emptyData is the data of a reply without reason, message or result, shared by all of them.
const emptyData = "{}"

func compactData(data json.RawMessage) string {
	if string(data) == emptyData {
		return emptyData
	}
	return string(data)
}

// schemaURL is the dataschema events.NewEvent gives events of typ ("" for an unknown type).
func schemaURL(typ string) string {
	e, err := events.NewEvent(typ, "", json.RawMessage(emptyData))
	if err != nil {
		return ""
	}
	return e.DataSchema
}

// restore applies one record of "<worker>.processed", read in offset order, to the store
// being restored at now: a reply stored for its key (in format 1 or 2, see processedValue),
// or a tombstone that forgets the key.
// A reply already out of the window is not kept, and its key is owed a tombstone. A record
// that does not decode is skipped and its key forgotten (the handler runs again for that
// key, and its effect log keeps the effect single); it is not tombstoned, since a newer
// podium may have written it. Call finishRestore after the last record.
func (s *processedStore) restore(rec kafkago.Message, now time.Time, log zerolog.Logger) {
	if len(rec.Key) == 0 {
		return
	}
	key := string(rec.Key)
	if rec.Value == nil {
		delete(s.replies, key)
		delete(s.owed, key) // tombstoned already
		return
	}
	env, err := decodeProcessed(rec)
	if err != nil {
		s.forget(key)
		log.Warn().Err(err).Str("idempotency_key", key).Msg("skipping an undecodable processed record")
		return
	}
	at := storedAt(env, rec, now)
	if !now.Before(at.Add(s.retention)) {
		delete(s.replies, key)
		s.owe(key)
		return
	}
	r, ok := s.compact(env, at)
	if !ok {
		s.forget(key)
		log.Warn().Str("idempotency_key", key).Str("type", env.Type).Str("outcome", env.Outcome).
			Msg("skipping a processed record that is not a reply")
		return
	}
	s.replies[key] = r
	delete(s.owed, key)
}

func (s *processedStore) forget(key string) {
	delete(s.replies, key)
	delete(s.owed, key)
}

// finishRestore builds the expiry queue of the restored replies, oldest first.
func (s *processedStore) finishRestore() {
	s.queue = expiryQueue{items: make([]queuedKey, 0, len(s.replies))}
	for k, r := range s.replies {
		s.queue.push(r.at, k)
	}
	slices.SortFunc(s.queue.items, func(a, b queuedKey) int { return cmp.Compare(a.at, b.at) })
}

// storedAt is when the processed record rec, holding reply env, was stored: the reply's
// time (format 2: its "at"; format 1: the reply's time attribute, as the runtime stores a
// reply when it makes it), else the record's Kafka timestamp when it has one, else now
// (unknown: the key is kept for a whole window from the restore).
func storedAt(env events.Envelope, rec kafkago.Message, now time.Time) time.Time {
	switch {
	case !env.Time.IsZero():
		return env.Time
	case rec.Time.UnixMilli() > 0:
		return rec.Time
	default:
		return now
	}
}
