package orchestrator

import (
	"slices"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// DefaultSnapshotInterval is the default of Config.SnapshotInterval.
const DefaultSnapshotInterval = 100 * time.Millisecond

// maxUnsavedSagas caps the sagas whose snapshots wait together: beyond it they are written
// with the next batch, whatever their age (a partition catching up on a backlog).
const maxUnsavedSagas = 4096

// unsaved is what batches applied since the last snapshot write still have to write to
// podium.saga-state after their commands and events: the snapshots of the sagas they
// changed (each saga once, in its state at write time), their finished-saga index records
// and early-cancel records, and then the input offsets to commit.
//
// Like Kafka Streams' record cache in front of a changelog, it lets a saga changed by
// several batches within Config.SnapshotInterval be written once: an order's snapshots
// fall from one per reply to its first one and one or two more. A new saga's first
// snapshot and a finished saga's marker do not wait (takeUrgent). Nothing is lost by the wait: the offsets of those
// batches are committed only after everything waiting is written, so after a crash their
// inputs are applied again from the last written state, with the same command and event
// IDs (DESIGN.md §5), and inputs already in a newer snapshot are ignored as repeats.
type unsaved struct {
	since time.Time // when the oldest batch was applied
	// entries are the records to write, in the order of their last change: a saga changed
	// again moves to the end, so that every key's last record is its newest (compaction
	// and restore keep the last).
	entries []unsavedEntry
	at      map[string]int         // saga ID -> its entry in entries
	retired map[string]*saga.State // sagas that finished (and left memory) since
	// urgent are the sagas whose snapshot goes out with the next write, without waiting
	// for the interval (see takeUrgent): those started since, which have none yet, and
	// those that finished.
	urgent map[string]bool
	// urgentRecords counts the records among entries that must not wait.
	urgentRecords int
	// housekept marks the index records among entries as written (nil: none). While it is
	// set, no other index records are issued (finishedIndex.housekeeping).
	housekept  func()
	tombstones int              // among the index records
	offsets    map[string]int64 // to commit once written; nil: no input since
}

// unsavedEntry is a saga whose snapshot is due (id), or a record written as it is.
type unsavedEntry struct {
	id     string
	record *kafkago.Message
	urgent bool // a record that must not wait (see takeUrgent)
	gone   bool // superseded by a later entry of the same saga, or written
}

func newUnsaved(now time.Time) *unsaved {
	return &unsaved{since: now, at: map[string]int{}, retired: map[string]*saga.State{}, urgent: map[string]bool{}}
}

// touch records that saga id changed; urgent: its snapshot must not wait (it started or
// finished in this change).
func (u *unsaved) touch(id string, urgent bool) {
	if urgent {
		u.urgent[id] = true
	}
	if i, ok := u.at[id]; ok {
		if i == len(u.entries)-1 {
			return
		}
		u.entries[i].gone = true
	}
	u.at[id] = len(u.entries)
	u.entries = append(u.entries, unsavedEntry{id: id})
}

// add appends records that are written as they are (index records, early cancels);
// urgent: they must not wait.
func (u *unsaved) add(records []kafkago.Message, urgent bool) {
	for i := range records {
		u.entries = append(u.entries, unsavedEntry{record: &records[i], urgent: urgent})
	}
	if urgent {
		u.urgentRecords += len(records)
	}
}

// takeUrgent removes what must not wait from what waits: the urgent sagas (with the
// finished ones among them, which left memory) and the urgent records, in their order.
// They are written at once:
//   - a new saga's first snapshot, so that a saga never finishes while nothing of it is
//     durable: a restart that re-applies the interval's inputs then never starts a
//     finished saga again (it finds the saga and ignores the repeated start);
//   - a finished saga's marker, so that its final state is there as soon as its end is
//     (operators and tests read it, and it leaves memory at once);
//   - held early cancels and their tombstones, the durable side of the "deferred" and
//     "rejected" answers already published.
//
// The offsets, committed only when everything waiting is written, stay behind every
// snapshot.
func (u *unsaved) takeUrgent() (ids []string, retired map[string]*saga.State, records []kafkago.Message) {
	if u.urgentRecords > 0 {
		for i := range u.entries {
			if e := &u.entries[i]; e.urgent && !e.gone {
				records = append(records, *e.record)
				e.gone = true
			}
		}
		u.urgentRecords = 0
	}
	if len(u.urgent) == 0 {
		return nil, nil, records
	}
	retired = map[string]*saga.State{}
	for id := range u.urgent {
		ids = append(ids, id)
		if i, ok := u.at[id]; ok {
			u.entries[i].gone = true
			delete(u.at, id)
		}
		if s, ok := u.retired[id]; ok {
			retired[id] = s
			delete(u.retired, id)
		}
	}
	clear(u.urgent)
	slices.Sort(ids) // a deterministic order of records
	return ids, retired, records
}

// hasUrgent reports whether a snapshot that must not wait is there.
func (u *unsaved) hasUrgent() bool { return len(u.urgent) > 0 || u.urgentRecords > 0 }

// sagas is how many sagas' snapshots wait.
func (u *unsaved) sagas() int { return len(u.at) }

// due reports whether the records must be written now: the oldest batch waited interval,
// or too many sagas wait.
func (u *unsaved) due(now time.Time, interval time.Duration) bool {
	return !now.Before(u.since.Add(interval)) || len(u.at) >= maxUnsavedSagas
}
