// Package devbroker is podium's embedded Kafka broker for development, tests and the demo:
// one in-process broker speaking the Kafka protocol, built on franz-go's kfake, with optional
// on-disk persistence, a chosen listen address and a separately advertised address.
//
// Start creates every podium topic (pkafka.PodiumTopics) with compaction where DESIGN §2
// requires it, or verifies them when a data directory already holds them, so that no client
// ever subscribes to a missing topic.
//
// # Addresses
//
// The broker listens on Config.Addr and tells clients (in metadata and coordinator responses)
// to connect to Config.Advertise. kfake reports whatever its listener's Addr() returns, so
// devbroker hands kfake a listener bound to Addr whose Addr() reports Advertise. Use it when
// clients reach the broker under another name than the one it binds, e.g. listen on
// 0.0.0.0:9092 in a container and advertise kafka:9092.
//
// # Durability
//
// With a DataDir, kfake writes segments and state continuously (through the OS page cache, so
// a killed process loses nothing; a machine crash may lose the last writes) and saves its
// full state on Close; Start on the same directory brings back topics, records and committed
// group offsets. Without a DataDir everything lives in memory.
//
// A Broker is safe for concurrent use; Close is idempotent.
package devbroker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// Defaults of Config.
const (
	DefaultAddr       = "127.0.0.1:9092"
	DefaultPartitions = 12
	// DefaultMinSessionTimeout is Kafka's group.min.session.timeout.ms.
	DefaultMinSessionTimeout = 6 * time.Second
	// DefaultCompactionInterval is how often the compacted topics are compacted.
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
	// DataDir persists the broker's state; "" keeps everything in memory.
	DataDir string
	// Partitions is the partition count of the podium topics (dead-letter topics excepted).
	// Default: 12.
	Partitions int
	// MinSessionTimeout is the smallest consumer-group session timeout accepted.
	// Default: 6s, as on Kafka. Tests may lower it.
	MinSessionTimeout time.Duration
	// CompactionInterval is how often the compacted topics (podium.saga-state, the workers'
	// processed topics) are compacted. kfake's own default is an hour, which lets a dev
	// broker's changelog grow without bound between restarts. Default: 1 minute.
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
	log       zerolog.Logger
	closeOnce sync.Once
}

// Start starts a broker and creates (or, from a data directory, verifies) every podium
// topic. ctx bounds the start only; the broker runs until Close. A data directory whose
// topics differ from what the configuration asks for (for example another partition count)
// is an error wrapping a *pkafka.MismatchError; the broker is then closed again.
func Start(ctx context.Context, c Config) (*Broker, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	log := c.Logger

	var (
		bound     net.Addr
		advertise string
	)
	listen := func(network, _ string) (net.Listener, error) {
		// kfake asks for 127.0.0.1:<port>; we bind c.Addr instead.
		ln, err := net.Listen(network, c.Addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", c.Addr, err)
		}
		bound = ln.Addr()
		advertise = advertisedAddr(bound, c.Advertise)
		return &advertisingListener{Listener: ln, addr: hostPortAddr(advertise)}, nil
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
	if c.DataDir != "" {
		opts = append(opts, kfake.DataDir(c.DataDir))
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
		return nil, fmt.Errorf("starting broker: %w", err)
	}
	b := &Broker{cluster: cluster, listen: bound.String(), advertise: advertise, log: log}

	if err := ctx.Err(); err != nil {
		_ = b.Close()
		return nil, err
	}
	created, err := b.ensureTopics(pkafka.PodiumTopics(c.Partitions))
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	log.Info().Str("listen", b.listen).Str("advertise", b.advertise).Str("data_dir", c.DataDir).
		Int("partitions", c.Partitions).Int("topics_created", created).Bool("tls", c.TLS != nil).
		Bool("sasl", len(c.Users) > 0).Msg("broker started")
	return b, nil
}

// Addr is the advertised address: the one clients should bootstrap from.
func (b *Broker) Addr() string { return b.advertise }

// ListenAddr is the address the broker is bound to.
func (b *Broker) ListenAddr() string { return b.listen }

// Cluster exposes the underlying kfake cluster for tests (fault injection, DeleteRecords,
// compaction). Not for production code.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker: it stops accepting connections, drops the open ones and, with a
// DataDir, saves its state. It is idempotent and always returns nil.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.cluster.Close()
		b.log.Info().Msg("broker stopped")
	})
	return nil
}

// ensureTopics creates the missing topics in-process and verifies the existing ones.
// It reports how many topics it created.
func (b *Broker) ensureTopics(specs []pkafka.TopicSpec) (int, error) {
	var (
		mm      []pkafka.TopicMismatch
		created int
	)
	for _, s := range specs {
		policy := pkafka.CleanupDelete
		if s.Compacted {
			policy = pkafka.CleanupCompact
		}
		info := b.cluster.TopicInfo(s.Name)
		if info == nil {
			if err := b.cluster.CreateTopic(s.Name, int32(s.Partitions), map[string]string{"cleanup.policy": policy}); err != nil {
				return created, fmt.Errorf("creating topic %s: %w", s.Name, err)
			}
			created++
			continue
		}
		if got := len(b.cluster.PartitionInfos(s.Name)); !s.AnyPartitions && got != s.Partitions {
			mm = append(mm, pkafka.TopicMismatch{Topic: s.Name, Field: "partitions", Want: strconv.Itoa(s.Partitions), Got: strconv.Itoa(got)})
		}
		got := pkafka.CleanupDelete // kfake's default when unset
		if v := info.Configs["cleanup.policy"]; v != nil {
			got = *v
		}
		if got != policy {
			mm = append(mm, pkafka.TopicMismatch{Topic: s.Name, Field: "cleanup.policy", Want: policy, Got: strconv.Quote(got)})
		}
	}
	if len(mm) > 0 {
		return created, fmt.Errorf("the data directory's topics do not match the configuration (use the partition count it was created with, or a new data directory): %w", &pkafka.MismatchError{Mismatches: mm})
	}
	return created, nil
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
type advertisingListener struct {
	net.Listener
	addr net.Addr
}

func (l *advertisingListener) Addr() net.Addr { return l.addr }

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
