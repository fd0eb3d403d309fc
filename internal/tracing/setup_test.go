package tracing

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// otelVars are every variable Setup and the exporter read that a test sets; each test
// starts with all of them empty, whatever the environment of the run.
var otelVars = []string{EnvEndpoint, EnvTracesEndpoint, EnvProtocol, EnvTracesProtocol, EnvTracesExporter,
	EnvSDKDisabled, "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, v := range otelVars {
		t.Setenv(v, "")
	}
}

// keepGlobals restores OpenTelemetry's globals that Setup changes.
func keepGlobals(t *testing.T) {
	t.Helper()
	tp, prop, eh := otel.GetTracerProvider(), otel.GetTextMapPropagator(), otel.GetErrorHandler()
	t.Cleanup(func() {
		if otel.GetTracerProvider() != tp {
			otel.SetTracerProvider(tp)
		}
		if otel.GetTextMapPropagator() != prop {
			otel.SetTextMapPropagator(prop)
		}
		if otel.GetErrorHandler() != eh {
			otel.SetErrorHandler(eh)
		}
	})
}

// TestSetupWithoutEndpointInstallsNothing: without an OTLP endpoint (or with export turned
// off) Setup leaves the global provider alone and writes no log line.
func TestSetupWithoutEndpointInstallsNothing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"no variables", nil},
		{"protocol only", map[string]string{EnvProtocol: "grpc", "OTEL_SERVICE_NAME": "x"}},
		{"sdk disabled", map[string]string{EnvSDKDisabled: "true", EnvEndpoint: "http://localhost:4318"}},
		{"exporter none", map[string]string{EnvTracesExporter: "none", EnvTracesEndpoint: "http://localhost:4318/v1/traces"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			keepGlobals(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var logs bytes.Buffer
			log := zerolog.New(&logs).Level(zerolog.TraceLevel)
			before, beforeProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
			shutdown, err := Setup(context.Background(), ServiceOrchestrator, log)
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if got := otel.GetTracerProvider(); got != before {
				t.Errorf("the global TracerProvider changed to %T, want it untouched", got)
			}
			if got := otel.GetTextMapPropagator(); got != beforeProp {
				t.Errorf("the global propagator changed to %T, want it untouched", got)
			}
			if err := shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if logs.Len() != 0 {
				t.Errorf("Setup logged %q, want nothing", logs.String())
			}
		})
	}
}

// TestSetupRejectsUnusableValues: a value podium cannot use is an error naming its variable.
func TestSetupRejectsUnusableValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no scheme", map[string]string{EnvEndpoint: "localhost:4318"}, []string{EnvEndpoint, "http://"}},
		{"json", map[string]string{EnvEndpoint: "http://localhost:4318", EnvProtocol: "http/json"}, []string{EnvProtocol, "grpc", "http/protobuf"}},
		{"both at once",
			map[string]string{EnvTracesEndpoint: "collector", EnvTracesProtocol: "http/json"},
			[]string{EnvTracesEndpoint, EnvTracesProtocol}},
		{"exporter", map[string]string{EnvTracesExporter: "zipkin", EnvEndpoint: "http://localhost:4318"}, []string{EnvTracesExporter}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			keepGlobals(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			before := otel.GetTracerProvider()
			_, err := Setup(context.Background(), ServiceAPI, zerolog.Nop())
			if err == nil {
				t.Fatal("Setup: got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if otel.GetTracerProvider() != before {
				t.Error("a provider was installed despite the error")
			}
		})
	}
}

// collector is an OTLP/HTTP endpoint that keeps the requests it receives.
type collector struct {
	mu     sync.Mutex
	paths  []string
	bodies [][]byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) received() (paths []string, all []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...), bytes.Join(c.bodies, nil)
}

// TestSetupExportsOverOTLP: with an endpoint, Setup installs an SDK provider, logs where the
// spans go, and Shutdown flushes a span to the collector, named by the service (or by
// OTEL_SERVICE_NAME).
func TestSetupExportsOverOTLP(t *testing.T) {
	tests := []struct {
		name, service, envName, want string
		traces                       bool // the endpoint is OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	}{
		{"base endpoint", ServiceWorker("payment"), "", "podium-worker-payment", false},
		{"traces endpoint and OTEL_SERVICE_NAME", ServiceOrchestrator, "shop-orchestrator", "shop-orchestrator", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			keepGlobals(t)
			c := &collector{}
			srv := httptest.NewServer(c)
			defer srv.Close()
			if tt.traces {
				t.Setenv(EnvTracesEndpoint, srv.URL+"/v1/traces")
			} else {
				t.Setenv(EnvEndpoint, srv.URL)
			}
			t.Setenv("OTEL_SERVICE_NAME", tt.envName)
			var logs bytes.Buffer
			shutdown, err := Setup(context.Background(), tt.service, zerolog.New(&logs))
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
				t.Fatalf("global provider: got %T, want *sdktrace.TracerProvider", otel.GetTracerProvider())
			}
			if _, ok := otel.GetTextMapPropagator().(propagation.TraceContext); !ok {
				t.Errorf("global propagator: got %T, want propagation.TraceContext", otel.GetTextMapPropagator())
			}
			if got := logs.String(); !strings.Contains(got, srv.URL+"/v1/traces") || !strings.Contains(got, tt.want) {
				t.Errorf("log %q: want the traces URL %s and the service %s", got, srv.URL+"/v1/traces", tt.want)
			}
			_, span := otel.Tracer("test").Start(context.Background(), "podium.test.span")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			paths, body := c.received()
			if len(paths) == 0 {
				t.Fatal("the collector received nothing")
			}
			for _, p := range paths {
				if p != "/v1/traces" {
					t.Errorf("request path %q, want /v1/traces", p)
				}
			}
			for _, want := range []string{"podium.test.span", tt.want} {
				if !bytes.Contains(body, []byte(want)) {
					t.Errorf("the exported spans do not contain %q", want)
				}
			}
		})
	}
}

// traceService is an OTLP/gRPC trace endpoint that keeps the span names it receives.
type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
	svc   []string
}

func (s *traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				s.svc = append(s.svc, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s.names = append(s.names, sp.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestSetupExportsOverOTLPgRPC: OTEL_EXPORTER_OTLP_PROTOCOL=grpc exports to a gRPC endpoint.
func TestSetupExportsOverOTLPgRPC(t *testing.T) {
	clearEnv(t)
	keepGlobals(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	svc := &traceService{}
	coltracepb.RegisterTraceServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	t.Setenv(EnvEndpoint, "http://"+lis.Addr().String())
	t.Setenv(EnvProtocol, "grpc")

	shutdown, err := Setup(context.Background(), ServiceOrchestrator, zerolog.Nop())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	_, span := otel.Tracer("test").Start(context.Background(), "podium.test.grpc")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if !slices.Contains(svc.names, "podium.test.grpc") || !slices.Contains(svc.svc, ServiceOrchestrator) {
		t.Errorf("received spans %v of services %v, want podium.test.grpc of %s", svc.names, svc.svc, ServiceOrchestrator)
	}
}
