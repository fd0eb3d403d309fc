package kafkaconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Defaults of Config.
const (
	// DefaultBroker is the bootstrap broker of a Config without Brokers.
	DefaultBroker = "127.0.0.1:9092"
	// DefaultClientID is the client ID of a Config without ClientID.
	DefaultClientID = "podium"

	// dialTimeout bounds establishing a connection, TLS handshake and SASL included.
	dialTimeout = 10 * time.Second
	// idleTimeout closes pooled connections that were not used for that long.
	idleTimeout = 30 * time.Second
	// metadataTTL is how long a Transport trusts its cached cluster metadata.
	metadataTTL = 6 * time.Second
	// requestTimeout bounds a Client request whose context has no deadline.
	requestTimeout = 30 * time.Second
)

// Config is how podium reaches a Kafka cluster. The zero value connects to
// 127.0.0.1:9092 without TLS or SASL.
type Config struct {
	// Brokers are the bootstrap brokers, host:port. Default: ["127.0.0.1:9092"].
	Brokers []string
	// ClientID is sent with every request. Default: "podium".
	ClientID string
	// TLS, when set, wraps every connection in TLS (after Dial). Default: plain text.
	TLS *tls.Config
	// SASL, when set, authenticates every connection: a mechanism from kafka-go's
	// sasl/plain (PLAIN) or sasl/scram (SCRAM-SHA-256, SCRAM-SHA-512) package, or any other
	// sasl.Mechanism. Default: no authentication.
	SASL sasl.Mechanism
	// Dial, when set, opens the TCP connections instead of net.Dialer (fault proxies,
	// tests). TLS and SASL are still applied on top of the returned connection.
	// Default: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// ErrConnectionRefused explains a broker that closed the connection during the SASL
// handshake. kafka-go reports a refused login as an unexpected EOF, which says nothing.
var ErrConnectionRefused = errors.New("the broker closed the connection: credentials or SASL mechanism refused?")

// Explain turns the bare EOF that kafka-go returns when a broker drops the connection
// during the handshake (refused SASL credentials, or a broker that requires SASL or TLS
// when none is configured) into an error that says so; other errors are returned as they
// are. With SASL configured, the result wraps ErrConnectionRefused.
func (c Config) Explain(err error) error {
	if err == nil || !(errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
		return err
	}
	if c.SASL != nil {
		return fmt.Errorf("%w (SASL %s as configured): %w", ErrConnectionRefused, c.SASL.Name(), err)
	}
	if c.TLS != nil {
		return fmt.Errorf("the broker closed the connection: does it require SASL (none configured)?: %w", err)
	}
	return fmt.Errorf("the broker closed the connection: does it require SASL or TLS (none configured)?: %w", err)
}

// WithDefaults returns c with its empty fields set to their defaults (Brokers, ClientID).
func (c Config) WithDefaults() Config {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{DefaultBroker}
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	return c
}

// Validate reports every problem of c (after defaults) at once, joined with errors.Join.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("broker %q: want host:port", b))
		}
	}
	return errors.Join(errs...)
}

// Addr is the bootstrap address of the cluster, for kafka-go's Addr fields.
func (c Config) Addr() net.Addr {
	return kafkago.TCP(c.WithDefaults().Brokers...)
}

// Dialer returns a new kafka-go Dialer (used by Conn and ConsumerGroup) with c's TLS, SASL,
// client ID and dial hook, and a dial timeout of 10s (kafka-go's default: none).
func (c Config) Dialer() *kafkago.Dialer {
	c = c.WithDefaults()
	return &kafkago.Dialer{
		ClientID:      c.ClientID,
		DialFunc:      c.Dial,
		Timeout:       dialTimeout,
		TLS:           c.TLS,
		SASLMechanism: c.SASL,
	}
}

// Transport returns a new kafka-go Transport (used by Client and Writer) with c's TLS,
// SASL, client ID and dial hook, and a dial timeout of 10s. Each Transport keeps its own
// connection pool and its own metadata cache (refreshed at most every 6s, and after
// CreateTopics); call CloseIdleConnections when done with it, or its connections linger
// for 30s.
func (c Config) Transport() *kafkago.Transport {
	c = c.WithDefaults()
	return &kafkago.Transport{
		Dial:        c.Dial, // nil: kafka-go's net.Dialer
		DialTimeout: dialTimeout,
		IdleTimeout: idleTimeout,
		MetadataTTL: metadataTTL,
		ClientID:    c.ClientID,
		TLS:         c.TLS,
		SASL:        c.SASL,
	}
}

// Client returns a kafka-go Client for admin and fetch requests on a new Transport (see
// Transport: close its idle connections when done). Requests without a deadline in their
// context time out after 30s.
func (c Config) Client() *kafkago.Client {
	return &kafkago.Client{
		Addr:      c.Addr(),
		Timeout:   requestTimeout,
		Transport: c.Transport(),
	}
}
