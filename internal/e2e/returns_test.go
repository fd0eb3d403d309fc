package e2e

import (
	"context"
	"testing"
	"time"

	pclient "github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/sagas"
	"github.com/podiumhq/podium/workers"
)

// startBuiltin starts an orchestrator instance that runs every built-in saga type.
func (s *stack) startBuiltin(name string) {
	s.start(name, func(ctx context.Context) error {
		cfg := s.orchestratorConfig(name)
		cfg.Sagas = sagas.BuiltinWith(s.saga)
		return orchestrator.Run(ctx, cfg)
	})
}

// requestReturns publishes returns through the public client and tracks them.
func (s *stack) requestReturns(rs ...sample.Return) {
	s.t.Helper()
	c, err := pclient.New(s.kafka)
	if err != nil {
		s.t.Fatalf("client: %v", err)
	}
	defer c.Close()
	for _, r := range rs {
		s.tracker.PlacedReturn(r, time.Now())
		if _, err := c.RequestReturn(s.ctx, r.Requested); err != nil {
			s.t.Fatalf("requesting return %s: %v", r.Requested.ReturnID, err)
		}
	}
}

// One orchestrator runs the order and the returns saga side by side: every order and every
// return reaches the outcome its sample kind must produce, each through its own saga type,
// with the lifecycle events of its type.
func TestOrdersAndReturnsOnOneOrchestrator(t *testing.T) {
	s := newStack(t, fastSaga())
	s.startWorkers()
	s.startBuiltin("orch")

	s.place(s.mix(12)...)
	var rs []sample.Return
	for range 2 * len(sample.ReturnKinds) {
		rs = append(rs, s.gen.NextReturn())
	}
	s.requestReturns(rs...)
	sum := s.waitTerminal(60 * time.Second)
	if sum.Placed != 12+len(rs) {
		t.Errorf("tracked %d sagas, want %d", sum.Placed, 12+len(rs))
	}

	states := s.states()
	for _, r := range rs {
		st := states[r.Requested.ReturnID]
		if st == nil {
			t.Errorf("return %s: no saga state", r.Requested.ReturnID)
			continue
		}
		if st.Definition != returns.DefinitionName {
			t.Errorf("return %s ran definition %q, want %q", r.Requested.ReturnID, st.Definition, returns.DefinitionName)
		}
		if r.Want.Status == sample.StatusRefunded && st.Status != saga.StatusCompleted {
			t.Errorf("return %s: saga %s, want completed", r.Requested.ReturnID, st.Status)
		}
	}
	s.checkEffects()
}

// A generic control request (podium.saga.cancel.v1) cancels a return in flight, and one for
// a finished return is rejected with a podium.saga.control-rejected.v1. The finished saga
// has left memory and the dedupe window keeps only its engine status, not its type: with two
// saga types served, the rejection names the engine's status (compensated).
func TestGenericControlOnAReturn(t *testing.T) {
	s := newStack(t, fastSaga())
	for _, w := range events.Workers {
		faults := workers.Faults{}
		if w == "inventory" {
			faults.Latency = 3 * time.Second // keeps the first return in flight
		}
		s.startWorker(w, faults)
	}
	s.startBuiltin("orch")

	slow := s.gen.MakeReturn(sample.ReturnHappy)
	slow.Want = sample.Outcome{Status: sample.StatusRejected, Reason: "test"} // the request's reason
	s.requestReturns(slow)
	id := slow.Requested.ReturnID
	s.waitFor(30*time.Second, "the return's pickup", func() (bool, string) {
		st := s.states()[id]
		return st != nil && len(st.Milestones) > 0, "no picked-up milestone yet"
	})
	cancelID := s.request(events.TypeSagaCancel, id)
	s.waitTerminal(60 * time.Second)
	if !s.appliedBy(id, cancelID) {
		t.Errorf("the cancel %s of %s is not in its timeline's applied requests", cancelID, id)
	}

	again := s.request(events.TypeSagaCancel, id)
	o := s.awaitOutcome(id, again, events.TypeSagaControlRejected, 30*time.Second)
	if o.SagaID != id || o.OrderID != "" || o.Status != string(saga.StatusCompensated) || o.Reason != events.ControlOrderFinished {
		t.Errorf("the rejection of a cancel of a rejected return: %+v, want saga_id %s, status %s, reason %s",
			o, id, saga.StatusCompensated, events.ControlOrderFinished)
	}
}
