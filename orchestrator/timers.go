package orchestrator

import (
	"container/heap"
	"time"
)

// timerQueue is a processor's min-heap of saga timers. Timers themselves are data inside
// each saga's state (saga.State.NextTimer); the queue only says when to look again. It keeps
// one live entry per saga: scheduling a saga again supersedes its previous entry, which is
// then skipped when it surfaces. Not safe for concurrent use: one processor owns it.
type timerQueue struct {
	entries   timerHeap
	scheduled map[string]time.Time
}

type timerEntry struct {
	due    time.Time
	sagaID string
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newTimerQueue() *timerQueue {
	return &timerQueue{scheduled: make(map[string]time.Time)}
}

// schedule sets the saga's next timer; ok=false clears it.
func (q *timerQueue) schedule(sagaID string, due time.Time, ok bool) {
	if !ok {
		delete(q.scheduled, sagaID)
		return
	}
	if cur, has := q.scheduled[sagaID]; has && cur.Equal(due) {
		return
	}
	q.scheduled[sagaID] = due
	heap.Push(&q.entries, timerEntry{due: due, sagaID: sagaID})
}

// next returns the earliest live due time.
func (q *timerQueue) next() (time.Time, bool) {
	for q.entries.Len() > 0 {
		e := q.entries[0]
		if cur, ok := q.scheduled[e.sagaID]; ok && cur.Equal(e.due) {
			return e.due, true
		}
		heap.Pop(&q.entries) // superseded
	}
	return time.Time{}, false
}

// popDue removes and returns every saga whose live timer is due at now.
func (q *timerQueue) popDue(now time.Time) []string {
	var due []string
	for {
		at, ok := q.next()
		if !ok || at.After(now) {
			return due
		}
		e := heap.Pop(&q.entries).(timerEntry)
		delete(q.scheduled, e.sagaID)
		due = append(due, e.sagaID)
	}
}

// len is the number of sagas with a live timer.
func (q *timerQueue) len() int { return len(q.scheduled) }
