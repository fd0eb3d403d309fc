package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

// TestScaleOut runs orchestrator and worker instances as processes under a stream of
// orders and checks ownership through the coordinator (DescribeGroups) at every size:
//
//  1. one orchestrator owns every partition; three share them, each partition p of every
//     input topic owned by exactly one member (co-partitioned); the payment worker scales
//     1 → 3 the same way;
//  2. with the payment workers stopped (so that commands are in flight), one orchestrator
//     is killed with SIGKILL: its partitions move to the two others, which restore them from
//     podium.saga-state and re-send the in-flight commands;
//  3. back to one orchestrator and one payment worker, and every order completes as it must.
func TestScaleOut(t *testing.T) {
	bin := podiumBinary(t)
	start := time.Now()
	const partitions = 6
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := runDir(t)
	log := testLogger(t)
	c, err := StartCluster(ctx, ClusterConfig{Binary: bin, Dir: dir, Partitions: partitions, Saga: chaosSaga,
		ProcessedRetention: chaosProcessedRetention, Logger: log})
	if err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	defer c.Close()
	faults := NewFaultLog(os.Stderr)
	orchTopics := GroupTopics(DefaultOrchestratorGroup, events.Workers)[DefaultOrchestratorGroup]
	paymentGroup, paymentTopics := workers.GroupIDFor("payment"), []string{events.CommandsTopic("payment")}

	// Count restores and re-sent commands per instance.
	var (
		mu       sync.Mutex
		restored = map[string]int{}
		resent   = map[string]int{}
	)
	stopWatch := c.OnLine(func(name string, line []byte) {
		if !strings.HasPrefix(name, "orch-") {
			return
		}
		switch {
		case bytes.Contains(line, msgRestored):
			mu.Lock()
			restored[name]++
			mu.Unlock()
		case bytes.Contains(line, []byte(`"message":"in-flight commands re-sent"`)):
			var l struct {
				Commands int `json:"commands"`
			}
			_ = json.Unmarshal(line, &l)
			mu.Lock()
			resent[name] += l.Commands
			mu.Unlock()
		}
	})
	defer stopWatch()

	if err := c.StartOrchestrator("orch-1"); err != nil {
		t.Fatal(err)
	}
	for _, w := range events.Workers {
		if err := c.StartWorker(w, w+"-1"); err != nil {
			t.Fatal(err)
		}
	}
	load := NewLoad(ctx, c.Kafka, fmt.Sprintf("scale%d", time.Now().UnixNano()%100000), 7, log)
	defer load.Close()
	// The load stops between two writes (more), not by cancelling one: orders whose write
	// was cut short count as placed but may never reach the broker.
	var stopping atomic.Bool
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Run(ctx, 15, func(int) bool { return !stopping.Load() }) }()

	waitOwnership(ctx, t, c, DefaultOrchestratorGroup, orchTopics, partitions, 1)

	for _, n := range []string{"orch-2", "orch-3"} {
		if err := c.StartOrchestrator(n); err != nil {
			t.Fatal(err)
		}
	}
	faults.Add(FaultScaleOrchestrators, "1 → 3 instances")
	g := waitOwnership(ctx, t, c, DefaultOrchestratorGroup, orchTopics, partitions, 3)
	for _, m := range g.Members {
		if got := len(m.Assigned[events.TopicOrdersPlaced]); got != partitions/3 {
			t.Errorf("member %s owns %d partitions, want an even share of %d", m.ID, got, partitions/3)
		}
	}

	for _, n := range []string{"payment-2", "payment-3"} {
		if err := c.StartWorker("payment", n); err != nil {
			t.Fatal(err)
		}
	}
	faults.Add(FaultScaleWorker, "payment: 1 → 3 instances")
	waitOwnership(ctx, t, c, paymentGroup, paymentTopics, partitions, 3)

	// Commands in flight: no payment worker answers while an orchestrator dies.
	for _, n := range []string{"payment-1", "payment-2", "payment-3"} {
		if err := c.Stop(n, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := sleep(ctx, 2*time.Second); err != nil { // orders keep coming, authorizations pile up
		t.Fatal(err)
	}
	mu.Lock()
	restoredBefore := restored["orch-1"] + restored["orch-3"]
	resentBefore := resent["orch-1"] + resent["orch-3"]
	mu.Unlock()
	if err := c.Kill("orch-2"); err != nil {
		t.Fatal(err)
	}
	faults.Add(FaultOrchestratorKill, "orch-2, not restarted")
	waitOwnership(ctx, t, c, DefaultOrchestratorGroup, orchTopics, partitions, 2)
	var restoredAfter, resentAfter int
	err = poll(ctx, time.Minute, "the survivors to restore every partition and re-send in-flight commands", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		restoredAfter = restored["orch-1"] + restored["orch-3"] - restoredBefore
		resentAfter = resent["orch-1"] + resent["orch-3"] - resentBefore
		return restoredAfter >= partitions && resentAfter > 0,
			fmt.Sprintf("%d partitions restored (every rebalance restores all %d), %d commands re-sent", restoredAfter, partitions, resentAfter)
	})
	if err != nil {
		t.Errorf("after orch-2 died with payment commands in flight: %v", err)
	}
	t.Logf("after the kill: %d partitions restored, %d in-flight commands re-sent", restoredAfter, resentAfter)

	if err := c.Restart("payment-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop("orch-3", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	faults.Add(FaultScaleOrchestrators, "2 → 1 instances")
	faults.Add(FaultScaleWorker, "payment: 3 → 1 instances")
	waitOwnership(ctx, t, c, DefaultOrchestratorGroup, orchTopics, partitions, 1)
	waitOwnership(ctx, t, c, paymentGroup, paymentTopics, partitions, 1)

	if err := sleep(ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	stopping.Store(true)
	if err := <-loadDone; err != nil && ctx.Err() == nil {
		t.Fatalf("placing orders: %v", err)
	}
	if err := load.WaitTerminal(ctx, 3*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	if err := WaitConsumed(ctx, c.Kafka, 2*time.Minute); err != nil {
		t.Errorf("%v", err)
	}
	obs, err := Collect(ctx, CollectConfig{Kafka: c.Kafka, EffectsFiles: c.EffectsFiles()})
	if err != nil {
		t.Fatal(err)
	}
	rep := Evaluate(Expectation{Orders: load.Orders()}, obs)
	rep.Title, rep.Duration, rep.Faults = "podium scale out", time.Since(start), faults
	fmt.Fprint(os.Stderr, rep.String())
	if !rep.OK() {
		t.Errorf("invariants violated:%s", rep)
	}
	for _, u := range c.Unexpected() {
		t.Errorf("process exited unexpectedly: %s", u)
	}
}

// waitOwnership waits until the group is stable with members members and the partitions
// of topics are owned as CheckOwnership demands, and returns the group.
func waitOwnership(ctx context.Context, t *testing.T, c *Cluster, group string, topics []string, partitions, members int) Group {
	t.Helper()
	var g Group
	err := poll(ctx, 2*time.Minute, fmt.Sprintf("group %s to settle on %d members", group, members), func() (bool, string) {
		var err error
		g, err = DescribeGroup(ctx, c.Kafka, group)
		if err != nil {
			return false, err.Error()
		}
		problems := g.CheckOwnership(topics, partitions, members)
		return len(problems) == 0, strings.Join(problems, "; ")
	})
	if err != nil {
		t.Fatal(err)
	}
	var owned []string
	for _, m := range g.Members {
		owned = append(owned, fmt.Sprintf("%s…%v", m.ID[:min(len(m.ID), 24)], m.Assigned[topics[0]]))
	}
	t.Logf("group %s: %d members, %s", group, len(g.Members), strings.Join(owned, ", "))
	return g
}
