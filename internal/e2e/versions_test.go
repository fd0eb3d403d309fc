package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/sample"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/workers"
)

// stepSendReceipt is what version 2 of the order saga adds: a second e-mail after the
// confirmation, answered by the notification worker like the first.
const stepSendReceipt = "send-receipt"

// orderV2 is the order saga with one more step.
func orderV2(o order.Options) *saga.Definition {
	d := order.NewDefinition(o)
	d.Version = 2
	var confirmation saga.Step
	for _, st := range d.Steps {
		if st.Name == order.StepSendConfirmation {
			confirmation = st
		}
	}
	receipt := confirmation
	receipt.Name, receipt.After = stepSendReceipt, []string{order.StepSendConfirmation}
	d.Steps = append(d.Steps, receipt)
	return d
}

// placeInFlight places n happy orders with the seller slow enough that they are all in
// flight (approved, waiting on the seller) when it returns.
func placeInFlight(s *stack, n int) []string {
	s.t.Helper()
	var ids []string
	var orders []sample.Order
	for range n {
		o := s.gen.Make(sample.Happy)
		orders = append(orders, o)
		ids = append(ids, o.Placed.OrderID)
	}
	s.place(orders...)
	s.waitFor(30*time.Second, "the orders to wait on the seller", func() (bool, string) {
		states := s.states()
		waiting := 0
		for _, id := range ids {
			if st := states[id]; st != nil && st.Steps[order.StepPrepareShipment].Status == saga.StepDispatched {
				waiting++
			}
		}
		return waiting == n, strings.Repeat("·", waiting)
	})
	return ids
}

// Sagas started on version 1 finish on it after a restart that adds version 2; new sagas
// start on version 2 and run its extra step.
func TestDefinitionVersionsSideBySide(t *testing.T) {
	s := newStack(t, fastSaga())
	for _, w := range events.Workers {
		faults := workers.Faults{}
		if w == "seller" {
			faults.Latency = 1500 * time.Millisecond // keeps the version-1 sagas in flight
		}
		s.startWorker(w, faults)
	}
	s.startOrchestrator("orch-v1")
	old := placeInFlight(s, 4)
	s.stop("orch-v1")
	s.stop("worker-seller") // fast again: the new orders must not time out behind the old
	s.startWorker("seller", workers.Faults{})

	s.start("orch-v2", func(ctx context.Context) error {
		cfg := s.orchestratorConfig("orch-v2")
		cfg.Sagas[0].Definition, cfg.Sagas[0].Previous = orderV2(s.saga), []*saga.Definition{order.NewDefinition(s.saga)}
		return orchestrator.Run(ctx, cfg)
	})
	var fresh []string
	for range 3 {
		o := s.gen.Make(sample.Happy)
		s.place(o)
		fresh = append(fresh, o.Placed.OrderID)
	}
	s.waitTerminal(60 * time.Second)

	states := s.states()
	for _, id := range old {
		st := states[id]
		if st == nil || st.Definition != order.DefinitionName || st.Steps[stepSendReceipt] != nil {
			t.Errorf("%s: started on version 1, finished as %+v", id, st)
		}
	}
	for _, id := range fresh {
		st := states[id]
		if st == nil || st.Definition != order.DefinitionName+"@v2" {
			t.Errorf("%s: want a version-2 saga, got %+v", id, st)
			continue
		}
		if r := st.Steps[stepSendReceipt]; r == nil || r.Status != saga.StepSucceeded {
			t.Errorf("%s: the version-2 step is %+v, want succeeded", id, r)
		}
	}
}

// An orchestrator without a version that sagas in flight need stops at once, naming the
// version and how many sagas need it.
func TestMissingDefinitionVersionStopsTheOrchestrator(t *testing.T) {
	s := newStack(t, fastSaga())
	for _, w := range events.Workers {
		faults := workers.Faults{}
		if w == "seller" {
			faults.Latency = 5 * time.Second
		}
		s.startWorker(w, faults)
	}
	s.startOrchestrator("orch-v1")
	placeInFlight(s, 3)
	s.stop("orch-v1")

	cfg := s.orchestratorConfig("orch-v2-only")
	cfg.Sagas[0].Definition = orderV2(s.saga)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := orchestrator.Run(ctx, cfg)
	var missing *orchestrator.MissingDefinitionError
	switch {
	case !errors.Is(err, orchestrator.ErrMissingDefinition) || !errors.As(err, &missing):
		t.Fatalf("Run without version 1: %v, want ErrMissingDefinition", err)
	case ctx.Err() != nil:
		t.Fatal("Run returned only when the test's deadline passed")
	case missing.Sagas[order.DefinitionName] == 0 || !strings.Contains(err.Error(), "definition order (version 1)"):
		t.Errorf("the error does not name version 1 and its sagas: %v", err)
	}
}
