package chaos

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Roles a connection can be routed as.
const (
	RoleOrchestrator = "orchestrator"
	RoleWorker       = "worker"
	RoleOther        = "other"
)

// RoleOf classifies a Kafka client ID: podium's orchestrator connects as
// "podium-orchestrator", its workers as "podium-worker-<name>".
func RoleOf(clientID string) string {
	switch {
	case clientID == "podium-orchestrator":
		return RoleOrchestrator
	case strings.HasPrefix(clientID, "podium-worker-"):
		return RoleWorker
	default:
		return RoleOther
	}
}

// maxPeek bounds the first request the router reads to learn a client ID.
const maxPeek = 1 << 20

// ClientID reads the client ID from the header of the first Kafka request of a connection:
// size (int32), api key (int16), api version (int16), correlation ID (int32), client ID
// (nullable int16-length string; the same in every request header version). frame is the
// request without its size prefix.
func ClientID(frame []byte) (string, error) {
	if len(frame) < 10 {
		return "", errors.New("request header too short")
	}
	n := int16(binary.BigEndian.Uint16(frame[8:10]))
	if n < 0 {
		return "", nil
	}
	if len(frame) < 10+int(n) {
		return "", errors.New("client ID truncated")
	}
	return string(frame[10 : 10+int(n)]), nil
}

// Network is an embedded toxiproxy with named proxies in front of one broker, and a router
// that clients reach instead of the broker. Start the broker advertising Addr(): every
// client then connects to the router, which reads the client ID of each new connection and
// splices it through the proxy of its role. In-process clients can instead dial a proxy of
// their own (ViaProxy(ProxyAddr(name))). Faults (Cut, Hold, Reset, Latency) apply to one
// proxy. Safe for concurrent use.
type Network struct {
	upstream string
	server   *toxiproxy.ApiServer
	proxies  map[string]*toxiproxy.Proxy
	first    string
	ln       net.Listener
	log      zerolog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewNetwork starts one proxy per name for the broker at upstream (which need not be up
// yet) and the router, each on a free port of 127.0.0.1. Without names it starts the
// proxies of the roles: RoleOrchestrator, RoleWorker and RoleOther. The router sends a
// connection to the proxy named after its client's role, or else to RoleOther's, or else to
// the first one.
func NewNetwork(upstream string, log zerolog.Logger, names ...string) (*Network, error) {
	if len(names) == 0 {
		names = []string{RoleOrchestrator, RoleWorker, RoleOther}
	}
	n := &Network{
		upstream: upstream,
		server:   toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		proxies:  map[string]*toxiproxy.Proxy{},
		log:      log,
		conns:    map[net.Conn]struct{}{},
	}
	n.first = names[0]
	for _, role := range names {
		p := toxiproxy.NewProxy(n.server, role, "127.0.0.1:0", upstream)
		if err := p.Start(); err != nil {
			n.Close()
			return nil, fmt.Errorf("starting the %s proxy: %w", role, err)
		}
		n.proxies[role] = p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("starting the router: %w", err)
	}
	n.ln = ln
	n.wg.Add(1)
	go n.accept()
	return n, nil
}

// Addr is the router's address: what the broker must advertise.
func (n *Network) Addr() string { return n.ln.Addr().String() }

// ProxyAddr is the listen address of a named proxy (a direct way in, bypassing the router).
func (n *Network) ProxyAddr(name string) string { return n.proxies[name].Listen }

// accept runs until the listener is closed.
func (n *Network) accept() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.route(c)
		}()
	}
}

// route reads the first request of c, picks the proxy of its client's role and splices.
func (n *Network) route(c net.Conn) {
	n.track(c, true)
	defer n.track(c, false)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	var size [4]byte
	if _, err := io.ReadFull(br, size[:]); err != nil {
		return
	}
	frame := make([]byte, min(int(binary.BigEndian.Uint32(size[:])), maxPeek))
	if _, err := io.ReadFull(br, frame); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	id, err := ClientID(frame)
	role := RoleOf(id)
	if err != nil {
		role = RoleOther
	}
	if _, ok := n.proxies[role]; !ok {
		role = RoleOther
	}
	if _, ok := n.proxies[role]; !ok {
		role = n.first
	}
	up, err := net.DialTimeout("tcp", n.proxies[role].Listen, 10*time.Second)
	if err != nil {
		n.log.Debug().Err(err).Str("role", role).Msg("dialing proxy")
		return
	}
	n.track(up, true)
	defer n.track(up, false)
	defer up.Close()
	if _, err := up.Write(append(size[:], frame...)); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, br); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); closeWrite(c); done <- struct{}{} }()
	<-done
	// One side ended: end the other too (a peer reset must reach the client).
	_ = c.Close()
	_ = up.Close()
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (n *Network) track(c net.Conn, add bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if add {
		n.conns[c] = struct{}{}
	} else {
		delete(n.conns, c)
	}
}

// Close stops the router and the proxies and drops every connection.
func (n *Network) Close() {
	if n.ln != nil {
		_ = n.ln.Close()
	}
	n.mu.Lock()
	for c := range n.conns {
		_ = c.Close()
	}
	n.mu.Unlock()
	for _, p := range n.proxies {
		p.Stop()
	}
	n.wg.Wait()
}

// addToxic adds a toxic to a role's proxy.
func (n *Network) addToxic(role, name, typ, stream string, attrs string) error {
	p, ok := n.proxies[role]
	if !ok {
		return fmt.Errorf("no proxy for role %q", role)
	}
	doc := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(doc)); err != nil {
		return fmt.Errorf("adding toxic %s to the %s proxy: %w", name, role, err)
	}
	return nil
}

func (n *Network) removeToxic(role, name string) error {
	if err := n.proxies[role].Toxics.RemoveToxic(context.Background(), name); err != nil {
		return fmt.Errorf("removing toxic %s from the %s proxy: %w", name, role, err)
	}
	return nil
}

// Cut blackholes a role: nothing passes in either direction on its connections, old or
// new, and what is sent meanwhile is dropped (toxiproxy's timeout toxic with timeout 0),
// until the returned heal function is called.
func (n *Network) Cut(role string) (heal func() error, err error) {
	return n.both(role, "cut", "timeout", `{"timeout":0}`)
}

// Hold stalls a role's traffic towards the broker by d per chunk: requests are delayed, not
// lost. It models a partition that heals while the client keeps retransmitting: when the
// returned release function is called, everything held is delivered at once — writes a
// client gave up on land late, after its partitions may have moved.
func (n *Network) Hold(role string, d time.Duration) (release func() error, err error) {
	attrs := fmt.Sprintf(`{"latency":%d,"jitter":0}`, d.Milliseconds())
	if err := n.addToxic(role, "hold", "latency", "upstream", attrs); err != nil {
		return nil, err
	}
	return func() error { return n.removeToxic(role, "hold") }, nil
}

// Latency adds latency±jitter to a role's traffic in both directions until the returned
// function is called.
func (n *Network) Latency(role string, latency, jitter time.Duration) (stop func() error, err error) {
	return n.both(role, "latency", "latency", fmt.Sprintf(`{"latency":%d,"jitter":%d}`, latency.Milliseconds(), jitter.Milliseconds()))
}

// Reset resets every connection of a role (TCP RST) that carries data during d, new ones
// included, then lets connections through again.
func (n *Network) Reset(ctx context.Context, role string, d time.Duration) error {
	stop, err := n.both(role, "reset", "reset_peer", `{"timeout":0}`)
	if err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return stop()
}

// both adds a toxic to both directions of a role and returns its removal.
func (n *Network) both(role, name, typ, attrs string) (func() error, error) {
	if err := n.addToxic(role, name+"-up", typ, "upstream", attrs); err != nil {
		return nil, err
	}
	if err := n.addToxic(role, name+"-down", typ, "downstream", attrs); err != nil {
		return nil, errors.Join(err, n.removeToxic(role, name+"-up"))
	}
	return func() error {
		return errors.Join(n.removeToxic(role, name+"-up"), n.removeToxic(role, name+"-down"))
	}, nil
}

// DirectDial returns a dial hook (pkafka.Config.Dial) that connects to real whenever a
// client asks for advertised: the test's own clients bypass the router and its faults.
func DirectDial(advertised, real string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == advertised {
			addr = real
		}
		return d.DialContext(ctx, network, addr)
	}
}

// ViaProxy returns a dial hook that sends every connection, whatever broker address it is
// for, to proxy: an in-process client behind its own fault proxy.
func ViaProxy(proxy string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, proxy)
	}
}
