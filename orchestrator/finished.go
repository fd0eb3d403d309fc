package orchestrator

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// IndexKeyPrefix starts the keys of the records in podium.saga-state that are not saga
// snapshots: the finished-saga index (see finishedIndex). Saga IDs never start with it.
const IndexKeyPrefix = "~"

// indexKeyPrefix starts the key of every record of the finished-saga index:
// "~finished.<n>/<bucket start>/<part>", where the smallest n that homes "~finished.<n>"
// (the part before the first '/', as for every podium key) on the processor's partition.
const indexKeyPrefix = IndexKeyPrefix + "finished."

// indexBucketWidth is the span of finish times one index record covers.
const indexBucketWidth = time.Minute

// indexSealDelay is how long after a bucket's end its record is written: sagas finished
// by a processor whose clock lags a little still land in it.
const indexSealDelay = 5 * time.Second

// indexRecordEntries caps the entries of one index record (17 bytes each: ~510 KB), so a
// record stays under Kafka's default message.max.bytes at any rate.
const indexRecordEntries = 30000

// indexFormat is the first byte of an index record's value.
const indexFormat = 1

// sagaHash identifies a finished saga in the index: FNV-128a of its ID. Two IDs share a
// hash with a probability of about n²/2¹²⁹ — never, in practice.
type sagaHash [16]byte

func hashOf(id string) sagaHash {
	h := fnv.New128a()
	_, _ = h.Write([]byte(id))
	var out sagaHash
	h.Sum(out[:0])
	return out
}

// Finished-saga statuses as the index stores them.
const (
	finishedCompleted   byte = 1
	finishedCompensated byte = 2
)

func finishedCode(s saga.Status) byte {
	if s == saga.StatusCompensated {
		return finishedCompensated
	}
	return finishedCompleted
}

func finishedStatus(code byte) saga.Status {
	if code == finishedCompensated {
		return saga.StatusCompensated
	}
	return saga.StatusCompleted
}

// finishedIndex is what a partition processor keeps of its finished sagas, so that memory
// depends on the configured windows and never on the number of sagas ever run:
//
//   - for the dedupe window, a 16-byte hash and a status per saga (a duplicate start is
//     recognised; a late reply or a control record is ignored as "finished");
//   - for the retention window, also the saga's ID, to tombstone its last snapshot when
//     the window ends.
//
// Entries are grouped in one-minute buckets by finish time. Once a bucket's minute has
// passed, its hashes are written to podium.saga-state as one record (or a few) under a
// "~finished/" key homed on the processor's partition, so the index survives restarts and
// rebalances: restore reads the bucket records and the finished snapshots still retained.
// Snapshots are tombstoned only after their bucket record was written, so every finished
// saga of the dedupe window is always in one or the other.
//
// Not safe for concurrent use: one processor owns it.
type finishedIndex struct {
	partition, partitions int
	retention, window     time.Duration
	home                  string // the key prefix homed on partition (see recordKeys)

	status  map[sagaHash]byte
	buckets map[int64]*finishedBucket // by start (Unix seconds)
	starts  []int64                   // bucket starts, sorted
	// liveFrom indexes the first bucket of starts that is not written yet or still has
	// snapshots to tombstone: housekeeping looks at the buckets from there on only.
	liveFrom int
}

// finishedBucket holds the sagas that finished in one minute.
type finishedBucket struct {
	start  int64
	hashes []sagaHash
	// ids are the sagas whose snapshot is not tombstoned yet, in finish order, with their
	// finish times (Unix nanoseconds).
	ids      []string
	finished []int64
	// written reports whether the bucket record holds every hash; keys are the record
	// keys written or restored for the bucket (tombstoned when it expires).
	written bool
	keys    []string
}

func newFinishedIndex(partition, partitions int, retention, window time.Duration) *finishedIndex {
	return &finishedIndex{
		partition: partition, partitions: partitions, retention: retention, window: window,
		status:  make(map[sagaHash]byte),
		buckets: make(map[int64]*finishedBucket),
	}
}

// Len is the number of finished sagas held.
func (x *finishedIndex) Len() int { return len(x.status) }

// lookup reports whether the saga finished within the dedupe window, and how.
func (x *finishedIndex) lookup(id string) (saga.Status, bool) {
	code, ok := x.status[hashOf(id)]
	if !ok {
		return "", false
	}
	return finishedStatus(code), true
}

func (x *finishedIndex) bucket(start int64) *finishedBucket {
	b := x.buckets[start]
	if b == nil {
		b = &finishedBucket{start: start}
		x.buckets[start] = b
		i, _ := slices.BinarySearch(x.starts, start)
		x.starts = slices.Insert(x.starts, i, start)
		if i < x.liveFrom {
			x.liveFrom = i // a new bucket is not written yet
		}
	}
	return b
}

func bucketStart(t time.Time) int64 {
	return t.Truncate(indexBucketWidth).Unix()
}

// add records a saga that finished at t, whose last snapshot is to be tombstoned when its
// retention ends.
func (x *finishedIndex) add(id string, status saga.Status, t time.Time) {
	h := hashOf(id)
	b := x.bucket(bucketStart(t))
	if _, seen := x.status[h]; !seen {
		b.hashes = append(b.hashes, h)
		b.written = false
	}
	x.status[h] = finishedCode(status)
	b.ids = append(b.ids, id)
	b.finished = append(b.finished, t.UnixNano())
	x.markLive(b.start)
}

// markLive moves liveFrom back to the bucket at start if it is before it.
func (x *finishedIndex) markLive(start int64) {
	if x.liveFrom < len(x.starts) && x.starts[x.liveFrom] <= start {
		return
	}
	i, _ := slices.BinarySearch(x.starts, start)
	x.liveFrom = i
}

// restoreRecord adds the hashes of one index record.
func (x *finishedIndex) restoreRecord(key string, value []byte) error {
	start, err := indexRecordStart(key)
	if err != nil {
		return err
	}
	if len(value) == 0 || value[0] != indexFormat || (len(value)-1)%17 != 0 {
		return fmt.Errorf("index record %s: unknown format or length %d", key, len(value))
	}
	b := x.bucket(start)
	if !slices.Contains(b.keys, key) {
		b.keys = append(b.keys, key)
	}
	unwritten := !b.written && len(b.hashes) > 0
	for rest := value[1:]; len(rest) > 0; rest = rest[17:] {
		var h sagaHash
		copy(h[:], rest[:16])
		if _, seen := x.status[h]; !seen {
			b.hashes = append(b.hashes, h)
		}
		x.status[h] = rest[16]
	}
	// A record of this bucket was written: it holds the bucket's hashes unless sagas
	// restored from snapshots were added before it and are missing from it.
	b.written = !unwritten
	if unwritten {
		x.markLive(start)
	}
	return nil
}

// forgetRecord handles a tombstone of an index record.
func (x *finishedIndex) forgetRecord(key string) {
	start, err := indexRecordStart(key)
	if err != nil {
		return
	}
	if b := x.buckets[start]; b != nil {
		b.keys = slices.DeleteFunc(b.keys, func(k string) bool { return k == key })
	}
}

// sortRestored puts the restored sagas of each bucket in finish order.
func (x *finishedIndex) sortRestored() {
	for _, b := range x.buckets {
		idx := make([]int, len(b.ids))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(i, j int) int { return int(b.finished[i] - b.finished[j]) })
		ids, fin := make([]string, len(idx)), make([]int64, len(idx))
		for n, i := range idx {
			ids[n], fin[n] = b.ids[i], b.finished[i]
		}
		b.ids, b.finished = ids, fin
	}
}

// housekeeping returns the records that are due at now: the records of buckets whose
// minute has passed, tombstones of the snapshots whose retention ended (only in buckets
// already written), and tombstones of the index records whose dedupe window ended. The
// index changes only in done, which the caller calls once the records were written.
func (x *finishedIndex) housekeeping(now time.Time) (records []kafkago.Message, done func()) {
	var (
		seal    []*finishedBucket
		tombed  = map[*finishedBucket]int{}
		expired int // buckets at the front of starts whose dedupe window ended
	)
	for _, start := range x.starts {
		b := x.buckets[start]
		if time.Unix(start, 0).Add(indexBucketWidth + x.window).After(now) {
			break
		}
		expired++
		for _, k := range b.keys {
			records = append(records, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(k)})
		}
		for _, id := range b.ids {
			records = append(records, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(id)})
		}
	}
	// Buckets before liveFrom are written and tombstoned; from the first bucket that cannot
	// be written yet on, no snapshot is due either (Retention > a bucket and its delay).
	for _, start := range x.starts[max(x.liveFrom, expired):] {
		b := x.buckets[start]
		end := time.Unix(start, 0).Add(indexBucketWidth)
		if end.Add(indexSealDelay).After(now) {
			break
		}
		if !b.written {
			seal = append(seal, b)
			keys := x.recordKeys(start, len(b.hashes))
			for i, k := range keys {
				lo, hi := i*indexRecordEntries, min((i+1)*indexRecordEntries, len(b.hashes))
				records = append(records, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(k), Value: encodeIndexRecord(b.hashes[lo:hi], x.status)})
			}
		}
		n := 0
		for n < len(b.ids) && !time.Unix(0, b.finished[n]).Add(x.retention).After(now) {
			records = append(records, kafkago.Message{Topic: events.TopicSagaState, Key: []byte(b.ids[n])})
			n++
		}
		if n > 0 {
			tombed[b] = n
		}
	}
	return records, func() {
		for _, b := range seal {
			b.written = true
			for _, k := range x.recordKeys(b.start, len(b.hashes)) {
				if !slices.Contains(b.keys, k) {
					b.keys = append(b.keys, k)
				}
			}
		}
		for b, n := range tombed {
			clear(b.ids[:n])
			b.ids, b.finished = b.ids[n:], b.finished[n:]
			if len(b.ids) == 0 {
				b.ids, b.finished = nil, nil
			}
		}
		for _, start := range x.starts[:expired] {
			for _, h := range x.buckets[start].hashes {
				delete(x.status, h)
			}
			delete(x.buckets, start)
		}
		x.starts = slices.Delete(x.starts, 0, expired)
		x.liveFrom = max(x.liveFrom-expired, 0)
		for x.liveFrom < len(x.starts) {
			b := x.buckets[x.starts[x.liveFrom]]
			if !b.written || len(b.ids) > 0 {
				break
			}
			x.liveFrom++
		}
	}
}

// recordKeys are the keys of a bucket's records: one per indexRecordEntries hashes, each
// with a suffix that homes it on the processor's partition.
func (x *finishedIndex) recordKeys(start int64, hashes int) []string {
	if x.home == "" {
		x.home = homedPrefix(x.partition, x.partitions)
	}
	n := max((hashes+indexRecordEntries-1)/indexRecordEntries, 1)
	keys := make([]string, n)
	for part := range n {
		keys[part] = x.home + "/" + strconv.FormatInt(start, 10) + "/" + strconv.Itoa(part)
	}
	return keys
}

// homedPrefix is indexKeyPrefix and the smallest number that homes it on partition p.
func homedPrefix(p, partitions int) string {
	for n := 0; ; n++ {
		k := indexKeyPrefix + strconv.Itoa(n)
		if pkafka.HomePartition([]byte(k), partitions) == p {
			return k
		}
	}
}

func encodeIndexRecord(hashes []sagaHash, status map[sagaHash]byte) []byte {
	v := make([]byte, 1, 1+17*len(hashes))
	v[0] = indexFormat
	for _, h := range hashes {
		v = append(v, h[:]...)
		v = append(v, status[h])
	}
	return v
}

// indexRecordStart parses the bucket start of an index record key.
func indexRecordStart(key string) (int64, error) {
	_, rest, ok := strings.Cut(key, "/")
	if !strings.HasPrefix(key, indexKeyPrefix) || !ok {
		return 0, errors.New("not an index record key: " + key)
	}
	s, _, _ := strings.Cut(rest, "/")
	start, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("index record key %s: %w", key, err)
	}
	return start, nil
}

// finishedMarker is what podium.saga-state keeps of a finished saga until its retention
// ends: the state without its input, results and command IDs (nothing will be built or
// correlated again; saga.CommandID derives the IDs from step and attempt), so the record
// stays small: about 300 bytes for an order.
func finishedMarker(s *saga.State) *saga.State {
	m := *s
	m.Input = nil
	m.Steps = make(map[string]*saga.StepState, len(s.Steps))
	for name, st := range s.Steps {
		c := *st
		c.Result = nil
		c.Do.Answered, c.Undo.Answered = nil, nil
		c.Do.CommandID, c.Undo.CommandID = "", "" // saga.CommandID derives them again
		m.Steps[name] = &c
	}
	return &m
}
