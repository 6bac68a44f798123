package traceql

import "testing"

// benchQuery is a realistic query of about 1 KiB: nested conditions, a structural
// operator, regexes, durations, a comment and a pipeline.
const benchQuery = `{ resource.service.name = "checkout" && span.http.method = "POST" && span.http.route =~ "/api/v1/orders/.*" ` +
	`&& (span.http.status_code >= 500 || status = error) && duration > 250ms && resource.deployment.environment = "production" ` +
	`&& span.db.system != "redis" && !(span.http.user_agent =~ ".*HealthCheck.*") } ` +
	`> { kind = client && span.peer.service = "payments" && span.rpc.method = "Charge" && span.net.peer.port = 443 ` +
	`&& (span.rpc.grpc.status_code = 14 || span.rpc.grpc.status_code = 4) && duration > 1.5s } ` +
	`&& { resource.service.name = "inventory" && span.messaging.system = "kafka" && span.messaging.destination.name =~ "orders-.*" ` +
	`&& span.messaging.operation = "publish" && event:name = "exception" && instrumentation:name = "io.opentelemetry.kafka" } // slow checkouts
| by(resource.k8s.namespace.name) | count() > 3 | avg(duration) > 400ms ` +
	`| select(span.http.url, span.http.target, resource.host.name, resource.k8s.pod.name, span.enduser.id, span.error.type, statusMessage, span:id) ` +
	`| { span.http.response_content_length > 1024 || span.http.request_content_length > 2048 }`

func BenchmarkParseConfinePrint(b *testing.B) {
	if len(benchQuery) < 1000 || len(benchQuery) > 1200 {
		b.Fatalf("benchmark query is %d bytes, want about 1 KiB", len(benchQuery))
	}
	tenants := []string{"acme"}
	b.SetBytes(int64(len(benchQuery)))
	b.ReportAllocs()
	for b.Loop() {
		q, err := Parse(benchQuery)
		if err != nil {
			b.Fatal(err)
		}
		c, err := Confine(q, "tenant.id", tenants, Search)
		if err != nil {
			b.Fatal(err)
		}
		if len(c.String()) <= len(benchQuery)/2 {
			b.Fatal("printed form too short")
		}
	}
}
