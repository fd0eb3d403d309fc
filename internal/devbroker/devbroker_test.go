package devbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/testtls"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, c Config) *Broker {
	t.Helper()
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 100 * time.Millisecond
	}
	c.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	b, err := Start(testContext(t), c)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func write(t *testing.T, cfg pkafka.Config, topic string, n int) {
	t.Helper()
	w := pkafka.NewProducer(cfg)
	defer w.Close()
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		msgs[i] = kafkago.Message{Topic: topic, Key: []byte(fmt.Sprintf("ord-%d", i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	if err := w.WriteMessages(testContext(t), msgs...); err != nil {
		t.Fatalf("writing %d messages to %s: %v", n, topic, err)
	}
}

// countRecords reads every partition of topic up to its watermark.
func countRecords(t *testing.T, cfg pkafka.Config, topic string, partitions int) int {
	t.Helper()
	n := 0
	for p := range partitions {
		if _, err := pkafka.ReadPartition(testContext(t), cfg, topic, p, func(kafkago.Message) error { n++; return nil }); err != nil {
			t.Fatalf("ReadPartition(%s, %d): %v", topic, p, err)
		}
	}
	return n
}

func TestStartCreatesPodiumTopicsAndServesKafkaGo(t *testing.T) {
	b := start(t, Config{Partitions: 3})
	if b.Addr() != b.ListenAddr() {
		t.Errorf("Addr %s, ListenAddr %s: want them equal without Advertise", b.Addr(), b.ListenAddr())
	}
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}

	// The topics are there with the right partitions and cleanup policies: EnsureTopics
	// over the network finds nothing to change.
	if err := pkafka.EnsureTopics(testContext(t), cfg, pkafka.PodiumTopics(3)); err != nil {
		t.Fatalf("EnsureTopics against the dev broker: %v", err)
	}
	if info := b.Cluster().TopicInfo(events.TopicSagaState); info == nil || *info.Configs["cleanup.policy"] != "compact" {
		t.Errorf("%s: got %+v, want cleanup.policy=compact", events.TopicSagaState, info)
	}

	write(t, cfg, events.TopicOrdersPlaced, 30)

	// A plain kafka-go partition Reader sees the records too.
	total := 0
	for p := range 3 {
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.Addr()}, Topic: events.TopicOrdersPlaced, Partition: p, MaxWait: 50 * time.Millisecond})
		end, err := pkafka.ReadPartition(testContext(t), cfg, events.TopicOrdersPlaced, p, func(kafkago.Message) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < end; i++ {
			m, err := r.ReadMessage(testContext(t))
			if err != nil {
				t.Fatalf("Reader partition %d: %v", p, err)
			}
			if got := pkafka.HomePartition(m.Key, 3); got != p {
				t.Errorf("key %s on partition %d, want %d", m.Key, p, got)
			}
			total++
		}
		_ = r.Close()
	}
	if total != 30 {
		t.Errorf("read %d records, want 30", total)
	}
}

func TestRestartKeepsRecordsAndOffsets(t *testing.T) {
	dir := t.TempDir()
	b := start(t, Config{DataDir: dir, Partitions: 2})
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}
	write(t, cfg, events.TopicOrdersPlaced, 40)
	write(t, cfg, events.TopicSagaState, 10)

	// Commit an offset for partition 0 of orders.placed.
	group := "restart-test"
	commitOrRead := func(cfg pkafka.Config, commit int64) map[string]int64 {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan map[string]int64, 2)
		done := make(chan error, 1)
		gc := pkafka.GroupConfig{GroupID: group, Topics: []string{events.TopicOrdersPlaced}, Config: cfg,
			SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, Logger: zerolog.Nop()}
		go func() {
			done <- pkafka.RunGroup(ctx, gc, func(ctx context.Context, a pkafka.Assignment) {
				if a.Partition == 0 {
					if commit > 0 {
						if err := a.Commit(map[string]int64{events.TopicOrdersPlaced: commit}); err != nil {
							t.Errorf("Commit: %v", err)
						}
					}
					got <- a.Offsets
				}
				<-ctx.Done()
			})
		}()
		var offsets map[string]int64
		select {
		case offsets = <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("no assignment within 20s")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunGroup: %v", err)
		}
		return offsets
	}
	commitOrRead(cfg, 7)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b2 := start(t, Config{DataDir: dir, Partitions: 2})
	cfg2 := pkafka.Config{Brokers: []string{b2.Addr()}}
	if got := countRecords(t, cfg2, events.TopicOrdersPlaced, 2); got != 40 {
		t.Errorf("after restart: %s has %d records, want 40", events.TopicOrdersPlaced, got)
	}
	if got := countRecords(t, cfg2, events.TopicSagaState, 2); got != 10 {
		t.Errorf("after restart: %s has %d records, want 10", events.TopicSagaState, got)
	}
	if got := commitOrRead(cfg2, 0); got[events.TopicOrdersPlaced] != 7 {
		t.Errorf("after restart: committed offset %d, want 7", got[events.TopicOrdersPlaced])
	}
	// New writes continue after the restored ones.
	write(t, cfg2, events.TopicOrdersPlaced, 5)
	if got := countRecords(t, cfg2, events.TopicOrdersPlaced, 2); got != 45 {
		t.Errorf("after restart and 5 more writes: %d records, want 45", got)
	}
}

func TestRestartWithOtherPartitionCountFails(t *testing.T) {
	dir := t.TempDir()
	b := start(t, Config{DataDir: dir, Partitions: 2})
	_ = b.Close()

	_, err := Start(testContext(t), Config{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 3, Logger: zerolog.Nop()})
	var mm *pkafka.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want a *pkafka.MismatchError", err)
	}
	// Every non-DLQ topic: 2 start topics, 3 more orchestrator topics, 3 per worker.
	if want := 5 + 3*len(events.Workers); len(mm.Mismatches) != want {
		t.Errorf("got %d mismatches, want %d: %v", len(mm.Mismatches), want, mm.Mismatches)
	}
	if !strings.Contains(err.Error(), "topic orders.placed: partitions is 2, want 3") {
		t.Errorf("error %q does not name the orders.placed mismatch", err)
	}
}

// proxy forwards every connection to target and counts them.
type proxy struct {
	ln    net.Listener
	conns atomic.Int64
	wg    sync.WaitGroup
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *proxy) serve(target string) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
}

func TestAdvertisedAddressIsWhatClientsUse(t *testing.T) {
	// The broker binds one address and advertises another (a proxy, like a container port
	// mapping). A client bootstrapping from the bound address is redirected to the proxy.
	px := newProxy(t)
	b := start(t, Config{Advertise: px.ln.Addr().String(), Partitions: 2})
	px.serve(b.ListenAddr())
	if b.Addr() != px.ln.Addr().String() {
		t.Fatalf("Addr: got %s, want the advertised %s", b.Addr(), px.ln.Addr())
	}

	direct := pkafka.Config{Brokers: []string{b.ListenAddr()}}
	cl := direct.Client()
	defer cl.Transport.(*kafkago.Transport).CloseIdleConnections()
	md, err := cl.Metadata(testContext(t), &kafkago.MetadataRequest{})
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	if len(md.Brokers) != 1 || net.JoinHostPort(md.Brokers[0].Host, fmt.Sprint(md.Brokers[0].Port)) != b.Addr() {
		t.Errorf("metadata brokers: got %+v, want one at %s", md.Brokers, b.Addr())
	}
	before := px.conns.Load()
	write(t, direct, events.TopicOrdersPlaced, 10)
	if got := countRecords(t, direct, events.TopicOrdersPlaced, 2); got != 10 {
		t.Errorf("read %d records, want 10", got)
	}
	if px.conns.Load() == before {
		t.Error("no connection went through the advertised address")
	}
}

func TestAdvertiseHostOnlyTakesTheBoundPort(t *testing.T) {
	b := start(t, Config{Advertise: "localhost", Partitions: 1})
	_, port, _ := net.SplitHostPort(b.ListenAddr())
	if want := "localhost:" + port; b.Addr() != want {
		t.Errorf("Addr: got %s, want %s", b.Addr(), want)
	}
	cfg := pkafka.Config{Brokers: []string{b.Addr()}}
	write(t, cfg, events.TopicOrdersEvents, 3)
	if got := countRecords(t, cfg, events.TopicOrdersEvents, 1); got != 3 {
		t.Errorf("read %d records, want 3", got)
	}
}

func TestAdvertisedAddr(t *testing.T) {
	tests := []struct {
		bound, advertise, want string
	}{
		{"127.0.0.1:9092", "", "127.0.0.1:9092"},
		{"0.0.0.0:9092", "", "127.0.0.1:9092"},
		{"[::]:9092", "", "127.0.0.1:9092"},
		{"10.1.2.3:9092", "", "10.1.2.3:9092"},
		{"0.0.0.0:9092", "kafka:19092", "kafka:19092"},
		{"0.0.0.0:9092", "kafka", "kafka:9092"},
		{"0.0.0.0:9092", "[::1]:9093", "[::1]:9093"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := advertisedAddr(addr, tt.advertise); got != tt.want {
			t.Errorf("advertisedAddr(%s, %q): got %s, want %s", tt.bound, tt.advertise, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string
	}{
		{Config{}, nil},
		{Config{Addr: "0.0.0.0:9092", Advertise: "kafka:9092", Partitions: 3}, nil},
		{Config{Addr: "nope", Advertise: "a:b:c", Partitions: -1, Users: []User{{Mechanism: "GSSAPI"}}},
			[]string{`addr "nope"`, `advertise "a:b:c"`, "partitions must be >= 1", `unknown SASL mechanism "GSSAPI"`, "SASL user without a name"}},
		{Config{Advertise: "kafka:0"}, []string{"port must be 1..65535"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.want) == 0 && err != nil {
			t.Errorf("Validate(%+v): got %v, want nil", tt.cfg, err)
		}
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%+v): got %v, want an error containing %q", tt.cfg, err, w)
			}
		}
	}
}

func TestStartFailsWhenTheAddressIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(testContext(t), Config{Addr: ln.Addr().String(), Logger: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "listening on "+ln.Addr().String()) {
		t.Errorf("got %v, want an error about listening on %s", err, ln.Addr())
	}
}

func TestTLSAndSASL(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	b := start(t, Config{Partitions: 1, TLS: serverTLS, Users: []User{{Mechanism: "SCRAM-SHA-512", Name: "podium", Password: "s3cret"}}})
	mech, err := scram.Mechanism(scram.SHA512, "podium", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	cfg := pkafka.Config{Brokers: []string{b.Addr()}, TLS: clientTLS, SASL: mech}
	write(t, cfg, events.TopicOrdersPlaced, 2)
	if got := countRecords(t, cfg, events.TopicOrdersPlaced, 1); got != 2 {
		t.Errorf("read %d records, want 2", got)
	}
	if _, err := pkafka.PartitionCounts(testContext(t), pkafka.Config{Brokers: []string{b.Addr()}, TLS: clientTLS}, []string{events.TopicOrdersPlaced}); err == nil {
		t.Error("without SASL credentials: got nil, want an error")
	}
}

// selfSigned returns a server TLS config for 127.0.0.1 and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	server, client, err := testtls.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}
