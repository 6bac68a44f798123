package otlpjson_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/otlpjson"
)

// BenchmarkTranscode compares the transcoder with pdata (protobuf reader and
// JSON marshaler, what tracegate did before) on traces of 10, 2,000 and
// 20,000 spans, and reports allocations per span.
func BenchmarkTranscode(b *testing.B) {
	for _, n := range []int{10, 2000, 20000} {
		data := marshal(b, Synthetic(rand.New(rand.NewPCG(7, 8)), n)) //nolint:gosec // test data
		ways := []struct {
			name string
			run  func() error
		}{
			{"otlpjson", func() error {
				tr, err := otlpjson.Parse(data)
				if err != nil {
					return err
				}
				return tr.WriteJSON(io.Discard, []byte(`{"traceId":"x"}`), nil)
			}},
			{"pdata", func() error {
				td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
				if err != nil {
					return err
				}
				out, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
				_, _ = io.Discard.Write(out)
				return err
			}},
		}
		for _, way := range ways {
			b.Run(fmt.Sprintf("spans=%d/%s", n, way.name), func(b *testing.B) {
				allocs := testing.AllocsPerRun(1, func() { _ = way.run() })
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := way.run(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(allocs/float64(n), "allocs/span")
			})
		}
	}
}
