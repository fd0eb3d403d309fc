package workers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/workers"
)

var (
	_ workers.Handler = (*workers.Mux)(nil)
	_ workers.Syncer  = (*workers.Mux)(nil)
)

// muxCommand is a command of type typ with data, as Run hands it to a handler.
func muxCommand(typ, saga, data string) workers.Command {
	return workers.Command{Envelope: events.Envelope{
		ID: "cmd-1", Type: typ, Subject: saga, SagaID: saga, Step: "reserve-inventory", Attempt: 1,
		IdempotencyKey: saga + "/reserve-inventory", Data: json.RawMessage(data),
	}}
}

// inventoryMux reserves every item and releases anything, recording what it was called with.
func inventoryMux(got *[]string) *workers.Mux {
	m := workers.NewMux()
	workers.Handle(m, events.TypeInventoryReserve, func(_ context.Context, cmd workers.Command, r events.ReserveInventory) workers.Result {
		*got = append(*got, fmt.Sprintf("reserve %s %s x%d", cmd.SagaID(), r.Items[0].SKU, r.Items[0].Quantity))
		if strings.HasPrefix(r.Items[0].SKU, "OOS-") {
			return workers.Failure("out_of_stock", r.Items[0].SKU)
		}
		return workers.Success(map[string]string{"reservation_id": "res-" + r.OrderID})
	})
	workers.Handle(m, events.TypeInventoryRelease, func(_ context.Context, cmd workers.Command, r events.ReleaseInventory) workers.Result {
		*got = append(*got, "release "+r.OrderID)
		return workers.Success(nil)
	})
	return m
}

func TestMuxDispatchesByType(t *testing.T) {
	tests := []struct {
		name        string
		cmd         workers.Command
		wantOutcome string
		wantReason  string
		wantCalls   []string
	}{
		{
			name:        "typed data reaches its handler",
			cmd:         muxCommand(events.TypeInventoryReserve, "ord-1", `{"order_id":"ord-1","items":[{"sku":"SKU-1","quantity":2,"unit_price":100}]}`),
			wantOutcome: events.OutcomeSuccess,
			wantCalls:   []string{"reserve ord-1 SKU-1 x2"},
		},
		{
			name:        "the handler's failure is the result",
			cmd:         muxCommand(events.TypeInventoryReserve, "ord-2", `{"order_id":"ord-2","items":[{"sku":"OOS-1","quantity":1,"unit_price":100}]}`),
			wantOutcome: events.OutcomeFailure,
			wantReason:  "out_of_stock",
			wantCalls:   []string{"reserve ord-2 OOS-1 x1"},
		},
		{
			name:        "second type",
			cmd:         muxCommand(events.TypeInventoryRelease, "ord-3", `{"order_id":"ord-3"}`),
			wantOutcome: events.OutcomeSuccess,
			wantCalls:   []string{"release ord-3"},
		},
		{
			name:        "data that does not decode into the type",
			cmd:         muxCommand(events.TypeInventoryReserve, "ord-4", `{"order_id":4}`),
			wantOutcome: events.OutcomeFailure,
			wantReason:  workers.ReasonInvalidPayload,
		},
		{
			name:        "no data",
			cmd:         muxCommand(events.TypeInventoryReserve, "ord-5", ``),
			wantOutcome: events.OutcomeFailure,
			wantReason:  workers.ReasonInvalidPayload,
		},
		{
			name:        "type without a handler",
			cmd:         muxCommand(events.TypePaymentAuthorize, "ord-6", `{}`),
			wantOutcome: events.OutcomeFailure,
			wantReason:  workers.ReasonUnknownCommand,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			res := inventoryMux(&calls).Handle(context.Background(), tt.cmd)
			if res.Outcome != tt.wantOutcome || res.Reason != tt.wantReason {
				t.Errorf("got outcome %q reason %q (%s), want %q %q", res.Outcome, res.Reason, res.Message, tt.wantOutcome, tt.wantReason)
			}
			if tt.wantReason != "" && tt.wantReason != "out_of_stock" && !strings.Contains(res.Message, tt.cmd.Type()) {
				t.Errorf("got message %q, want it to name the command type %s", res.Message, tt.cmd.Type())
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("got handler calls %q, want %q", calls, tt.wantCalls)
			}
		})
	}
}

func TestMuxPointerPayload(t *testing.T) {
	var m workers.Mux // the zero value is usable
	workers.Handle(&m, events.TypeInventoryRelease, func(_ context.Context, _ workers.Command, r *events.ReleaseInventory) workers.Result {
		return workers.Success(r.OrderID)
	})
	res := m.Handle(context.Background(), muxCommand(events.TypeInventoryRelease, "ord-1", `{"order_id":"ord-1"}`))
	if res.Outcome != events.OutcomeSuccess || res.Result != "ord-1" {
		t.Errorf("got %+v, want success with result ord-1", res)
	}
}

func TestMuxTypes(t *testing.T) {
	var calls []string
	m := inventoryMux(&calls)
	want := []string{events.TypeInventoryReserve, events.TypeInventoryRelease}
	got := m.Types()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got[0] = "changed"
	if again := m.Types(); !slices.Equal(again, want) {
		t.Errorf("after changing the returned slice: got %q, want %q", again, want)
	}
	if got := workers.NewMux().Types(); len(got) != 0 {
		t.Errorf("empty mux: got %q, want none", got)
	}
}

func TestMuxSync(t *testing.T) {
	m := workers.NewMux()
	if err := m.Sync(); err != nil {
		t.Errorf("without SyncFunc: got %v, want nil", err)
	}
	boom := errors.New("disk full")
	var n int
	m.SyncFunc = func() error { n++; return boom }
	if err := m.Sync(); !errors.Is(err, boom) || n != 1 {
		t.Errorf("with SyncFunc: got %v after %d calls, want %v after 1", err, n, boom)
	}
}

func TestHandlePanicsOnSetupMistakes(t *testing.T) {
	ok := func(context.Context, workers.Command, events.ReleaseInventory) workers.Result {
		return workers.Success(nil)
	}
	tests := []struct {
		name string
		fn   func(m *workers.Mux)
	}{
		{"empty type", func(m *workers.Mux) { workers.Handle(m, "", ok) }},
		{"nil handler", func(m *workers.Mux) { workers.Handle[events.ReleaseInventory](m, events.TypeInventoryRelease, nil) }},
		{"twice", func(m *workers.Mux) {
			workers.Handle(m, events.TypeInventoryRelease, ok)
			workers.Handle(m, events.TypeInventoryRelease, ok)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("got no panic, want one")
				}
			}()
			tt.fn(workers.NewMux())
		})
	}
}

func TestMuxConcurrentUse(t *testing.T) {
	m := workers.NewMux()
	var handled atomic.Int64
	workers.Handle(m, events.TypeInventoryRelease, func(context.Context, workers.Command, events.ReleaseInventory) workers.Result {
		handled.Add(1)
		return workers.Success(nil)
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				m.Handle(context.Background(), muxCommand(events.TypeInventoryRelease, "ord-1", `{"order_id":"ord-1"}`))
			}
		})
	}
	wg.Go(func() {
		workers.Handle(m, events.TypeInventoryReserve, func(context.Context, workers.Command, events.ReserveInventory) workers.Result {
			return workers.Success(nil)
		})
		_ = m.Types()
	})
	wg.Wait()
	if got := handled.Load(); got != 400 {
		t.Errorf("got %d calls, want 400", got)
	}
}

// TestRunWithMux runs a typed Mux as a worker: the reply carries the typed handler's result,
// and Run syncs the Mux before it replies.
func TestRunWithMux(t *testing.T) {
	c := newCluster(t)
	var synced atomic.Int64
	m := workers.NewMux()
	m.SyncFunc = func() error { synced.Add(1); return nil }
	workers.Handle(m, events.TypeInventoryReserve, func(_ context.Context, cmd workers.Command, r events.ReserveInventory) workers.Result {
		return workers.Success(map[string]string{"reservation_id": "res-" + cmd.SagaID() + "-" + r.Items[0].SKU})
	})
	c.startConfig(m, workers.Config{Types: m.Types()})

	c.send(command(t, "ord-1", "cmd-1", 1, "SKU-9"))
	env, data := decode(t, c.waitFor(repliesTopic, 1)[0])
	if env.Outcome != events.OutcomeSuccess || string(data.Result) != `{"reservation_id":"res-ord-1-SKU-9"}` {
		t.Errorf("got outcome %q result %s, want success {\"reservation_id\":\"res-ord-1-SKU-9\"}", env.Outcome, data.Result)
	}
	if synced.Load() == 0 {
		t.Error("got no Sync call before the reply, want at least one")
	}
}

// TestDecodeUsesThePayload: a command decoded by events.Decode carries its payload, which
// the Mux and Command.Decode hand out instead of decoding the data again.
func TestDecodeUsesThePayload(t *testing.T) {
	e, err := events.NewEvent(events.TypeInventoryReserve, "ord-1",
		json.RawMessage(`{"order_id":"ord-1","items":[{"sku":"SKU-1","quantity":2,"unit_price":100}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e.SagaID, e.Step, e.Attempt, e.IdempotencyKey = "ord-1", "reserve-inventory", 1, "ord-1/reserve-inventory"
	value, headers, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := events.Decode(events.Record{Topic: "inventory.commands", Value: value, Headers: headers})
	if err != nil {
		t.Fatal(err)
	}
	// Data that would decode differently shows which one was used.
	decoded.Data = json.RawMessage(`{"order_id":"ord-1","items":[{"sku":"FROM-DATA","quantity":1,"unit_price":1}]}`)
	cmd := workers.Command{Envelope: decoded}

	var r events.ReserveInventory
	if err := cmd.Decode(&r); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got, want := r.Items[0].SKU, "SKU-1"; got != want {
		t.Errorf("Command.Decode: got SKU %q, want %q (the payload)", got, want)
	}
	var other events.ReleaseInventory // not the payload's type: decoded from Data
	if err := cmd.Decode(&other); err != nil || other.OrderID != "ord-1" {
		t.Errorf("Command.Decode into another type: got %+v, %v, want order_id ord-1 from Data", other, err)
	}

	var got []string
	inventoryMux(&got).Handle(context.Background(), cmd)
	if want := []string{"reserve ord-1 SKU-1 x2"}; !slices.Equal(got, want) {
		t.Errorf("Mux: got calls %q, want %q (the payload)", got, want)
	}
}
