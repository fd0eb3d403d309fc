package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	kafkago "github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator/saga"
	"github.com/podiumhq/podium/sagas"
)

// Defaults of Config.
const (
	DefaultAddr          = "127.0.0.1:8080"
	DefaultMaxBody       = 1 << 20
	DefaultMaxSSEClients = 100
)

// Timeouts of the HTTP server. WriteTimeout bounds every response but the server-sent
// event streams, which set a deadline per write (sseWriteTimeout) instead.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second // above publishTimeout
	IdleTimeout       = 2 * time.Minute
)

// Publisher writes records to Kafka; *pkafka.Producer from internal/kafka is one.
// Messages carry their topic.
type Publisher interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
}

// Config configures a Service.
type Config struct {
	// Kafka is the cluster holding podium.saga-state and orders.events, and receiving
	// orders.placed and orders.control.
	Kafka pkafka.Config
	// Addr is the HTTP listen address of Run. Default: "127.0.0.1:8080".
	Addr string
	// Partitions, when > 0, is the partition count podium.saga-state must have; a
	// mismatch stops Consume with an error. 0 accepts any count. orders.events is read
	// whatever its count.
	Partitions int
	// Token, when set, is required by every endpoint but /healthz, /readyz, /metrics, the
	// login page and the static files: as "Authorization: Bearer <token>", or as the
	// session cookie the dashboard's login page sets. Empty: no authentication.
	Token string
	// ShowPersonalData shows customers' email and address in full. Default: masked
	// (a***@example.com; the address reduced to city and country). Payment tokens are
	// never shown.
	ShowPersonalData bool
	// AllowedOrigins are the origins (scheme://host[:port]) besides the API's own from
	// which a browser may send POST requests. Default: none.
	AllowedOrigins []string
	// MaxSSEClients caps the open /events streams; beyond it /events answers 503 with
	// Retry-After. Default: 100.
	MaxSSEClients int
	// Retention is how long a finished saga (completed or compensated: an order completed
	// or cancelled, a return refunded or rejected) stays in the read model after it
	// finished; match the orchestrator's --retention. Default: 7 days.
	Retention time.Duration
	// MaxOrders caps the sagas (of every type) the read model holds; beyond it the finished
	// sagas that finished first are dropped (sagas in flight never are). Default: 100,000.
	MaxOrders int
	// MaxBody is the largest request body accepted, in bytes; larger ones get 413.
	// Default: 1 MiB.
	MaxBody int64
	// Definitions are the saga definitions served: they name the statuses of their sagas
	// and draw their steps and DAGs (sagas of other definitions are listed all the same,
	// with the engine's statuses). The first is the default of /saga/diagram.svg.
	// Default: every built-in saga type (sagas.Definitions(): the order saga, returns).
	Definitions []*saga.Definition
	// Publisher writes OrderPlaced and control requests. Default: a writer from
	// internal/kafka.NewProducer(Kafka), closed by Close.
	Publisher Publisher
	// Registry receives the metrics served on /metrics. Default: a new registry with the
	// Go and process collectors.
	Registry *prometheus.Registry
	// Logger receives the service's logs; the caller sets component.
	Logger zerolog.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxSSEClients == 0 {
		c.MaxSSEClients = DefaultMaxSSEClients
	}
	if len(c.Definitions) == 0 {
		c.Definitions = sagas.Definitions()
	}
	return c
}

func (c Config) limits() Limits { return Limits{Retention: c.Retention, MaxOrders: c.MaxOrders} }

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("kafka: %w", err))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port", c.Addr))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions %d: must not be negative", c.Partitions))
	}
	if err := c.limits().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("max body %d: must be positive", c.MaxBody))
	}
	if c.MaxSSEClients < 0 {
		errs = append(errs, fmt.Errorf("max SSE clients %d: must not be negative (0: the default)", c.MaxSSEClients))
	}
	if c.Token != strings.TrimSpace(c.Token) {
		errs = append(errs, errors.New("token: must not begin or end with white space"))
	}
	if _, err := crossOrigin(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	ids := map[string]bool{}
	for _, d := range c.Definitions {
		if d == nil {
			errs = append(errs, errors.New("definitions: nil definition"))
			continue
		}
		if err := d.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("definition %q: %w", d.ID(), err))
		}
		if ids[d.ID()] {
			errs = append(errs, fmt.Errorf("definition %q: given twice", d.ID()))
		}
		ids[d.ID()] = true
	}
	return errors.Join(errs...)
}

// Service is the read model, the consumer that feeds it and the HTTP handler over it.
type Service struct {
	cfg     Config
	log     zerolog.Logger
	model   *ReadModel
	pub     Publisher
	ownPub  *pkafka.Producer
	defs    map[string]*saga.Definition // by ID
	metrics *metrics
	handler http.Handler
	ui      *ui
	guard   *guard // nil without a token
	origins *http.CrossOriginProtection
	privacy privacy
	// sseClients counts the open /events streams (at most cfg.MaxSSEClients).
	sseClients atomic.Int64
	// timeouts are the HTTP server's (tests shorten them).
	timeouts serverTimeouts

	stopSSE     chan struct{} // closed when the HTTP server shuts down
	stopSSEOnce sync.Once
	restored    chan struct{} // closed when the restore is done
	restoreOnce sync.Once
}

// New builds a Service from a validated configuration. It does not connect to Kafka:
// Consume does.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Service{
		cfg:      cfg,
		log:      cfg.Logger, // the caller sets component
		model:    NewReadModel(cfg.limits(), cfg.Definitions...),
		pub:      cfg.Publisher,
		defs:     make(map[string]*saga.Definition, len(cfg.Definitions)),
		stopSSE:  make(chan struct{}),
		restored: make(chan struct{}),
	}
	for _, d := range cfg.Definitions {
		s.defs[d.ID()] = d
	}
	if cfg.Token != "" {
		s.guard = newGuard(cfg.Token)
	}
	s.origins, _ = crossOrigin(cfg.AllowedOrigins) // checked by Validate
	s.privacy = privacy{showPersonal: cfg.ShowPersonalData}
	s.timeouts = serverTimeouts{readHeader: ReadHeaderTimeout, read: ReadTimeout, write: WriteTimeout, idle: IdleTimeout}
	if s.pub == nil {
		s.ownPub = pkafka.NewProducer(cfg.Kafka)
		s.pub = s.ownPub
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m, err := newMetrics(reg, s.model)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	s.metrics = m
	ui, err := newUI(s)
	if err != nil {
		return nil, err
	}
	s.ui = ui
	s.handler = s.routes(reg)
	return s, nil
}

// Model is the service's read model.
func (s *Service) Model() *ReadModel { return s.model }

// Handler serves the API, the dashboard, /events, /healthz, /readyz and /metrics.
func (s *Service) Handler() http.Handler { return s.handler }

// Ready reports whether the restore is done (what /readyz answers).
func (s *Service) Ready() bool { return s.model.Ready() }

// Restored is closed once the read model caught up with the watermarks captured at start.
func (s *Service) Restored() <-chan struct{} { return s.restored }

// Close releases the publisher Config.Publisher defaulted to, and ends the server-sent
// event streams.
func (s *Service) Close() error {
	s.closeStreams()
	if s.ownPub != nil {
		return s.ownPub.Close()
	}
	return nil
}

func (s *Service) closeStreams() { s.stopSSEOnce.Do(func() { close(s.stopSSE) }) }

// crossOrigin is the check of every request that may change something (see protect):
// Sec-Fetch-Site, else Origin, must name this server or one of trusted.
func crossOrigin(trusted []string) (*http.CrossOriginProtection, error) {
	cop := http.NewCrossOriginProtection()
	var errs []error
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("allowed origins: %w (want scheme://host[:port])", err))
		}
	}
	return cop, errors.Join(errs...)
}

// serverTimeouts are the timeouts of the HTTP server.
type serverTimeouts struct {
	readHeader, read, write, idle time.Duration
}

// httpServer is the server Serve runs: the handler and the timeouts.
func (s *Service) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.timeouts.readHeader,
		ReadTimeout:       s.timeouts.read,
		WriteTimeout:      s.timeouts.write,
		IdleTimeout:       s.timeouts.idle,
	}
}

// Serve consumes the changelog and serves HTTP on ln until ctx ends; then it shuts the
// server down (waiting up to 5s for requests in flight) and returns. It returns early
// with an error if consuming fails for good (a partition count mismatch) or the server
// fails.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer()
	srv.RegisterOnShutdown(s.closeStreams)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Consume(gctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Warn().Err(err).Msg("http shutdown")
			_ = srv.Close()
		}
		return nil
	})
	return g.Wait()
}

// Run is `podium api`: it builds a Service, listens on cfg.Addr and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	s.log.Info().Str("addr", ln.Addr().String()).Str("url", "http://"+ln.Addr().String()+"/").Msg("serving API and dashboard")
	return s.Serve(ctx, ln)
}
