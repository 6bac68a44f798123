package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Tracing is tracegate's own OpenTelemetry tracing; the zero value is off.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// SetupTracing turns tracing on when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set in environ: spans go to that
// OTLP/HTTP endpoint, and the other standard OTEL_* variables (headers,
// sampler, resource attributes, service name) apply as the SDK defines them.
// Otherwise it returns a Tracing that is off and changes nothing.
func SetupTracing(ctx context.Context, environ map[string]string, version string) (*Tracing, error) {
	endpoint := environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
	if endpoint == "" && environ["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" {
		endpoint = environ["OTEL_EXPORTER_OTLP_ENDPOINT"] + "/v1/traces"
	}
	if endpoint == "" {
		return &Tracing{}, nil
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("tracegate"), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return &Tracing{provider: tp}, nil
}

// On reports whether spans are exported.
func (t *Tracing) On() bool { return t.provider != nil }

// Shutdown flushes and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Handler wraps the server. The API is public: a caller's traceparent does
// not become the parent of tracegate's spans (it is only linked), so nothing
// a client sends travels on to Tempo.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t.provider == nil {
		return h
	}
	return otelhttp.NewHandler(h, "tracegate", otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Transport wraps the transport toward Tempo: one client span per call, and
// W3C traceparent of tracegate's own span on the request.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if t.provider == nil {
		return rt
	}
	return otelhttp.NewTransport(rt, otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return "tempo " + tempoOperation(r.URL.Path)
	}))
}
