package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/podiumhq/podium/internal/testtls"
)

// selfSigned returns a server TLS config for 127.0.0.1 and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	server, client, err := testtls.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

func mustScram(t *testing.T, algo scram.Algorithm, user, pass string) sasl.Mechanism {
	t.Helper()
	m, err := scram.Mechanism(algo, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// exercise runs every entry point once against cfg: topic admin, writer, restore, group.
func exercise(t *testing.T, cfg Config) {
	t.Helper()
	topic := uniqueName(t, "secure")
	createTopics(t, cfg, TopicSpec{Name: topic, Partitions: 2})
	writeMessages(t, cfg, kafkago.Message{Topic: topic, Key: []byte("ord-1"), Value: []byte("v")})
	if got, _ := readAll(t, cfg, topic, HomePartition([]byte("ord-1"), 2)); len(got) != 1 {
		t.Errorf("read %d records, want 1", len(got))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	assigned := make(chan Assignment, 2)
	done := make(chan error, 1)
	go func() {
		done <- RunGroup(ctx, fastGroup(cfg, uniqueName(t, "group"), []string{topic}, testLogger(t, nil)), func(ctx context.Context, a Assignment) {
			assigned <- a
			<-ctx.Done()
		})
	}()
	select {
	case <-assigned:
	case err := <-done:
		t.Fatalf("RunGroup returned before an assignment: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no assignment within 30s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunGroup: %v", err)
	}
}

func TestSecurity(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	tests := []struct {
		name    string
		cluster []kfake.Opt
		tls     *tls.Config
		sasl    sasl.Mechanism
	}{
		{"tls", []kfake.Opt{kfake.TLS(serverTLS)}, clientTLS, nil},
		{"sasl plain", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "podium", "s3cret")}, nil, plain.Mechanism{Username: "podium", Password: "s3cret"}},
		{"sasl scram-sha-256 over tls", []kfake.Opt{kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "podium", "s3cret")}, clientTLS, mustScram(t, scram.SHA256, "podium", "s3cret")},
		{"sasl scram-sha-512", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "podium", "s3cret")}, nil, mustScram(t, scram.SHA512, "podium", "s3cret")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfg := newCluster(t, tt.cluster...)
			cfg.TLS, cfg.SASL = tt.tls, tt.sasl
			exercise(t, cfg)
		})
	}
}

func TestSecurityRejectsWrongPassword(t *testing.T) {
	_, cfg := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "podium", "s3cret"))
	cfg.SASL = mustScram(t, scram.SHA256, "podium", "wrong")
	// kfake closes the connection on a failed authentication instead of answering with
	// SASL_AUTHENTICATION_FAILED, so the client sees an EOF; Kafka reports the error code.
	if _, err := PartitionCounts(testContext(t, 10*time.Second), cfg, []string{"x"}); err == nil {
		t.Error("wrong password: got nil, want an error")
	}
}

func TestFatalGroupError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{kafkago.RebalanceInProgress, false},
		{errors.New("unexpected EOF"), false},
		{kafkago.InvalidSessionTimeout, true},
		{fmt.Errorf("could not authenticate: %w", kafkago.SASLAuthenticationFailed), true},
		{kafkago.GroupAuthorizationFailed, true},
	}
	for _, tt := range tests {
		if got := fatalGroupError(tt.err); got != tt.want {
			t.Errorf("fatalGroupError(%v): got %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestDialHookIsUsedEverywhere(t *testing.T) {
	_, cfg := newCluster(t)
	var dials atomic.Int64
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	exercise(t, cfg)
	if dials.Load() == 0 {
		t.Error("Config.Dial was never called")
	}
	before := dials.Load()
	if _, err := cfg.Dialer().Dial("tcp", cfg.Brokers[0]); err != nil {
		t.Fatalf("Dialer().Dial: %v", err)
	}
	if dials.Load() != before+1 {
		t.Errorf("Dialer: got %d dials, want %d", dials.Load(), before+1)
	}
}
