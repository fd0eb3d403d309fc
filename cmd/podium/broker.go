package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/internal/devbroker"
)

// brokerOptions configure `podium broker`.
type brokerOptions struct {
	Addr               string
	Advertise          string
	DataDir            string
	InMemory           bool
	Partitions         int
	Retention          time.Duration
	DeleteRetention    time.Duration
	CompactionInterval time.Duration
	MinSessionTimeout  time.Duration
	TLSCert            string
	TLSKey             string
	TLSClientCA        string
	SASLUsers          string
	ReadyFile          string
}

func newBrokerCmd() *cobra.Command {
	var (
		o    brokerOptions
		logs logOptions
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker (development, tests, demo)",
		Long: "Run a single-node broker that speaks the Kafka protocol (franz-go's kfake), with every\n" +
			"podium topic created at start (the configs of `podium topics create`: --retention on the\n" +
			"non-compacted topics, --delete-retention on the compacted ones). Any Kafka client can use it.\n" +
			"Record bytes live on disk, only their index in memory: with --data-dir the broker keeps its\n" +
			"topics, records and committed offsets there across restarts; without, it uses a fresh\n" +
			"temporary directory and removes it on exit. --in-memory keeps everything in memory instead\n" +
			"(memory grows with every record retained: short runs only). Every --compaction-interval it\n" +
			"compacts the compacted topics and deletes records older than their retention, blocking\n" +
			"requests while it does. --advertise sets the address clients are told to connect to (e.g.\n" +
			"listen on 0.0.0.0:9092 in a container and advertise kafka:9092). It stops cleanly on\n" +
			"SIGINT/SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.logger("broker")
			if err != nil {
				return err
			}
			cfg, err := o.config()
			if err != nil {
				return err
			}
			cfg.Logger = log
			log.Info().Str("addr", o.Addr).Str("advertise", o.Advertise).Str("data_dir", o.DataDir).Bool("in_memory", o.InMemory).
				Int("partitions", o.Partitions).Dur("retention", o.Retention).Dur("delete_retention", o.DeleteRetention).
				Dur("compaction_interval", o.CompactionInterval).Dur("min_session_timeout", o.MinSessionTimeout).
				Bool("tls", cfg.TLS != nil).Str("tls_cert", o.TLSCert).Bool("tls_client_auth", o.TLSClientCA != "").Str("tls_client_ca", o.TLSClientCA).
				Str("sasl", saslSummary(cfg.Users)).Str("sasl_users", maskSASLUsers(o.SASLUsers)).Msg("configuration")

			ctx := cmd.Context()
			b, err := devbroker.Start(ctx, cfg)
			if err != nil {
				return fmt.Errorf("broker: %w", err)
			}
			log.Info().Str("bootstrap", b.Addr()).Msg("ready")
			if o.ReadyFile != "" {
				if err := writeReadyFile(o.ReadyFile, b.Addr()); err != nil {
					return errors.Join(fmt.Errorf("writing --ready-file: %w", err), b.Close())
				}
			}
			<-ctx.Done()
			return b.Close()
		},
	}
	fs := cmd.Flags()
	logs.register(fs)
	stringFlag(fs, &o.Addr, "addr", devbroker.DefaultAddr, "host:port to listen on")
	stringFlag(fs, &o.Advertise, "advertise", "", "host:port (or host) clients are told to connect to (default: the listen address)")
	stringFlag(fs, &o.DataDir, "data-dir", "", "keep topics, records and offsets here, across restarts (empty: a temporary directory removed on exit)")
	boolFlag(fs, &o.InMemory, "in-memory", false, "keep everything in memory, nothing on disk (memory grows with every record retained: short runs only)")
	intFlag(fs, &o.Partitions, "partitions", events.DefaultPartitions, "partitions of every podium topic (dead-letter topics have 1)")
	retentionFlags(fs, &o.Retention, &o.DeleteRetention)
	durationFlag(fs, &o.CompactionInterval, "compaction-interval", devbroker.DefaultCompactionInterval, "how often to compact the compacted topics and apply retention (each pass blocks requests)")
	durationFlag(fs, &o.MinSessionTimeout, "min-session-timeout", devbroker.DefaultMinSessionTimeout, "smallest consumer-group session timeout accepted")
	stringFlag(fs, &o.TLSCert, "tls-cert", "", "PEM certificate: accept TLS connections only")
	stringFlag(fs, &o.TLSKey, "tls-key", "", "PEM key of --tls-cert")
	stringFlag(fs, &o.TLSClientCA, "tls-client-ca", "", "PEM CA certificates: require client certificates signed by them (mutual TLS; with --tls-cert)")
	stringFlag(fs, &o.SASLUsers, "sasl-users", "", "require SASL: comma-separated MECHANISM:user:password (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
	stringFlag(fs, &o.ReadyFile, "ready-file", "", "once listening, write the bootstrap address to this file (podium dev waits for it: then the address is this broker's)")
	return cmd
}

// config resolves the options, reporting every problem at once.
func (o brokerOptions) config() (devbroker.Config, error) {
	var errs []error
	cfg := devbroker.Config{
		Addr:               o.Addr,
		Advertise:          o.Advertise,
		DataDir:            o.DataDir,
		InMemory:           o.InMemory,
		Partitions:         o.Partitions,
		Retention:          o.Retention,
		DeleteRetention:    o.DeleteRetention,
		CompactionInterval: o.CompactionInterval,
		MinSessionTimeout:  o.MinSessionTimeout,
	}
	switch {
	case (o.TLSCert == "") != (o.TLSKey == ""):
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	case o.TLSCert != "":
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("loading the broker certificate: %w", err))
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.TLSClientCA != "" {
			pool, err := loadCertPool(o.TLSClientCA)
			if err != nil {
				errs = append(errs, fmt.Errorf("--tls-client-ca: %w", err))
			}
			cfg.TLS.ClientCAs, cfg.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	}
	if o.TLSClientCA != "" && o.TLSCert == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert and --tls-key"))
	}
	for _, spec := range strings.Split(o.SASLUsers, ",") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) != 3 {
			errs = append(errs, fmt.Errorf("--sasl-users: want MECHANISM:user:password, got %q", maskSASLUsers(spec)))
			continue
		}
		cfg.Users = append(cfg.Users, devbroker.User{Mechanism: strings.ToUpper(parts[0]), Name: parts[1], Password: parts[2]})
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// saslSummary lists the SASL mechanisms the broker requires, "none" without SASL.
func saslSummary(users []devbroker.User) string {
	var mechs []string
	for _, u := range users {
		if !slices.Contains(mechs, u.Mechanism) {
			mechs = append(mechs, u.Mechanism)
		}
	}
	if len(mechs) == 0 {
		return "none"
	}
	return strings.Join(mechs, ",")
}

// writeReadyFile writes addr to path in one step: a reader sees the whole address or no file.
func writeReadyFile(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// maskSASLUsers hides the passwords of a --sasl-users value.
func maskSASLUsers(s string) string {
	var out []string
	for _, spec := range strings.Split(s, ",") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		if parts := strings.SplitN(spec, ":", 3); len(parts) == 3 {
			spec = parts[0] + ":" + parts[1] + ":********"
		} else {
			spec = "********"
		}
		out = append(out, spec)
	}
	return strings.Join(out, ",")
}

// loadCertPool reads PEM certificates into a pool.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate found in %s", path)
	}
	return pool, nil
}
