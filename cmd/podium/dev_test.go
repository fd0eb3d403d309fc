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

	"github.com/podiumhq/podium/internal/devstack"
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
