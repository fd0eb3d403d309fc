package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podiumhq/podium/internal/devstack"
	"github.com/podiumhq/podium/internal/sample"
)

func defaultDevOptions() devOptions {
	return devOptions{BrokerAddr: "127.0.0.1:9092", APIAddr: "127.0.0.1:8080", MetricsAddr: "127.0.0.1:9464"}
}

// TestDevPortBase checks how --port-base moves the addresses, and the addresses refused.
func TestDevPortBase(t *testing.T) {
	tests := []struct {
		name                 string
		edit                 func(*devOptions)
		broker, api, metrics string
		wantErr              string
	}{
		{name: "no base", edit: func(*devOptions) {},
			broker: "127.0.0.1:9092", api: "127.0.0.1:8080", metrics: "127.0.0.1:9464"},
		{name: "base", edit: func(o *devOptions) { o.PortBase = 19000 },
			broker: "127.0.0.1:19000", api: "127.0.0.1:19001", metrics: "127.0.0.1:19002"},
		{name: "base keeps hosts and what is off", edit: func(o *devOptions) {
			o.PortBase, o.APIAddr, o.MetricsAddr = 19000, "0.0.0.0:1", ""
		}, broker: "127.0.0.1:19000", api: "0.0.0.0:19001", metrics: ""},
		{name: "negative base", edit: func(o *devOptions) { o.PortBase = -1 }, wantErr: "--port-base: want 1 to 65533"},
		{name: "base too high", edit: func(o *devOptions) { o.PortBase = 65534 }, wantErr: "--port-base: want 1 to 65533"},
		{name: "no port", edit: func(o *devOptions) { o.APIAddr = "localhost" }, wantErr: "--api-addr: address localhost: missing port"},
		{name: "port zero", edit: func(o *devOptions) { o.BrokerAddr = "127.0.0.1:0" }, wantErr: `--broker-addr: port "0" is not a number from 1 to 65535`},
		{name: "no broker", edit: func(o *devOptions) { o.BrokerAddr = "" }, wantErr: "--broker-addr: required"},
		{name: "one port twice", edit: func(o *devOptions) { o.MetricsAddr = "127.0.0.1:8080" },
			wantErr: "--api-addr and --orchestrator-metrics-addr both use port 8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultDevOptions()
			tt.edit(&o)
			err := o.resolvePorts()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.BrokerAddr != tt.broker || o.APIAddr != tt.api || o.MetricsAddr != tt.metrics {
				t.Errorf("got broker %q, API %q, metrics %q; want %q, %q, %q",
					o.BrokerAddr, o.APIAddr, o.MetricsAddr, tt.broker, tt.api, tt.metrics)
			}
		})
	}
}

// TestDevPortTaken holds a port, moves podium dev's ports so that its API would need it,
// and checks that dev's port check names the port, its use and (where /proc tells) this
// process.
func TestDevPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	o := defaultDevOptions()
	o.PortBase = port - 1 // the API listens on base+1
	if err := o.resolvePorts(); err != nil {
		t.Fatal(err)
	}
	err = o.checkPorts()
	if err == nil {
		t.Fatalf("port %d is held, but the check passed", port)
	}
	for _, want := range []string{fmt.Sprintf("port %d (the API and dashboard, 127.0.0.1:%d) is taken by", port, port), "--port-base"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// The ports next to it may be taken too, by whatever else runs here.
	inUse := portInUse(err, o.APIAddr)
	if inUse == nil {
		t.Fatalf("got %v, want a *devstack.PortInUseError for %s", err, o.APIAddr)
	}
	if runtime.GOOS == "linux" {
		if _, statErr := os.Stat("/proc/self/fd"); statErr == nil {
			if want := "pid " + strconv.Itoa(os.Getpid()) + " ("; !strings.HasPrefix(inUse.Owner, want) {
				t.Errorf("owner: got %q, want it to start with %q", inUse.Owner, want)
			}
		}
	}
}

// portInUse finds the *devstack.PortInUseError for addr in err's tree.
func portInUse(err error, addr string) *devstack.PortInUseError {
	var e *devstack.PortInUseError
	if errors.As(err, &e) && e.Addr == addr {
		return e
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, err := range u.Unwrap() {
			if e := portInUse(err, addr); e != nil {
				return e
			}
		}
	case interface{ Unwrap() error }:
		return portInUse(u.Unwrap(), addr)
	}
	return nil
}

// TestDevCounts checks how --orders and --returns resolve, and the counts refused.
func TestDevCounts(t *testing.T) {
	tests := []struct {
		orders, returns int
		wantReturns     int
		wantErr         string
	}{
		{orders: 60, returns: -1, wantReturns: 20},
		{orders: 2, returns: -1, wantReturns: 0},
		{orders: 60, returns: 0, wantReturns: 0},
		{orders: 0, returns: 7, wantReturns: 7},
		{orders: 0, returns: -1, wantErr: "nothing to place"},
		{orders: 0, returns: 0, wantErr: "nothing to place"},
		{orders: -1, returns: 3, wantErr: "--orders: want 0 or more"},
		{orders: 5, returns: -2, wantErr: "--returns: want 0 or more"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("orders %d returns %d", tt.orders, tt.returns), func(t *testing.T) {
			o := devOptions{Orders: tt.orders, Returns: tt.returns}
			err := o.resolveCounts()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Returns != tt.wantReturns {
				t.Errorf("returns: got %d, want %d", o.Returns, tt.wantReturns)
			}
		})
	}
}

// TestDevSummary feeds orders and returns of every kind into their trackers and checks the
// progress line, the summary (the orders' lines as scripts and tests match them, the
// returns' in their own words) and the exit status of --exit: pending, mismatched, all
// as they must.
func TestDevSummary(t *testing.T) {
	g := sample.NewGenerator("sum", 1)
	orders, returns := sample.NewTracker(), sample.NewTracker()
	kinds := []sagaKind{ordersKind(orders), returnsKind(returns)}
	now := time.Now()
	var rets []sample.Return
	for _, k := range sample.Kinds {
		o := g.Make(k)
		orders.Placed(o, now)
		orders.Observe(o.Placed.OrderID, o.Want.Status, o.Want.Reason, now.Add(time.Second))
	}
	for _, k := range sample.ReturnKinds {
		r := g.MakeReturn(k)
		returns.PlacedReturn(r, now)
		rets = append(rets, r)
	}
	// Every return but the last is terminal as it must be.
	for _, r := range rets[:len(rets)-1] {
		returns.Observe(r.Requested.ReturnID, r.Want.Status, r.Want.Reason, now.Add(2*time.Second))
	}
	sums := []sample.Summary{orders.Summary(), returns.Summary()}
	nr := len(sample.ReturnKinds)
	if got, want := progressLine(kinds, sums), fmt.Sprintf("progress: orders %d/%d terminal (completed 2, cancelled %d, failed 0); returns %d/%d terminal (refunded 1, rejected %d, failed 0)",
		len(sample.Kinds), len(sample.Kinds), len(sample.Kinds)-2, nr-1, nr, nr-2); got != want {
		t.Errorf("progress: got %q, want %q", got, want)
	}
	err := exitForSummaries(kinds, sums, time.Minute)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "1 returns not terminal: "+rets[nr-1].Requested.ReturnID) {
		t.Errorf("one return pending: got %v, want exit 1 naming it", err)
	}

	last := rets[nr-1]
	returns.Observe(last.Requested.ReturnID, sample.StatusRejected, "no_pickup_partner", now.Add(3*time.Second)) // it must be refunded
	sums = []sample.Summary{orders.Summary(), returns.Summary()}
	out := report(kinds, sums)
	for _, want := range []string{
		fmt.Sprintf("orders placed: %d, terminal: %d, pending: 0\n", len(sample.Kinds), len(sample.Kinds)),
		"cancelled by reason:\n",
		"latency placed→terminal: p50 1s",
		fmt.Sprintf("returns requested: %d, terminal: %d, pending: 0\n", nr, nr),
		"rejected by reason:\n",
		"  not_restockable             1\n",
		"latency requested→terminal: p50 2s",
		"MISMATCHED OUTCOMES (1):\n  " + last.Requested.ReturnID + ": want refunded , got rejected no_pickup_partner",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "orders placed") > strings.Index(out, "returns requested") {
		t.Errorf("summary: got returns before orders:\n%s", out)
	}
	err = exitForSummaries(kinds, sums, time.Minute)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "1 returns ended differently") {
		t.Errorf("one return mismatched: got %v, want exit 1 naming the returns", err)
	}
	if err := exitForSummaries(kinds[:1], sums[:1], time.Minute); err != nil {
		t.Errorf("orders as they must: got %v, want nil", err)
	}
}
