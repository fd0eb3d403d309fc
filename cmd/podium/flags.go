package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/spf13/pflag"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Every flag has an environment fallback: --kafka-brokers reads PODIUM_KAFKA_BROKERS when
// the flag is not given. envName derives the variable from the flag name.
func envName(flag string) string {
	return "PODIUM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func envString(flag, def string) string {
	if v, ok := os.LookupEnv(envName(flag)); ok {
		return v
	}
	return def
}

func envInt(flag string, def int) int {
	if v, ok := os.LookupEnv(envName(flag)); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envFloat(flag string, def float64) float64 {
	if v, ok := os.LookupEnv(envName(flag)); ok {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return n
		}
	}
	return def
}

func envBool(flag string, def bool) bool {
	if v, ok := os.LookupEnv(envName(flag)); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func envDuration(flag string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(envName(flag)); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// stringFlag registers a string flag whose default comes from its environment variable.
func stringFlag(fs *pflag.FlagSet, p *string, name, def, usage string) {
	fs.StringVar(p, name, envString(name, def), usage+" (env "+envName(name)+")")
}

func intFlag(fs *pflag.FlagSet, p *int, name string, def int, usage string) {
	fs.IntVar(p, name, envInt(name, def), usage+" (env "+envName(name)+")")
}

func floatFlag(fs *pflag.FlagSet, p *float64, name string, def float64, usage string) {
	fs.Float64Var(p, name, envFloat(name, def), usage+" (env "+envName(name)+")")
}

func boolFlag(fs *pflag.FlagSet, p *bool, name string, def bool, usage string) {
	fs.BoolVar(p, name, envBool(name, def), usage+" (env "+envName(name)+")")
}

func durationFlag(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	fs.DurationVar(p, name, envDuration(name, def), usage+" (env "+envName(name)+")")
}

// kafkaOptions are the client settings shared by every process that talks to Kafka.
type kafkaOptions struct {
	Brokers       string
	TLS           bool
	TLSCA         string
	TLSCert       string
	TLSKey        string
	TLSSkipVerify bool
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string
}

func (o *kafkaOptions) register(fs *pflag.FlagSet) {
	stringFlag(fs, &o.Brokers, "kafka-brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	boolFlag(fs, &o.TLS, "kafka-tls", false, "connect to Kafka with TLS")
	stringFlag(fs, &o.TLSCA, "kafka-tls-ca", "", "PEM file of the CA that signed the brokers' certificates (implies --kafka-tls)")
	stringFlag(fs, &o.TLSCert, "kafka-tls-cert", "", "PEM client certificate for mutual TLS (implies --kafka-tls)")
	stringFlag(fs, &o.TLSKey, "kafka-tls-key", "", "PEM client key for mutual TLS")
	boolFlag(fs, &o.TLSSkipVerify, "kafka-tls-insecure-skip-verify", false, "do not verify the brokers' certificates (testing only)")
	stringFlag(fs, &o.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	stringFlag(fs, &o.SASLUsername, "kafka-sasl-username", "", "SASL user name")
	stringFlag(fs, &o.SASLPassword, "kafka-sasl-password", "", "SASL password (never logged)")
}

// config resolves the options into a client configuration, reporting every problem at once.
func (o *kafkaOptions) config(clientID string) (pkafka.Config, error) {
	var errs []error
	cfg := pkafka.Config{ClientID: clientID}
	for _, b := range strings.Split(o.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("--kafka-brokers: at least one broker is required"))
	}
	if o.TLS || o.TLSCA != "" || o.TLSCert != "" || o.TLSSkipVerify {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.TLSSkipVerify} //nolint:gosec // opt-in for tests
		if o.TLSCA != "" {
			pem, err := os.ReadFile(o.TLSCA)
			if err != nil {
				errs = append(errs, fmt.Errorf("--kafka-tls-ca: %w", err))
			} else {
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					errs = append(errs, fmt.Errorf("--kafka-tls-ca: no certificate found in %s", o.TLSCA))
				}
				tc.RootCAs = pool
			}
		}
		if (o.TLSCert == "") != (o.TLSKey == "") {
			errs = append(errs, errors.New("--kafka-tls-cert and --kafka-tls-key go together"))
		} else if o.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
			if err != nil {
				errs = append(errs, fmt.Errorf("loading client certificate: %w", err))
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
	}
	if o.SASLMechanism != "" {
		mech, err := saslMechanism(o.SASLMechanism, o.SASLUsername, o.SASLPassword)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.SASL = mech
	}
	return cfg, errors.Join(errs...)
}

func saslMechanism(name, user, pass string) (sasl.Mechanism, error) {
	if user == "" {
		return nil, errors.New("--kafka-sasl-username is required with --kafka-sasl-mechanism")
	}
	switch strings.ToUpper(name) {
	case "PLAIN":
		return plain.Mechanism{Username: user, Password: pass}, nil
	case "SCRAM-SHA-256":
		m, err := scram.Mechanism(scram.SHA256, user, pass)
		if err != nil {
			return nil, fmt.Errorf("--kafka-sasl-mechanism: %w", err)
		}
		return m, nil
	case "SCRAM-SHA-512":
		m, err := scram.Mechanism(scram.SHA512, user, pass)
		if err != nil {
			return nil, fmt.Errorf("--kafka-sasl-mechanism: %w", err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("--kafka-sasl-mechanism: unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", name)
	}
}

// logConfig prints the resolved configuration once, with secrets masked.
func (o *kafkaOptions) logFields(e *zerolog.Event) *zerolog.Event {
	pass := ""
	if o.SASLPassword != "" {
		pass = "********"
	}
	return e.Str("kafka_brokers", o.Brokers).Bool("kafka_tls", o.TLS || o.TLSCA != "" || o.TLSCert != "").
		Str("kafka_sasl_mechanism", o.SASLMechanism).Str("kafka_sasl_username", o.SASLUsername).
		Str("kafka_sasl_password", pass)
}

// logOptions choose the log format; `podium dev` children log JSON, people see console output.
type logOptions struct {
	Level  string
	Format string
}

func (o *logOptions) register(fs *pflag.FlagSet) {
	stringFlag(fs, &o.Level, "log-level", "info", "log level: debug, info, warn, error")
	stringFlag(fs, &o.Format, "log-format", "json", "log format: json or console")
}

// logger builds the process logger.
func (o *logOptions) logger(component string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(o.Level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("--log-level: %w", err)
	}
	var l zerolog.Logger
	switch o.Format {
	case "json":
		l = zerolog.New(os.Stderr)
	case "console":
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"})
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format: want json or console, got %q", o.Format)
	}
	return l.Level(lvl).With().Timestamp().Str("component", component).Logger(), nil
}
