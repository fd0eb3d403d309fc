package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// Service names of podium's processes: the service.name of their spans unless
// OTEL_SERVICE_NAME says otherwise.
const (
	ServiceOrchestrator = "podium-orchestrator"
	ServiceAPI          = "podium-api"
)

// ServiceWorker is the service name of worker name's processes: podium-worker-<name>.
func ServiceWorker(name string) string { return "podium-worker-" + name }

// The standard variables Setup reads itself (the exporter and the SDK read the others).
const (
	EnvEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter  = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled     = "OTEL_SDK_DISABLED"
	protocolHTTPProto  = "http/protobuf"
	protocolGRPC       = "grpc"
	exporterOTLP       = "otlp"
	exporterNone       = "none"
	defaultTracesRoute = "/v1/traces"
)

// Shutdown flushes the spans not yet exported and stops the exporter, within ctx.
type Shutdown func(ctx context.Context) error

// Setup installs the global TracerProvider for the process named service (see
// ServiceOrchestrator, ServiceWorker, ServiceAPI) when the environment configures OTLP
// export (see the package documentation), logs where the spans go, and returns the Shutdown
// to call on exit. When it does not, Setup installs nothing, logs nothing and returns a
// Shutdown that does nothing. A variable it cannot use (an endpoint that is not an http(s)
// URL, a protocol other than http/protobuf and grpc, an exporter other than otlp and none)
// is an error naming it, and nothing is installed.
func Setup(ctx context.Context, service string, log zerolog.Logger) (Shutdown, error) {
	cfg, ok, err := exportConfig(os.Getenv)
	if err != nil || !ok {
		return func(context.Context) error { return nil }, err
	}
	// Both exporters read the endpoint, headers, TLS, timeout and compression variables.
	var exp sdktrace.SpanExporter
	if cfg.protocol == protocolGRPC {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: creating the OTLP exporter: %w", err)
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the name.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("tracing: building the resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn().Err(err).Msg("tracing: exporting spans")
	}))
	name, _ := res.Set().Value(semconv.ServiceNameKey)
	log.Info().Str("otlp_endpoint", cfg.endpoint).Str("otlp_protocol", cfg.protocol).Str("service_name", name.AsString()).
		Msg("tracing: exporting spans over OTLP")
	return tp.Shutdown, nil
}

// export is where and how spans are exported.
type export struct {
	endpoint string // the URL spans are sent to
	protocol string // protocolHTTPProto or protocolGRPC
}

// exportConfig reads the variables that decide whether spans are exported: it returns
// where to and true when they are, false when they are not, and an error for a value podium
// cannot use.
func exportConfig(getenv func(string) string) (export, bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return export{}, false, nil
	}
	switch exp := strings.TrimSpace(getenv(EnvTracesExporter)); exp {
	case "", exporterOTLP:
	case exporterNone:
		return export{}, false, nil
	default:
		return export{}, false, fmt.Errorf("tracing: %s=%q: podium exports traces with %q or not at all (%q)", EnvTracesExporter, exp, exporterOTLP, exporterNone)
	}
	endpointVar, endpoint := EnvTracesEndpoint, strings.TrimSpace(getenv(EnvTracesEndpoint))
	if endpoint == "" {
		endpointVar, endpoint = EnvEndpoint, strings.TrimSpace(getenv(EnvEndpoint))
	}
	if endpoint == "" {
		return export{}, false, nil
	}
	var errs []error
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("%s=%q: %w", endpointVar, endpoint, err))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("%s=%q: want an http:// or https:// URL, like http://localhost:4318", endpointVar, endpoint))
	}
	protocolVar, protocol := EnvTracesProtocol, strings.TrimSpace(getenv(EnvTracesProtocol))
	if protocol == "" {
		protocolVar, protocol = EnvProtocol, strings.TrimSpace(getenv(EnvProtocol))
	}
	switch protocol {
	case "":
		protocol = protocolHTTPProto
	case protocolHTTPProto, protocolGRPC:
	default:
		errs = append(errs, fmt.Errorf("%s=%q: podium exports OTLP as %s (the collector's port 4318) or %s (port 4317)", protocolVar, protocol, protocolHTTPProto, protocolGRPC))
	}
	if err := errors.Join(errs...); err != nil {
		return export{}, false, fmt.Errorf("tracing: %w", err)
	}
	if endpointVar == EnvEndpoint && protocol == protocolHTTPProto {
		// The base URL of every signal: traces go to its /v1/traces.
		endpoint = strings.TrimSuffix(endpoint, "/") + defaultTracesRoute
	}
	return export{endpoint: endpoint, protocol: protocol}, true, nil
}
