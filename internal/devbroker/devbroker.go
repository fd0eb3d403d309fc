// Package devbroker is podium's embedded Kafka broker for development, tests and the demo:
// one in-process broker speaking the Kafka protocol, built on franz-go's kfake, with its
// records on disk, a chosen listen address and a separately advertised address.
//
// Start creates every podium topic (pkafka.PodiumTopics, or Config.Topics) with the configs of
// pkafka.TopicSpec.Configs, the same as `podium topics create` (compaction where DESIGN §2
// requires it, retention.ms on the other topics, delete.retention.ms on the compacted ones),
// or verifies them when a data directory already holds them, so that no client ever
// subscribes to a missing topic.
//
// # Addresses
//
// The broker listens on Config.Addr and tells clients (in metadata and coordinator responses)
// to connect to Config.Advertise. kfake reports whatever its listener's Addr() returns, so
// devbroker hands kfake a listener bound to Addr whose Addr() reports Advertise. Use it when
// clients reach the broker under another name than the one it binds, e.g. listen on
// 0.0.0.0:9092 in a container and advertise kafka:9092.
//
// # What it keeps, where, for how long
//
// Record bytes are in segment files in the data directory: Config.DataDir, or by default a
// fresh temporary directory that Close removes (a broker killed with SIGKILL leaves it
// behind in os.TempDir). The process's memory holds only an index entry per record batch
// (about 80 bytes), the groups, and the topic metadata; measured here, 1.46 GiB of 500-byte
// records took the broker from 24 to 48 MiB RSS (60 MiB peak), against 22 MiB to 3.1 GiB
// (4.0 GiB after one compaction pass) with Config.InMemory, kfake's in-memory file system.
//
// Records of the non-compacted topics stay for their retention.ms (Config.Retention, 7 days
// by default), the latest record of every key of the compacted topics until it is
// tombstoned, and tombstones for delete.retention.ms (Config.DeleteRetention, 2 minutes).
// Disk and memory are therefore bounded by what arrives within those windows, not by the
// time the broker runs; at a sustained rate that is a lot: podium writes about 1.6 batches
// and 2.3 KB (compressed) to the non-compacted topics per order, so at 800 orders/s a day of
// retention is about 9 GB of RSS and 160 GB of disk. Long soaks set a retention of minutes.
// kfake frees disk a whole segment (100 MiB) at a time, so each partition may also hold up to
// a segment of expired records.
//
// # Compaction and retention passes
//
// Every Config.CompactionInterval (1 minute) kfake compacts every compacted partition and
// applies retention to every partition, on the goroutine that serves all requests: produce,
// fetch and heartbeats wait until the pass ends. Retention only walks the batch index
// (microseconds to milliseconds). Compaction is the cost: kfake has no dirty-segment
// tracking, so each pass reads every batch of every compacted partition twice, rewrites the
// survivors into new segment files and fsyncs two files per partition, whether or not
// anything changed since the last pass. Measured on the 2-core development machine (load
// average 1-6 from other work; `go test ./internal/devbroker/ -run '^$' -bench
// CompactionPass -benchtime 5x`, ranges over runs):
//
//	72 compacted partitions, a few batches each        120-170 ms; 300-900 ms with other disk writers
//	podium.saga-state: 12.5k sagas x 4 snapshots of 1 KB,
//	  12k tombstones, 3 records a batch, 1 s of writes  0.64-1.3 s
//	50k sagas x 4, 48k tombstones, 1 s of writes        0.97-2.8 s  (in memory: 0.16-0.34 s)
//	the same after 30 s of writes (144k snapshots)      2.3-3.6 s
//	1.46 GiB written, a quarter to podium.saga-state
//	  over 200k keys, large batches                     2.1 s       (in memory: 6.4 s, GC over 3 GiB)
//
// So a pass costs a fixed ~2 ms per compacted partition plus time proportional to the
// batches and bytes the compacted topics hold, live records and young tombstones included;
// kfake offers no setting that brings it under 100 ms at podium's soak rate. The interval of
// one minute keeps the fixed cost well under 1 % of the broker's time; a shorter one would not
// shorten a pass much (most of it is the survivors, reread every time) and would multiply
// them; a longer one lets superseded snapshots pile up for restores to read. A pass must
// stay well under the consumers' session timeouts, or they lose their partitions.
//
// # Durability
//
// kfake writes segments and state continuously (through the OS page cache, so a killed
// process loses nothing; a machine crash may lose the last writes) and saves its full state
// on Close; Start on the same directory brings back topics, records and committed group
// offsets, and updates topic retention settings that differ from the configuration.
//
// A Broker is safe for concurrent use; Close is idempotent.
package devbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Defaults of Config.
const (
	DefaultAddr       = "127.0.0.1:9092"
	DefaultPartitions = 12
	// DefaultMinSessionTimeout is Kafka's group.min.session.timeout.ms.
	DefaultMinSessionTimeout = 6 * time.Second
	// DefaultCompactionInterval is how often the broker compacts the compacted topics and
	// applies retention (see the package documentation for what a pass costs).
	DefaultCompactionInterval = time.Minute
)

// User is a SASL user the broker accepts (as a superuser).
type User struct {
	Mechanism string // "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"
	Name      string
	Password  string
}

// Config configures Start.
type Config struct {
	// Addr is the host:port to listen on. Port 0 picks a free port. Default: "127.0.0.1:9092".
	Addr string
	// Advertise is the host:port clients are told to connect to. A host without a port takes
	// the bound port. Default: the bound address, with an unspecified host (0.0.0.0, ::)
	// replaced by 127.0.0.1.
	Advertise string
	// DataDir persists the broker's state: Start on the same directory brings back topics,
	// records and committed offsets. Default (""): a fresh temporary directory (under
	// os.TempDir, so $TMPDIR), removed by Close: the broker starts empty every time, as in
	// memory, but keeps record bytes on disk instead of in its heap.
	DataDir string
	// InMemory keeps everything in the process's memory, record bytes included, and nothing
	// on disk: memory then grows with every record retained. Only for short runs; excludes
	// DataDir.
	InMemory bool
	// Partitions is the partition count of the podium topics (dead-letter topics excepted).
	// Default: 12.
	Partitions int
	// Topics are the topics Start creates (or verifies). Default: pkafka.PodiumTopics(Partitions),
	// the topics of the built-in sagas and workers; an embedded stack for other saga types
	// passes pkafka.SagaTopics. Retention and DeleteRetention apply to them all.
	Topics []pkafka.TopicSpec
	// Retention is retention.ms of the non-compacted podium topics, as
	// pkafka.TopicSpec.Retention. Default: pkafka.DefaultRetention (7 days).
	Retention time.Duration
	// DeleteRetention is delete.retention.ms of the compacted podium topics, as
	// pkafka.TopicSpec.DeleteRetention. Default: pkafka.DefaultDeleteRetention (2 minutes).
	DeleteRetention time.Duration
	// MinSessionTimeout is the smallest consumer-group session timeout accepted.
	// Default: 6s, as on Kafka. Tests may lower it.
	MinSessionTimeout time.Duration
	// CompactionInterval is how often the broker compacts the compacted topics
	// (podium.saga-state, the workers' processed topics) and deletes records older than their
	// topic's retention (kfake's log.cleaner.backoff.ms; its own default is an hour). Each
	// pass blocks every request while it runs. Default: 1 minute.
	CompactionInterval time.Duration
	// TLS, when set, makes the broker accept only TLS connections with this configuration.
	TLS *tls.Config
	// Users, when set, makes the broker require SASL authentication by one of them.
	Users []User
	// Logger receives the broker's messages. kfake's errors and warnings keep their level, its
	// informational messages are logged at debug level.
	Logger zerolog.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if c.CompactionInterval == 0 {
		c.CompactionInterval = DefaultCompactionInterval
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", c.Addr))
	}
	if c.Advertise != "" {
		if _, port, err := splitAdvertise(c.Advertise); err != nil {
			errs = append(errs, fmt.Errorf("advertise %q: want host:port or host", c.Advertise))
		} else if port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("advertise %q: port must be 1..65535", c.Advertise))
			}
		}
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions must be >= 1, got %d", c.Partitions))
	}
	if c.MinSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("min session timeout must not be negative, got %s", c.MinSessionTimeout))
	}
	if c.CompactionInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("compaction interval must be at least 1ms, got %s", c.CompactionInterval))
	}
	if c.InMemory && c.DataDir != "" {
		errs = append(errs, errors.New("DataDir and InMemory exclude each other: choose one"))
	}
	if c.Retention > 0 && c.Retention < time.Millisecond {
		errs = append(errs, fmt.Errorf("retention must be at least 1ms (or negative: forever), got %s", c.Retention))
	}
	if c.DeleteRetention < 0 {
		errs = append(errs, fmt.Errorf("delete retention must not be negative, got %s", c.DeleteRetention))
	}
	for _, u := range c.Users {
		switch u.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			errs = append(errs, fmt.Errorf("user %q: unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", u.Name, u.Mechanism))
		}
		if u.Name == "" {
			errs = append(errs, errors.New("SASL user without a name"))
		}
	}
	return errors.Join(errs...)
}

// splitAdvertise splits "host:port" or a bare "host" (port "").
func splitAdvertise(s string) (host, port string, err error) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p, nil
	}
	if s == "" || strings.ContainsAny(s, ":[]") {
		return "", "", fmt.Errorf("bad address %q", s)
	}
	return s, "", nil
}

// Broker is a running embedded broker.
type Broker struct {
	cluster   *kfake.Cluster
	listen    string
	advertise string
	dataDir   string // "" in memory
	tempDir   bool   // dataDir was made by Start and is removed by Close
	log       zerolog.Logger
	closeOnce sync.Once
}

// Start starts a broker and creates (or, from a data directory, verifies) every podium
// topic with the configs of pkafka.TopicSpec.Configs. ctx bounds the start only; the broker
// runs until Close. A data directory whose topics differ from what the configuration asks for
// in partition count or cleanup policy is an error wrapping a *pkafka.MismatchError; the
// broker is then closed again. Differing retention settings are updated instead.
func Start(ctx context.Context, c Config) (*Broker, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Logger

	dataDir, tempDir := c.DataDir, false
	if dataDir == "" && !c.InMemory {
		dir, err := os.MkdirTemp("", "podium-broker-")
		if err != nil {
			return nil, fmt.Errorf("creating the broker's temporary data directory: %w", err)
		}
		dataDir, tempDir = dir, true
	}
	removeTemp := func() {
		if tempDir {
			_ = os.RemoveAll(dataDir)
		}
	}

	var (
		bound     net.Addr
		advertise string
		gated     *advertisingListener
	)
	listen := func(network, _ string) (net.Listener, error) {
		// kfake asks for 127.0.0.1:<port>; we bind c.Addr instead.
		ln, err := net.Listen(network, c.Addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", c.Addr, err)
		}
		bound = ln.Addr()
		advertise = advertisedAddr(bound, c.Advertise)
		gated = newAdvertisingListener(ln, hostPortAddr(advertise))
		return gated, nil
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listen),
		kfake.ClusterID("podium-dev"),
		kfake.DefaultNumPartitions(c.Partitions),
		kfake.GroupMinSessionTimeout(c.MinSessionTimeout),
		kfake.WithLogger(kfakeLogger{log}),
		kfake.BrokerConfigs(map[string]string{
			"log.cleaner.backoff.ms": strconv.FormatInt(c.CompactionInterval.Milliseconds(), 10),
		}),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	if c.TLS != nil {
		opts = append(opts, kfake.TLS(c.TLS))
	}
	if len(c.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range c.Users {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		removeTemp()
		return nil, fmt.Errorf("starting broker: %w", err)
	}
	b := &Broker{cluster: cluster, listen: bound.String(), advertise: advertise, dataDir: dataDir, tempDir: tempDir, log: log}

	if err := ctx.Err(); err != nil {
		_ = b.Close()
		return nil, err
	}
	specs := slices.Clone(c.Topics)
	if len(specs) == 0 {
		specs = pkafka.PodiumTopics(c.Partitions)
	}
	for i := range specs {
		specs[i].Retention, specs[i].DeleteRetention = c.Retention, c.DeleteRetention
	}
	created, err := b.ensureTopics(ctx, specs, c, gated.open)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	gated.open() // (a no-op when ensureTopics opened it)
	log.Info().Str("listen", b.listen).Str("advertise", b.advertise).Str("data_dir", dataDir).
		Bool("temporary_data_dir", tempDir).Bool("in_memory", dataDir == "").
		Int("partitions", c.Partitions).Int("topics_created", created).
		Dur("retention", specRetention(c.Retention)).Dur("delete_retention", specDeleteRetention(c.DeleteRetention)).
		Dur("compaction_interval", c.CompactionInterval).Bool("tls", c.TLS != nil).
		Bool("sasl", len(c.Users) > 0).Msg("broker started")
	return b, nil
}

// specRetention and specDeleteRetention resolve the defaults of pkafka.TopicSpec, for logs.
func specRetention(d time.Duration) time.Duration {
	if d == 0 {
		return pkafka.DefaultRetention
	}
	return d
}

func specDeleteRetention(d time.Duration) time.Duration {
	if d == 0 {
		return pkafka.DefaultDeleteRetention
	}
	return d
}

// Addr is the advertised address: the one clients should bootstrap from.
func (b *Broker) Addr() string { return b.advertise }

// ListenAddr is the address the broker is bound to.
func (b *Broker) ListenAddr() string { return b.listen }

// DataDir is the directory the broker keeps its data in: Config.DataDir, or the temporary
// directory Start made (removed by Close); "" with Config.InMemory.
func (b *Broker) DataDir() string { return b.dataDir }

// Cluster exposes the underlying kfake cluster for tests (fault injection, DeleteRecords,
// compaction). Not for production code.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker: it stops accepting connections, drops the open ones and saves its
// state to the data directory, or removes the data directory if Start made it. It is
// idempotent and always returns nil.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.cluster.Close()
		if b.tempDir {
			if err := os.RemoveAll(b.dataDir); err != nil {
				b.log.Warn().Err(err).Str("data_dir", b.dataDir).Msg("removing the temporary data directory")
			}
		}
		b.log.Info().Msg("broker stopped")
	})
	return nil
}

// ensureTopics creates the missing topics in-process and verifies the existing ones. It
// reports how many topics it created. Existing topics whose retention settings differ from
// specs are updated over a loopback connection (kfake has no in-process way to alter configs):
// before that, once every topic exists, it calls serve, which lets clients in.
func (b *Broker) ensureTopics(ctx context.Context, specs []pkafka.TopicSpec, c Config, serve func()) (int, error) {
	var (
		mm       []pkafka.TopicMismatch
		created  int
		existing []pkafka.TopicSpec
	)
	for _, s := range specs {
		info := b.cluster.TopicInfo(s.Name)
		if info == nil {
			if err := b.cluster.CreateTopic(s.Name, int32(s.Partitions), s.Configs()); err != nil {
				return created, fmt.Errorf("creating topic %s: %w", s.Name, err)
			}
			created++
			continue
		}
		existing = append(existing, s)
		if got := len(b.cluster.PartitionInfos(s.Name)); !s.AnyPartitions && got != s.Partitions {
			mm = append(mm, pkafka.TopicMismatch{Topic: s.Name, Field: "partitions", Want: strconv.Itoa(s.Partitions), Got: strconv.Itoa(got)})
		}
		want := s.Configs()[pkafka.ConfigCleanupPolicy]
		got := pkafka.CleanupDelete // kfake's default when unset
		if v := info.Configs[pkafka.ConfigCleanupPolicy]; v != nil {
			got = *v
		}
		if got != want {
			mm = append(mm, pkafka.TopicMismatch{Topic: s.Name, Field: pkafka.ConfigCleanupPolicy, Want: want, Got: strconv.Quote(got)})
		}
	}
	if len(mm) > 0 {
		return created, fmt.Errorf("the data directory's topics do not match the configuration (use the partition count it was created with, or a new data directory): %w", &pkafka.MismatchError{Mismatches: mm})
	}

	serve()
	updates := pkafka.ConfigUpdates(existing, func(topic string) map[string]string {
		m := map[string]string{}
		if info := b.cluster.TopicInfo(topic); info != nil {
			for k, v := range info.Configs {
				if v != nil {
					m[k] = *v
				}
			}
		}
		return m
	})
	if len(updates) == 0 {
		return created, nil
	}
	cfg, err := b.loopback(c)
	var report pkafka.TopicReport
	if err == nil {
		report, err = pkafka.ReconcileTopics(ctx, cfg, existing)
	}
	for _, u := range report.Updated {
		b.log.Info().Str("topic", u.Topic).Str("config", u.Name).Str("old", u.Old).Str("new", u.New).Msg("topic config updated")
	}
	if err != nil {
		// Old retention settings are no reason not to run: say how to fix them.
		b.log.Warn().Err(err).Int("configs", len(updates)).
			Msg("the data directory's topics keep their old retention settings; update them with podium topics create")
	}
	return created, nil
}

// loopback is a client configuration that reaches this broker from its own process,
// whatever it advertises: every connection dials the bound address. With TLS it does not
// verify the broker's certificate (it is our own) and presents no client certificate, so it
// cannot pass a broker that requires one; with SASL it logs in as the first user.
func (b *Broker) loopback(c Config) (pkafka.Config, error) {
	host, port, _ := net.SplitHostPort(b.listen)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, port)
	cfg := pkafka.Config{
		Brokers:  []string{addr},
		ClientID: "podium-broker",
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	if c.TLS != nil {
		cfg.TLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // our own listener
	}
	if len(c.Users) > 0 {
		u := c.Users[0]
		switch u.Mechanism {
		case "SCRAM-SHA-256", "SCRAM-SHA-512":
			algo := scram.SHA256
			if u.Mechanism == "SCRAM-SHA-512" {
				algo = scram.SHA512
			}
			m, err := scram.Mechanism(algo, u.Name, u.Password)
			if err != nil {
				return cfg, fmt.Errorf("SASL user %q: %w", u.Name, err)
			}
			cfg.SASL = m
		default:
			cfg.SASL = plain.Mechanism{Username: u.Name, Password: u.Password}
		}
	}
	return cfg, nil
}

// advertisedAddr resolves Config.Advertise against the bound address.
func advertisedAddr(bound net.Addr, advertise string) string {
	bhost, bport, _ := net.SplitHostPort(bound.String())
	if advertise == "" {
		if ip := net.ParseIP(bhost); ip == nil || ip.IsUnspecified() {
			bhost = "127.0.0.1"
		}
		return net.JoinHostPort(bhost, bport)
	}
	host, port, _ := splitAdvertise(advertise)
	if port == "" {
		port = bport
	}
	return net.JoinHostPort(host, port)
}

// advertisingListener reports the advertised address as its own: kfake puts Addr() into
// metadata, FindCoordinator and other responses that tell clients where to connect.
//
// It also holds every connection back until open is called, once the broker's topics exist:
// the port listens from the start (the kernel completes the handshakes, so a client's
// connect succeeds), but no request is served before then. A client started with the broker
// (a compose stack, a test's processes) would otherwise find the port open and a topic
// missing, and stop on it.
type advertisingListener struct {
	net.Listener
	addr     net.Addr
	ready    chan struct{}
	openOnce sync.Once
	closed   chan struct{}
	shutOnce sync.Once
}

func newAdvertisingListener(ln net.Listener, addr net.Addr) *advertisingListener {
	return &advertisingListener{Listener: ln, addr: addr, ready: make(chan struct{}), closed: make(chan struct{})}
}

func (l *advertisingListener) Addr() net.Addr { return l.addr }

// open lets Accept return connections.
func (l *advertisingListener) open() { l.openOnce.Do(func() { close(l.ready) }) }

func (l *advertisingListener) Accept() (net.Conn, error) {
	select {
	case <-l.ready:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	return l.Listener.Accept()
}

func (l *advertisingListener) Close() error {
	l.shutOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// hostPortAddr is a net.Addr that is just a host:port string.
type hostPortAddr string

func (a hostPortAddr) Network() string { return "tcp" }
func (a hostPortAddr) String() string  { return string(a) }

// kfakeLogger adapts zerolog to kfake.Logger.
type kfakeLogger struct{ log zerolog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var e *zerolog.Event
	switch level {
	case kfake.LogLevelError:
		e = l.log.Error()
	case kfake.LogLevelWarn:
		e = l.log.Warn()
	case kfake.LogLevelInfo:
		e = l.log.Debug()
		// A refused login is the operator's business (a wrong password, a client without
		// SASL): kfake reports it as an unhandled request at info level.
		if strings.Contains(msg, "unable to be handled") && strings.Contains(strings.ToLower(fmt.Sprint(args...)), "sasl") {
			e = l.log.Warn().Str("event", "sasl_refused")
		}
	default:
		e = l.log.Trace()
	}
	e.Msgf(msg, args...)
}
