package returns

import (
	"testing"
	"time"

	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/orchestrator/saga/sagatest"
)

// FuzzReturnsSaga feeds the returns saga random interleavings of replies, duplicates, late
// replies, timers, cancels, operator retries and duplicate starts, and checks the engine's
// invariants after each input (sagatest.Fuzz). Each input is a sequence of (op, arg) byte
// pairs.
func FuzzReturnsSaga(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})                       // happy path
	f.Add([]byte{1, 0, 3, 0, 3, 0, 0, 0})                       // pickup fails, duplicates
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 0, 0, 0})                 // restock fails, refund compensated
	f.Add([]byte{0, 0, 0, 1, 1, 0, 0, 0, 0, 0})                 // refund fails, restock compensated
	f.Add([]byte{5, 0, 4, 0, 5, 0, 0, 1, 5, 0, 5, 0, 4, 3})     // timeouts, late replies
	f.Add([]byte{0, 0, 7, 0, 0, 0, 1, 0, 5, 0, 5, 0, 8, 0})     // cancel, compensation failure, retry
	f.Add([]byte{0, 0, 0, 0, 0, 0, 2, 0, 6, 40, 1, 0})          // the notice retries then bounces
	f.Add([]byte{2, 0, 2, 1, 6, 200, 6, 200, 0, 0, 4, 1, 9, 9}) // errors, superseded attempts
	s := returnSaga(NewDefinition(Options{
		Timeout:             time.Second,
		Retry:               saga.RetryPolicy{MaxAttempts: 3, Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		CompensationTimeout: time.Second,
		CompensationRetry:   saga.RetryPolicy{MaxAttempts: 2, Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond},
		HistoryLimit:        64,
	}))
	f.Fuzz(func(t *testing.T, ops []byte) { sagatest.Fuzz(t, s, ops) })
}
