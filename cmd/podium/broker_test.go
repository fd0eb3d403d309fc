package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrokerReadyFile runs `podium broker --ready-file` in-process: once it listens the file
// holds an address that accepts connections — what `podium dev` waits for before any
// client connects.
func TestBrokerReadyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"broker", "--addr", "127.0.0.1:0", "--in-memory", "--partitions", "1",
			"--log-level", "error", "--ready-file", path})
	}()

	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var addr string
	for addr == "" {
		select {
		case err := <-done:
			t.Fatalf("the broker exited before writing %s: %v", path, err)
		case <-deadline:
			t.Fatalf("no %s after 30s", path)
		case <-tick.C:
			b, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			addr = strings.TrimSpace(string(b))
		}
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		t.Fatalf("ready file holds %q, want the bound host:port", addr)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dialling the address of the ready file: %v", err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("broker: %v", err)
	}
}
