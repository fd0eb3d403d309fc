package orchestrator

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrFenced stops a processor that may have lost its partition without noticing: the
// process was paused (SIGSTOP, a VM freeze, a long stall) for longer than the fence
// allows, so the group may have given the partition to another member meanwhile.
var ErrFenced = errors.New("processor fenced: the process stalled longer than the session timeout allows")

// fence detects stalls of the whole process. kafka-go has no transactional producer that a
// broker could fence, and a member learns that its generation ended only at its next
// heartbeat; a paused process resumed after the group rebalanced could otherwise write one
// more batch for partitions it no longer owns. The fence is a watchdog goroutine that ticks
// every tick: a gap between ticks (or between the last tick and now) longer than limit
// means the process stalled, and every write is refused from then on.
//
// What remains is a stall that begins after the check and before the write completes (for
// example a pause in the middle of a write); the per-saga version in every snapshot lets
// the restorer keep the newest state in that case.
type fence struct {
	limit    time.Duration
	tick     time.Duration
	lastTick atomic.Int64 // unix nanos, wall clock
	stalled  atomic.Bool
}

// newFence starts the watchdog; it stops when ctx ends.
func newFence(ctx context.Context, limit time.Duration) *fence {
	f := &fence{limit: limit, tick: max(limit/20, 10*time.Millisecond)}
	f.lastTick.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(f.tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				f.observe(now)
			}
		}
	}()
	return f
}

// observe records a tick at now, flagging a stall when the previous one is too old.
func (f *fence) observe(now time.Time) {
	prev := time.Unix(0, f.lastTick.Swap(now.UnixNano()))
	if now.Sub(prev) > f.limit {
		f.stalled.Store(true)
	}
}

// check reports ErrFenced once a stall has been seen, or when the watchdog has not ticked
// for longer than the limit (the process was stalled and this check ran first).
func (f *fence) check(now time.Time) error {
	if f.stalled.Load() || now.Sub(time.Unix(0, f.lastTick.Load())) > f.limit {
		f.stalled.Store(true)
		return ErrFenced
	}
	return nil
}
