package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEnvFallbacksAreStrict registers one flag per case with its environment variable set
// and checks what checkEnv reports and what the flag holds.
func TestEnvFallbacksAreStrict(t *testing.T) {
	var (
		b   bool
		n   int
		f   float64
		d   time.Duration
		s   string
		lvl string
	)
	boolF := func(fs *pflag.FlagSet) func() any { boolFlag(fs, &b, "x", true, ""); return func() any { return b } }
	intF := func(fs *pflag.FlagSet) func() any { intFlag(fs, &n, "x", 7, ""); return func() any { return n } }
	floatF := func(fs *pflag.FlagSet) func() any { floatFlag(fs, &f, "x", 0.5, ""); return func() any { return f } }
	durF := func(fs *pflag.FlagSet) func() any {
		durationFlag(fs, &d, "x", time.Second, "")
		return func() any { return d }
	}
	strF := func(fs *pflag.FlagSet) func() any { stringFlag(fs, &s, "x", "def", ""); return func() any { return s } }
	levelF := func(fs *pflag.FlagSet) func() any {
		enumFlag(fs, &lvl, "x", "info", logLevels, "")
		return func() any { return lvl }
	}
	saslF := func(fs *pflag.FlagSet) func() any {
		enumFlag(fs, &s, "x", "", saslMechanisms, "")
		return func() any { return s }
	}
	tests := []struct {
		name     string
		register func(*pflag.FlagSet) func() any
		value    string
		want     any    // the flag's value when the variable parses
		wantErr  string // the problem reported, "" when it parses
	}{
		{"bool yes", boolF, "yes", nil, `PODIUM_X="yes": not a boolean (use true or false)`},
		{"bool on", boolF, "on", nil, `PODIUM_X="on": not a boolean`},
		{"bool empty", boolF, "", nil, `PODIUM_X="": not a boolean`},
		{"bool trailing space", boolF, "true ", nil, `PODIUM_X="true ": not a boolean`},
		{"bool false", boolF, "false", false, ""},
		{"bool 0", boolF, "0", false, ""},
		{"bool TRUE", boolF, "TRUE", true, ""},
		{"int 1.5", intF, "1.5", nil, `PODIUM_X="1.5": not an integer`},
		{"int words", intF, "twelve", nil, `PODIUM_X="twelve": not an integer`},
		{"int too big", intF, "99999999999999999999", nil, `PODIUM_X="99999999999999999999": out of range for an integer`},
		{"int 24", intF, "24", 24, ""},
		{"int -1", intF, "-1", -1, ""},
		{"int hex", intF, "0x10", 16, ""},
		{"float comma", floatF, "0,5", nil, `PODIUM_X="0,5": not a number`},
		{"float 0.25", floatF, "0.25", 0.25, ""},
		{"duration words", durF, "5 minutes", nil, `PODIUM_X="5 minutes": not a duration`},
		{"duration no unit", durF, "5", nil, `PODIUM_X="5": not a duration`},
		{"duration 1h30m", durF, "1h30m", 90 * time.Minute, ""},
		{"duration negative", durF, "-1ns", -time.Nanosecond, ""},
		{"string", strF, "anything at all", "anything at all", ""},
		{"string empty", strF, "", "", ""},
		{"log level unknown", levelF, "verbose", nil, `PODIUM_X="verbose": not one of trace, debug, info, warn, error`},
		{"log level any case", levelF, "WARN", "warn", ""},
		{"sasl unknown", saslF, "GSSAPI", nil, `PODIUM_X="GSSAPI": not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (or empty)`},
		{"sasl lower case", saslF, "scram-sha-512", "SCRAM-SHA-512", ""},
		{"sasl empty", saslF, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PODIUM_X", tt.value)
			cmd := &cobra.Command{Use: "t"}
			got := tt.register(cmd.Flags())
			err := checkEnv(cmd, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("checkEnv: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("checkEnv: %v", err)
			}
			if got() != tt.want {
				t.Errorf("flag value: got %v, want %v", got(), tt.want)
			}
		})
	}
}

// TestEnvFallbackUnsetKeepsDefault checks that an unset variable is no problem.
func TestEnvFallbackUnsetKeepsDefault(t *testing.T) {
	cmd := &cobra.Command{Use: "t"}
	var n int
	intFlag(cmd.Flags(), &n, "surely-unset-variable", 7, "")
	if err := checkEnv(cmd, nil); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("got %d, want the default 7", n)
	}
}

// TestEnumFlagIsStrict checks that an enum flag refuses a bad value on the command line too.
func TestEnumFlagIsStrict(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var o logOptions
	o.register(fs)
	err := fs.Parse([]string{"--log-level", "verbose"})
	if err == nil || !strings.Contains(err.Error(), "not one of trace, debug, info, warn, error") {
		t.Fatalf("got %v, want the values --log-level takes", err)
	}
	if err := fs.Parse([]string{"--log-format", "Console"}); err != nil || o.Format != "console" {
		t.Fatalf("--log-format Console: got %q, %v; want console", o.Format, err)
	}
}

// TestEnvOnlyVariablesAreChecked checks PODIUM_PPROF, which has no flag.
func TestEnvOnlyVariablesAreChecked(t *testing.T) {
	t.Setenv("PODIUM_PPROF", "yes")
	err := checkEnv(&cobra.Command{Use: "t"}, nil)
	if err == nil || !strings.Contains(err.Error(), `PODIUM_PPROF="yes"`) {
		t.Fatalf("got %v, want PODIUM_PPROF named", err)
	}
}

// TestCommandsStopOnBadEnvironment runs podium's commands in-process with a bad variable:
// each must return an error naming it, without touching the brokers (a listener nobody
// may connect to).
func TestCommandsStopOnBadEnvironment(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{args: []string{"orchestrator"}, env: map[string]string{"PODIUM_KAFKA_TLS": "yes"},
			want: []string{`PODIUM_KAFKA_TLS="yes": not a boolean (use true or false)`}},
		{args: []string{"orchestrator"}, env: map[string]string{"PODIUM_KAFKA_TLS": "yes", "PODIUM_BATCH_SIZE": "1.5", "PODIUM_SESSION_TIMEOUT": "10"},
			want: []string{"PODIUM_KAFKA_TLS", `PODIUM_BATCH_SIZE="1.5": not an integer`, `PODIUM_SESSION_TIMEOUT="10": not a duration`}},
		{args: []string{"orchestrator", "--kafka-tls"}, env: map[string]string{"PODIUM_KAFKA_TLS": "yes"},
			want: []string{`PODIUM_KAFKA_TLS="yes"`}},
		{args: []string{"worker", "payment"}, env: map[string]string{"PODIUM_ERROR_RATE": "lots"},
			want: []string{`PODIUM_ERROR_RATE="lots": not a number`}},
		{args: []string{"worker", "payment"}, env: map[string]string{"PODIUM_KAFKA_SASL_MECHANISM": "OAUTHBEARER"},
			want: []string{`PODIUM_KAFKA_SASL_MECHANISM="OAUTHBEARER": not one of PLAIN`}},
		{args: []string{"api"}, env: map[string]string{"PODIUM_LOG_LEVEL": "loud"},
			want: []string{`PODIUM_LOG_LEVEL="loud"`}},
		{args: []string{"topics", "create"}, env: map[string]string{"PODIUM_TOPIC_RETENTION": "7 days"},
			want: []string{`PODIUM_TOPIC_RETENTION="7 days": not a duration`}},
		{args: []string{"broker", "--addr", "127.0.0.1:0"}, env: map[string]string{"PODIUM_IN_MEMORY": "yes"},
			want: []string{`PODIUM_IN_MEMORY="yes"`}},
		// --data-dir with --in-memory: were the variable not checked first, dev would stop
		// on that rather than start processes.
		{args: []string{"dev", "--data-dir", "x", "--in-memory"}, env: map[string]string{"PODIUM_PORT_BASE": "19000x"},
			want: []string{`PODIUM_PORT_BASE="19000x": not an integer`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			t.Setenv("PODIUM_KAFKA_BROKERS", ln.Addr().String())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = run(ctx, tt.args)
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			// A connection made to the brokers waits in the listener's backlog: Accept returns
			// it at once. (A deadline already past would fail Accept without looking.)
			_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
			if c, err := ln.Accept(); err == nil {
				c.Close()
				t.Errorf("the command connected to the brokers before failing")
			}
		})
	}
}

// TestKafkaSecurityLogged checks the security fields of the configuration line for each
// way of configuring the client, and that the password never shows.
func TestKafkaSecurityLogged(t *testing.T) {
	const password = "hunter2-never-logged"
	tests := []struct {
		name string
		args []string
		want map[string]any
	}{
		{"plaintext", nil, map[string]any{"kafka_tls": false, "kafka_tls_verify": false, "kafka_tls_ca": "none",
			"kafka_tls_client_cert": false, "kafka_sasl_mechanism": "none", "kafka_sasl_password": ""}},
		{"tls", []string{"--kafka-tls"}, map[string]any{"kafka_tls": true, "kafka_tls_verify": true, "kafka_tls_ca": "system",
			"kafka_tls_client_cert": false}},
		{"skip verify alone implies tls", []string{"--kafka-tls-insecure-skip-verify"},
			map[string]any{"kafka_tls": true, "kafka_tls_verify": false, "kafka_tls_ca": "system"}},
		{"private ca", []string{"--kafka-tls-ca", "/etc/podium/ca.pem"},
			map[string]any{"kafka_tls": true, "kafka_tls_verify": true, "kafka_tls_ca": "/etc/podium/ca.pem"}},
		{"mutual tls", []string{"--kafka-tls-cert", "c.pem", "--kafka-tls-key", "k.pem"},
			map[string]any{"kafka_tls": true, "kafka_tls_client_cert": true}},
		{"sasl", []string{"--kafka-tls", "--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-username", "podium", "--kafka-sasl-password", password},
			map[string]any{"kafka_tls": true, "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "podium", "kafka_sasl_password": "********"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			var o kafkaOptions
			o.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := zerolog.New(&buf)
			o.logFields(log.Info()).Msg("configuration")
			if strings.Contains(buf.String(), password) {
				t.Fatalf("the password is in the log: %s", buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("decoding %q: %v", buf.String(), err)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s: got %v, want %v (line %s)", k, got[k], want, buf.String())
				}
			}
		})
	}
}

// TestKafkaTLSImplied checks how the TLS settings combine: each implies TLS, an explicit
// --kafka-tls=false with one of them is refused, a key needs its certificate.
func TestKafkaTLSImplied(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantTLS bool   // when no error
		wantErr string // "" for none
	}{
		{name: "plaintext", wantTLS: false},
		{name: "skip verify alone", args: []string{"--kafka-tls-insecure-skip-verify"}, wantTLS: true},
		{name: "skip verify from the environment", env: map[string]string{"PODIUM_KAFKA_TLS_INSECURE_SKIP_VERIFY": "true"}, wantTLS: true},
		{name: "flag false with skip verify", args: []string{"--kafka-tls=false", "--kafka-tls-insecure-skip-verify"},
			wantErr: "--kafka-tls (PODIUM_KAFKA_TLS) is false, but --kafka-tls-insecure-skip-verify needs TLS"},
		{name: "variable false with a ca", env: map[string]string{"PODIUM_KAFKA_TLS": "false", "PODIUM_KAFKA_TLS_CA": "/ca.pem"},
			wantErr: "is false, but --kafka-tls-ca needs TLS"},
		{name: "key alone", args: []string{"--kafka-tls-key", "k.pem"}, wantErr: "--kafka-tls-cert and --kafka-tls-key go together"},
		{name: "user without mechanism", args: []string{"--kafka-sasl-username", "podium"}, wantErr: "need --kafka-sasl-mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			var o kafkaOptions
			o.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := o.config("test")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.TLS != nil; got != tt.wantTLS {
				t.Fatalf("TLS: got %v, want %v", got, tt.wantTLS)
			}
			if cfg.TLS != nil && cfg.TLS.InsecureSkipVerify != o.TLSSkipVerify {
				t.Errorf("InsecureSkipVerify: got %v, want %v", cfg.TLS.InsecureSkipVerify, o.TLSSkipVerify)
			}
		})
	}
}
