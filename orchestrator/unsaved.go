package orchestrator

import (
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
// fall from one per reply to one or two. Nothing is lost by the wait: the offsets of those
// batches are committed only after the write, so after a crash their inputs are applied
// again from the last written state, with the same command and event IDs (DESIGN.md §5).
type unsaved struct {
	since time.Time // when the oldest batch was applied
	// entries are the records to write, in the order of their last change: a saga changed
	// again moves to the end, so that every key's last record is its newest (compaction
	// and restore keep the last).
	entries []unsavedEntry
	at      map[string]int         // saga ID -> its entry in entries
	retired map[string]*saga.State // sagas that finished (and left memory) since
	// housekept marks the index records among entries as written.
	housekept  []func()
	tombstones int              // among the index records
	offsets    map[string]int64 // to commit once written; nil: no input since
}

// unsavedEntry is a saga whose snapshot is due (id), or a record written as it is.
type unsavedEntry struct {
	id     string
	record *kafkago.Message
	gone   bool // superseded by a later entry of the same saga
}

func newUnsaved(now time.Time) *unsaved {
	return &unsaved{since: now, at: map[string]int{}, retired: map[string]*saga.State{}}
}

// touch records that saga id changed.
func (u *unsaved) touch(id string) {
	if i, ok := u.at[id]; ok {
		if i == len(u.entries)-1 {
			return
		}
		u.entries[i].gone = true
	}
	u.at[id] = len(u.entries)
	u.entries = append(u.entries, unsavedEntry{id: id})
}

// add appends records that are written as they are (index records, early cancels).
func (u *unsaved) add(records []kafkago.Message) {
	for i := range records {
		u.entries = append(u.entries, unsavedEntry{record: &records[i]})
	}
}

// sagas is how many sagas' snapshots wait.
func (u *unsaved) sagas() int { return len(u.at) }

// due reports whether the records must be written now: the oldest batch waited interval,
// or too many sagas wait.
func (u *unsaved) due(now time.Time, interval time.Duration) bool {
	return !now.Before(u.since.Add(interval)) || len(u.at) >= maxUnsavedSagas
}
