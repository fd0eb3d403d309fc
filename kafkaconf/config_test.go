package kafkaconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go/sasl/plain"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{Config{}, ""},
		{Config{Brokers: []string{"kafka:9092", "10.0.0.1:9093"}}, ""},
		{Config{Brokers: []string{"kafka"}}, `broker "kafka": want host:port`},
		{Config{Brokers: []string{"kafka:"}}, `broker "kafka:": want host:port`},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && !strings.Contains(got, tt.wantErr)) {
			t.Errorf("Validate(%v): got %v, want %q", tt.cfg.Brokers, err, tt.wantErr)
		}
	}
}

func TestValidateReportsEveryBroker(t *testing.T) {
	err := Config{Brokers: []string{"a", "b:1", "c"}}.Validate()
	for _, want := range []string{`broker "a"`, `broker "c"`} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("Validate: got %v, want it to mention %s", err, want)
		}
	}
}

func TestZeroValueDefaults(t *testing.T) {
	var c Config
	if got := c.Addr().String(); got != DefaultBroker {
		t.Errorf("Addr: got %s, want %s", got, DefaultBroker)
	}
	d := c.Dialer()
	if d.ClientID != DefaultClientID || d.Timeout != dialTimeout || d.TLS != nil || d.SASLMechanism != nil {
		t.Errorf("Dialer: got client ID %q, timeout %s, TLS %v, SASL %v; want %q, %s, none, none",
			d.ClientID, d.Timeout, d.TLS, d.SASLMechanism, DefaultClientID, dialTimeout)
	}
	tr := c.Transport()
	if tr.ClientID != DefaultClientID || tr.DialTimeout != dialTimeout || tr.IdleTimeout != idleTimeout || tr.MetadataTTL != metadataTTL {
		t.Errorf("Transport: got client ID %q, dial %s, idle %s, metadata TTL %s; want %q, %s, %s, %s",
			tr.ClientID, tr.DialTimeout, tr.IdleTimeout, tr.MetadataTTL, DefaultClientID, dialTimeout, idleTimeout, metadataTTL)
	}
	if cl := c.Client(); cl.Timeout != requestTimeout || cl.Addr.String() != DefaultBroker {
		t.Errorf("Client: got timeout %s and address %s, want %s and %s", cl.Timeout, cl.Addr, requestTimeout, DefaultBroker)
	}
	if len(c.Brokers) != 0 || c.ClientID != "" {
		t.Errorf("the methods changed the Config: got %+v", c)
	}
}

func TestSecuritySettingsReachEveryObject(t *testing.T) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	mech := plain.Mechanism{Username: "u", Password: "p"}
	c := Config{Brokers: []string{"k1:9092", "k2:9092"}, ClientID: "shop", TLS: tc, SASL: mech}
	if got := c.Addr().String(); got != "k1:9092,k2:9092" {
		t.Errorf("Addr: got %s, want k1:9092,k2:9092", got)
	}
	if d := c.Dialer(); d.TLS != tc || d.SASLMechanism != mech || d.ClientID != "shop" {
		t.Errorf("Dialer: got TLS %p, SASL %v, client ID %q; want %p, %v, shop", d.TLS, d.SASLMechanism, d.ClientID, tc, mech)
	}
	if tr := c.Transport(); tr.TLS != tc || tr.SASL != mech || tr.ClientID != "shop" {
		t.Errorf("Transport: got TLS %p, SASL %v, client ID %q; want %p, %v, shop", tr.TLS, tr.SASL, tr.ClientID, tc, mech)
	}
}

func TestExplain(t *testing.T) {
	other := errors.New("topic not found")
	tests := []struct {
		name       string
		cfg        Config
		err        error
		want       string // substring; "" means err is returned as it is
		wantRefuse bool
	}{
		{"nil", Config{}, nil, "", false},
		{"other error", Config{SASL: plain.Mechanism{}}, other, "", false},
		{"eof with sasl", Config{SASL: plain.Mechanism{}}, io.ErrUnexpectedEOF, "SASL PLAIN as configured", true},
		{"eof with tls", Config{TLS: &tls.Config{}}, io.EOF, "does it require SASL (none configured)?", false},
		{"eof plain", Config{}, fmt.Errorf("reading metadata: %w", io.EOF), "does it require SASL or TLS (none configured)?", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.Explain(tt.err)
			if tt.want == "" {
				if got != tt.err {
					t.Fatalf("got %v, want the error unchanged (%v)", got, tt.err)
				}
				return
			}
			if !strings.Contains(fmt.Sprint(got), tt.want) || !errors.Is(got, tt.err) {
				t.Errorf("got %v, want it to contain %q and wrap %v", got, tt.want, tt.err)
			}
			if errors.Is(got, ErrConnectionRefused) != tt.wantRefuse {
				t.Errorf("errors.Is(%v, ErrConnectionRefused): got %v, want %v", got, !tt.wantRefuse, tt.wantRefuse)
			}
		})
	}
}
