package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Every flag has an environment fallback: --kafka-brokers reads PODIUM_KAFKA_BROKERS when
// the flag is not given. envName derives the variable from the flag name.
//
// Fallbacks are strict. The *Flag helpers read a flag's variable when they register the
// flag; a value that does not parse leaves the flag at its default and is recorded on the
// flag (annotation envErrorAnnotation). checkEnv, the root command's PersistentPreRunE,
// reports every such problem at once, before the command reads a file or opens a
// connection. Booleans take what strconv.ParseBool takes (1, t, T, TRUE, true, True, 0, f,
// F, FALSE, false, False), integers what strconv.ParseInt takes with base 0, durations what
// time.ParseDuration takes; a variable that is set but empty is parsed too (and fails for
// every type but strings). A bad variable stops the process even when the flag is also
// given: unset it rather than shadow it.
func envName(flag string) string {
	return "PODIUM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envErrorAnnotation is the flag annotation holding the problem with the flag's variable.
const envErrorAnnotation = "podium_env_error"

// envOnlyBools are the boolean variables podium reads without a flag; checkEnv checks them
// for every command. PODIUM_PPROF: see serveMetrics.
var envOnlyBools = []string{"pprof"}

// envError is an environment variable whose value does not parse.
type envError struct {
	Var, Value, Problem string
}

func (e *envError) Error() string { return fmt.Sprintf("%s=%q: %s", e.Var, e.Value, e.Problem) }

// lookupEnv parses the variable of flag with parse; def when the variable is not set.
func lookupEnv[T any](flag string, def T, parse func(string) (T, error)) (T, error) {
	v, ok := os.LookupEnv(envName(flag))
	if !ok {
		return def, nil
	}
	x, err := parse(v)
	if err != nil {
		return def, &envError{Var: envName(flag), Value: v, Problem: err.Error()}
	}
	return x, nil
}

func parseString(s string) (string, error) { return s, nil }

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("not a boolean (use true or false)")
	}
	return b, nil
}

func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, errors.New("out of range for an integer")
	case err != nil:
		return 0, errors.New("not an integer")
	}
	return int(n), nil
}

func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	return f, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration (use a number with a unit: 500ms, 30s, 5m, 1h30m)")
	}
	return d, nil
}

// The env* functions return the value of a flag's variable, or def when it is not set or
// does not parse. Use them only for variables checkEnv checks (those of flags registered
// with the *Flag helpers, and envOnlyBools); a flag's own problems come from lookupEnv.

func envString(flag, def string) string {
	v, _ := lookupEnv(flag, def, parseString)
	return v
}

func envInt(flag string, def int) int {
	v, _ := lookupEnv(flag, def, parseInt)
	return v
}

func envFloat(flag string, def float64) float64 {
	v, _ := lookupEnv(flag, def, parseFloat)
	return v
}

func envBool(flag string, def bool) bool {
	v, _ := lookupEnv(flag, def, parseBool)
	return v
}

func envDuration(flag string, def time.Duration) time.Duration {
	v, _ := lookupEnv(flag, def, parseDuration)
	return v
}

// envUsage is the suffix of a flag's help naming its variable.
func envUsage(env string) string { return " (env " + envName(env) + ")" }

// noteEnvError records err, the problem with the variable of the registered flag name.
func noteEnvError(fs *pflag.FlagSet, name string, err error) {
	if err != nil {
		_ = fs.SetAnnotation(name, envErrorAnnotation, []string{err.Error()})
	}
}

// stringFlag registers a string flag whose default comes from its environment variable.
func stringFlag(fs *pflag.FlagSet, p *string, name, def, usage string) {
	v, err := lookupEnv(name, def, parseString)
	fs.StringVar(p, name, v, usage+envUsage(name))
	noteEnvError(fs, name, err)
}

func intFlag(fs *pflag.FlagSet, p *int, name string, def int, usage string) {
	v, err := lookupEnv(name, def, parseInt)
	fs.IntVar(p, name, v, usage+envUsage(name))
	noteEnvError(fs, name, err)
}

func floatFlag(fs *pflag.FlagSet, p *float64, name string, def float64, usage string) {
	v, err := lookupEnv(name, def, parseFloat)
	fs.Float64Var(p, name, v, usage+envUsage(name))
	noteEnvError(fs, name, err)
}

func boolFlag(fs *pflag.FlagSet, p *bool, name string, def bool, usage string) {
	v, err := lookupEnv(name, def, parseBool)
	fs.BoolVar(p, name, v, usage+envUsage(name))
	noteEnvError(fs, name, err)
}

func durationFlag(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	durationFlagEnv(fs, p, name, name, def, usage)
}

// durationFlagEnv registers a duration flag whose variable is derived from env, not from
// the flag's name (--retention of `podium topics create` reads PODIUM_TOPIC_RETENTION).
func durationFlagEnv(fs *pflag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	v, err := lookupEnv(env, def, parseDuration)
	fs.DurationVar(p, name, v, usage+envUsage(env))
	noteEnvError(fs, name, err)
}

// enumFlag registers a string flag that takes one of values, matched regardless of case
// and stored as spelled in values ("" among them: the flag may be empty). The flag and its
// variable are checked alike.
func enumFlag(fs *pflag.FlagSet, p *string, name, def string, values []string, usage string) {
	e := &enumValue{p: p, values: values}
	*p = def
	var err error
	if v, ok := os.LookupEnv(envName(name)); ok {
		if perr := e.Set(v); perr != nil {
			err = &envError{Var: envName(name), Value: v, Problem: perr.Error()}
		}
	}
	fs.Var(e, name, usage+envUsage(name))
	noteEnvError(fs, name, err)
}

// enumValue is a pflag.Value holding one of a closed set of strings.
type enumValue struct {
	p      *string
	values []string
}

func (e *enumValue) Set(s string) error {
	i := slices.IndexFunc(e.values, func(v string) bool { return strings.EqualFold(v, s) })
	if i < 0 {
		var named []string
		empty := ""
		for _, v := range e.values {
			if v == "" {
				empty = " (or empty)"
				continue
			}
			named = append(named, v)
		}
		return fmt.Errorf("not one of %s%s", strings.Join(named, ", "), empty)
	}
	*e.p = e.values[i]
	return nil
}

func (e *enumValue) String() string {
	if e == nil || e.p == nil {
		return ""
	}
	return *e.p
}

func (e *enumValue) Type() string { return "string" }

// checkEnv reports, all at once, every environment variable of cmd's flags and of
// envOnlyBools whose value does not parse. It is the root command's PersistentPreRunE, so
// it runs before any command does anything.
func checkEnv(cmd *cobra.Command, _ []string) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		for _, msg := range f.Annotations[envErrorAnnotation] {
			errs = append(errs, errors.New(msg))
		}
	})
	for _, name := range envOnlyBools {
		if _, err := lookupEnv(name, false, parseBool); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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

	fs *pflag.FlagSet // the flags register defined: was --kafka-tls given?
}

// saslMechanisms are the values of --kafka-sasl-mechanism; "" is no SASL.
var saslMechanisms = []string{"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

func (o *kafkaOptions) register(fs *pflag.FlagSet) {
	o.fs = fs
	stringFlag(fs, &o.Brokers, "kafka-brokers", "127.0.0.1:9092", "comma-separated Kafka bootstrap brokers")
	boolFlag(fs, &o.TLS, "kafka-tls", false, "connect to Kafka with TLS, verifying the brokers against the system's CAs "+
		"(every --kafka-tls-* flag implies it; --kafka-tls=false with one of them is an error)")
	stringFlag(fs, &o.TLSCA, "kafka-tls-ca", "", "PEM file of the CA that signed the brokers' certificates, instead of the system's (implies --kafka-tls)")
	stringFlag(fs, &o.TLSCert, "kafka-tls-cert", "", "PEM client certificate for mutual TLS, with --kafka-tls-key (implies --kafka-tls)")
	stringFlag(fs, &o.TLSKey, "kafka-tls-key", "", "PEM key of --kafka-tls-cert (implies --kafka-tls)")
	boolFlag(fs, &o.TLSSkipVerify, "kafka-tls-insecure-skip-verify", false, "do not verify the brokers' certificates, testing only (implies --kafka-tls)")
	enumFlag(fs, &o.SASLMechanism, "kafka-sasl-mechanism", "", saslMechanisms, "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	stringFlag(fs, &o.SASLUsername, "kafka-sasl-username", "", "SASL user name (with --kafka-sasl-mechanism)")
	stringFlag(fs, &o.SASLPassword, "kafka-sasl-password", "", "SASL password (with --kafka-sasl-mechanism; never logged; prefer the variable: flags show in ps)")
}

// tlsImpliedBy names the TLS settings given besides --kafka-tls; each turns TLS on.
func (o *kafkaOptions) tlsImpliedBy() []string {
	var names []string
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"--kafka-tls-ca", o.TLSCA != ""},
		{"--kafka-tls-cert", o.TLSCert != ""},
		{"--kafka-tls-key", o.TLSKey != ""},
		{"--kafka-tls-insecure-skip-verify", o.TLSSkipVerify},
	} {
		if s.set {
			names = append(names, s.name)
		}
	}
	return names
}

// tlsOn reports whether the client uses TLS: --kafka-tls, or any setting that implies it.
func (o *kafkaOptions) tlsOn() bool { return o.TLS || len(o.tlsImpliedBy()) > 0 }

// tlsTurnedOff reports whether --kafka-tls or its variable says false in so many words.
func (o *kafkaOptions) tlsTurnedOff() bool {
	if o.TLS {
		return false
	}
	if o.fs != nil && o.fs.Changed("kafka-tls") {
		return true
	}
	_, set := os.LookupEnv(envName("kafka-tls"))
	return set
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
	if implied := o.tlsImpliedBy(); len(implied) > 0 && o.tlsTurnedOff() {
		verb := "needs"
		if len(implied) > 1 {
			verb = "need"
		}
		errs = append(errs, fmt.Errorf("--kafka-tls (%s) is false, but %s %s TLS: drop one or the other",
			envName("kafka-tls"), strings.Join(implied, ", "), verb))
	}
	if o.tlsOn() {
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
	switch {
	case o.SASLMechanism != "":
		mech, err := saslMechanism(o.SASLMechanism, o.SASLUsername, o.SASLPassword)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.SASL = mech
	case o.SASLUsername != "" || o.SASLPassword != "":
		errs = append(errs, errors.New("--kafka-sasl-username and --kafka-sasl-password need --kafka-sasl-mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"))
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

// logFields adds the client settings to e, the process's configuration line: the brokers
// and exactly which security settings are on, as config applies them — kafka_tls,
// kafka_tls_verify (false with --kafka-tls-insecure-skip-verify), kafka_tls_ca (the CA
// file, "system" for the system's CAs, "none" without TLS), kafka_tls_client_cert,
// kafka_sasl_mechanism ("none" without SASL) and its user. The password is masked.
func (o *kafkaOptions) logFields(e *zerolog.Event) *zerolog.Event {
	tlsOn := o.tlsOn()
	ca := "none"
	if tlsOn {
		ca = "system"
		if o.TLSCA != "" {
			ca = o.TLSCA
		}
	}
	mech := "none"
	if o.SASLMechanism != "" {
		mech = o.SASLMechanism
	}
	pass := ""
	if o.SASLPassword != "" {
		pass = "********"
	}
	return e.Str("kafka_brokers", o.Brokers).Bool("kafka_tls", tlsOn).Bool("kafka_tls_verify", tlsOn && !o.TLSSkipVerify).
		Str("kafka_tls_ca", ca).Bool("kafka_tls_client_cert", tlsOn && o.TLSCert != "").
		Str("kafka_sasl_mechanism", mech).Str("kafka_sasl_username", o.SASLUsername).Str("kafka_sasl_password", pass)
}

// logOptions choose the log format; `podium dev` children log JSON, people see console output.
type logOptions struct {
	Level  string
	Format string
}

// logLevels are the values of --log-level.
var logLevels = []string{"trace", "debug", "info", "warn", "error"}

func (o *logOptions) register(fs *pflag.FlagSet) {
	enumFlag(fs, &o.Level, "log-level", "info", logLevels, "log level: trace, debug, info, warn or error")
	enumFlag(fs, &o.Format, "log-format", "json", []string{"json", "console"}, "log format: json or console")
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
