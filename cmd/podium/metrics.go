package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// serveMetrics starts /metrics, /healthz and /readyz on addr (nothing when addr is empty)
// and returns the registry to register collectors with, the function that marks the
// process ready (/readyz answers 503 until it is called), and a stop function.
//
// With PODIUM_PPROF=true in the environment (podium bench sets it for its children) the
// server also serves net/http/pprof under /debug/pprof/ — profiles of a process under
// load, e.g. `go tool pprof http://ADDR/debug/pprof/profile?seconds=20`. It is off by
// default: profiles expose internals and cost CPU while taken.
func serveMetrics(ctx context.Context, addr string, log zerolog.Logger) (*prometheus.Registry, func(), func(), error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(pkafka.Collectors()...)
	var ready atomic.Bool
	markReady := func() { ready.Store(true) }
	if addr == "" {
		return reg, markReady, func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting: Kafka and the topics not checked yet", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	})
	pprofOn := envBool("pprof", false)
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// No WriteTimeout: a CPU profile streams for as long as it was asked to run.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Bool("pprof", pprofOn).Msg("serving /metrics")
	return reg, markReady, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
