package devbroker

import (
	"errors"
	"net"
	"testing"
)

// The broker's port accepts TCP connections from the start, but none is served before
// open: a client started with the broker must not find it without its topics.
func TestListenerHoldsConnectionsUntilOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newAdvertisingListener(ln, hostPortAddr("broker.example:9092"))
	defer l.Close()
	if got := l.Addr().String(); got != "broker.example:9092" {
		t.Errorf("Addr() = %q, want the advertised address", got)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			_ = c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialing the held listener: %v (the port must accept connections)", err)
	}
	defer c.Close()
	select {
	case err := <-accepted:
		t.Fatalf("Accept returned (%v) before open", err)
	default:
	}
	l.open()
	l.open() // idempotent
	if err := <-accepted; err != nil {
		t.Fatalf("Accept after open: %v", err)
	}
}

func TestListenerCloseEndsAHeldAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newAdvertisingListener(ln, ln.Addr())
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if err := l.Close(); err == nil {
		t.Error("a second Close succeeded; want the listener's already-closed error")
	}
}
