package workers_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// A partition revoked while its batch is being handled writes nothing after: the handler's
// context ends, its result is not written, nothing is committed, and the partition's next
// owner answers the command — one reply in all.
func TestRevokedPartitionWritesNothingAfterItsGeneration(t *testing.T) {
	c := newCluster(t)
	started := make(chan struct{})
	var calls atomic.Int64
	// The first call holds the batch until its context ends (the rebalance below); every
	// later call, on whichever instance then owns the partition, answers at once.
	h := workers.HandlerFunc(func(ctx context.Context, cmd workers.Command) workers.Result {
		if calls.Add(1) == 1 {
			close(started)
			<-ctx.Done()
			return workers.Retryable("interrupted", "the partition was revoked")
		}
		return workers.Success(map[string]string{"reservation_id": "r-1"})
	})
	// Before the fix the held call only returned at the handler deadline, and its reply was
	// written after the partition had moved.
	first := c.startConfig(h, workers.Config{HandlerTimeout: 15 * time.Second})
	c.send(command(t, "ord-revoked", "cmd-1", 1, "sku-1"))
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the command never reached the handler")
	}
	// A second instance joins the group: every partition of the first is revoked.
	second := c.startConfig(h, workers.Config{HandlerTimeout: 15 * time.Second})
	env, data := decode(t, c.waitFor(repliesTopic, 1)[0])
	if env.Outcome != "success" {
		t.Fatalf("the reply is %s (%+v), want the next owner's success", env.Outcome, data)
	}
	first()
	second()
	if n := c.count(repliesTopic, events.DefaultPartitions); n != 1 {
		t.Errorf("%d replies written, want 1: the revoked batch wrote its result after its generation", n)
	}
	if n := c.count(processedTopic, events.DefaultPartitions); n != 1 {
		t.Errorf("%d processed records written, want 1", n)
	}
}
