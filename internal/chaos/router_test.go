package chaos

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/devbroker"
	"github.com/podiumhq/podium/internal/devstack"
	pkafka "github.com/podiumhq/podium/internal/kafka"
)

func requestHeader(apiKey, version int16, corr int32, clientID *string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(apiKey))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if clientID == nil {
		return binary.BigEndian.AppendUint16(b, 0xffff)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
	return append(b, *clientID...)
}

func TestClientID(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		name    string
		frame   []byte
		want    string
		wantErr bool
	}{
		{"orchestrator", requestHeader(18, 3, 1, str("podium-orchestrator")), "podium-orchestrator", false},
		{"worker, trailing body", append(requestHeader(3, 12, 7, str("podium-worker-payment")), 0, 0, 1), "podium-worker-payment", false},
		{"null client ID", requestHeader(18, 0, 1, nil), "", false},
		{"too short", []byte{0, 18, 0, 3}, "", true},
		{"truncated client ID", requestHeader(18, 3, 1, str("podium-orchestrator"))[:15], "", true},
	}
	for _, c := range cases {
		got, err := ClientID(c.frame)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: ClientID = %q, %v; want %q, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestRoleOf(t *testing.T) {
	cases := map[string]string{
		"podium-orchestrator":      RoleOrchestrator,
		"podium-worker-inventory":  RoleWorker,
		"podium-worker-":           RoleWorker,
		"podium-chaos":             RoleOther,
		"":                         RoleOther,
		"podium-orchestrator-evil": RoleOther,
	}
	for id, want := range cases {
		if got := RoleOf(id); got != want {
			t.Errorf("RoleOf(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestRouterCutsOneRole puts the router in front of a real broker that advertises it, cuts
// the orchestrator role, and checks that a client calling itself podium-orchestrator gets
// nowhere while a worker's client keeps working — and that both work once the cut heals.
func TestRouterCutsOneRole(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the embedded broker: skipped with -short")
	}
	t.Parallel() // in process, mostly waiting out fault durations
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	n, err := NewNetwork(addr, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := devbroker.Start(ctx, devbroker.Config{Addr: addr, Advertise: n.Addr(), Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	reach := func(clientID string, timeout time.Duration) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cfg := pkafka.Config{Brokers: []string{n.Addr()}, ClientID: clientID}
		_, err := pkafka.PartitionCounts(cctx, cfg, []string{events.TopicOrdersPlaced})
		return err
	}
	for _, id := range []string{"podium-orchestrator", "podium-worker-payment", "podium-chaos"} {
		if err := reach(id, 20*time.Second); err != nil {
			t.Fatalf("%s through the router: %v", id, err)
		}
	}
	heal, err := n.Cut(RoleOrchestrator)
	if err != nil {
		t.Fatal(err)
	}
	if err := reach("podium-orchestrator", 2*time.Second); err == nil {
		t.Errorf("the orchestrator reached the broker through a cut")
	}
	if err := reach("podium-worker-payment", 20*time.Second); err != nil {
		t.Errorf("a worker is cut off although only the orchestrator is: %v", err)
	}
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	if err := reach("podium-orchestrator", 30*time.Second); err != nil {
		t.Errorf("the orchestrator cannot reach the broker after the cut healed: %v", err)
	}
}
