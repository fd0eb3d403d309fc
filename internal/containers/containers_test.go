package containers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pclient "github.com/podiumhq/podium/internal/client"
)

// TestFullSaga runs the stack as a user would: `podium order place --count N --mix --wait`
// in a container of the image exits 0 once every order ended as it must; orders placed from
// the test end as they must too.
func TestFullSaga(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	s.place(24)
	code, out := s.runCLI("cli", 3*time.Minute, "order", "place", "--kafka-brokers", brokerAlias+":"+brokerPort,
		"--count", "60", "--mix", "--wait", "--timeout", "2m", "--prefix", "cli")
	if code != 0 {
		t.Fatalf("podium order place --wait: exit code %d, want 0\n%s", code, out)
	}
	for _, want := range []string{"orders placed: 60, terminal: 60, pending: 0", "completed", "cancelled by reason:"} {
		if !strings.Contains(out, want) {
			t.Errorf("podium order place output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MISMATCHED") {
		t.Errorf("podium order place reports mismatched outcomes:\n%s", out)
	}
	s.checkAllTerminal(time.Minute)
}

// TestOrchestratorStopStart stops the only orchestrator while orders are in flight, places
// more orders while it is down, and starts it again: it restores its sagas from the
// changelog and every order ends as it must.
func TestOrchestratorStopStart(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{})
	s.place(100)
	s.waitFor(time.Minute, "the first orders terminal", func() (bool, string) {
		n := s.terminalCount()
		return n >= 10, fmt.Sprintf("%d terminal", n)
	})
	orch := s.container("orchestrator-1")
	grace := 15 * time.Second
	if err := orch.Stop(s.ctx, &grace); err != nil {
		t.Fatalf("stopping the orchestrator: %v", err)
	}
	t.Logf("orchestrator stopped with %d of 100 orders in flight", 100-s.terminalCount())
	s.place(50)
	if err := orch.Start(s.ctx); err != nil {
		t.Fatalf("starting the orchestrator again: %v", err)
	}
	s.checkAllTerminal(2 * time.Minute)
	s.requireRunning("orchestrator-1")
}

// TestWorkerPausedBeyondStepTimeout freezes the payment worker (docker pause) until the
// orchestrator has timed out a payment command and sent its next attempt, then thaws it:
// the worker answers the backlog, duplicates are absorbed, and every order ends as it must.
func TestWorkerPausedBeyondStepTimeout(t *testing.T) {
	t.Parallel()
	// Attempts of 2s, six of them: the pause lasts one or two attempts, well within budget.
	s := newStack(t, stackOptions{orchestratorArgs: []string{
		"--step-timeout", "2s", "--max-attempts", "6", "--backoff-initial", "100ms", "--backoff-max", "500ms"}})

	var retried atomic.Int64 // payment commands with attempt >= 2
	topic := events.CommandsTopic("payment")
	from, err := pclient.EndOffsets(s.ctx, s.kafka, topic)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := pclient.Follow(ctx, s.kafka, topic, from, func(_ kafkago.Message, env events.Envelope, err error) {
			if err == nil && env.Attempt >= 2 {
				retried.Add(1)
			}
		})
		if err != nil {
			t.Errorf("following %s: %v", topic, err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	s.place(30)
	s.waitFor(time.Minute, "the first orders terminal", func() (bool, string) {
		n := s.terminalCount()
		return n >= 1, fmt.Sprintf("%d terminal", n)
	})
	s.pause("payment")
	paused := time.Now()
	s.place(30)
	s.waitFor(30*time.Second, "a payment command retried after its step timeout", func() (bool, string) {
		n := retried.Load()
		return n > 0, fmt.Sprintf("%d retried commands", n)
	})
	s.unpause("payment")
	t.Logf("payment paused for %s; %d payment commands retried meanwhile", time.Since(paused).Round(time.Millisecond), retried.Load())
	s.checkAllTerminal(2 * time.Minute)
	s.requireRunning("payment", "orchestrator-1")
}

// TestOrchestratorNetworkPartition cuts one of two orchestrators off the network until the
// broker evicts it from the group: the other takes over its partitions and finishes every
// order. Reconnected, the first one rejoins the group and takes its share of new orders.
func TestOrchestratorNetworkPartition(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{orchestrators: 2})
	s.waitFor(time.Minute, "both orchestrators in the group", func() (bool, string) {
		n, seen := s.groupMembers(orchestratorGroup)
		return n == 2, seen
	})
	s.place(40)
	s.waitFor(time.Minute, "the first orders terminal", func() (bool, string) {
		n := s.terminalCount()
		return n >= 1, fmt.Sprintf("%d terminal", n)
	})

	s.disconnect("orchestrator-1")
	s.waitFor(time.Minute, "the broker evicts orchestrator-1 from the group", func() (bool, string) {
		n, seen := s.groupMembers(orchestratorGroup)
		return n == 1, seen
	})
	s.place(40)
	s.checkAllTerminal(2 * time.Minute)

	s.connect("orchestrator-1")
	s.waitFor(time.Minute, "orchestrator-1 back in the group", func() (bool, string) {
		n, seen := s.groupMembers(orchestratorGroup)
		return n == 2 && strings.HasPrefix(seen, "Stable"), seen
	})
	s.requireRunning("orchestrator-1", "orchestrator-2")
	s.place(40)
	s.checkAllTerminal(2 * time.Minute)
}
