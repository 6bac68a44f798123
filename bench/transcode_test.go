package main

import (
	"io"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	protobuf "google.golang.org/protobuf/proto"

	"github.com/tracegate/tracegate/internal/otlpjson"
)

// BenchmarkTranscode measures what tracegate does with the harness's trace
// once it has Tempo's protobuf answer: validate it, read each resource's
// tenant attribute and stream the OTLP/JSON (to io.Discard), against pdata's
// decode and encode (the build before issue 15).
func BenchmarkTranscode(b *testing.B) {
	for _, n := range []int{10, 2000, 20000} {
		_, td := synthTrace(rand.New(rand.NewPCG(1, uint64(n))), n, "acme") //nolint:gosec // test data
		data, err := tempoOrder((&ptrace.ProtoMarshaler{}).MarshalTraces(td))
		if err != nil {
			b.Fatal(err)
		}
		head := []byte(`{"traceId":"0123456789abcdef0123456789abcdef"}`)
		b.Run("spans="+strconv.Itoa(n)+"/otlpjson", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				tr, err := otlpjson.Parse(data)
				if err != nil {
					b.Fatal(err)
				}
				for i := range tr.Len() {
					if v := tr.Values(i, "tenant.id"); len(v) != 1 {
						b.Fatalf("resource %d: tenant values %v", i, v)
					}
				}
				if err := tr.WriteJSON(io.Discard, head, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("spans="+strconv.Itoa(n)+"/pdata", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
				if err != nil {
					b.Fatal(err)
				}
				out, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Discard.Write(out)
			}
		})
	}
}

// tempoOrder re-encodes pdata's protobuf (fields in descending order) in
// Tempo's order (ascending), as the stand-in answers.
func tempoOrder(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	var td tracepb.TracesData
	if err := protobuf.Unmarshal(b, &td); err != nil {
		return nil, err
	}
	return protobuf.MarshalOptions{Deterministic: true}.Marshal(&td)
}

// reportCPU reports the process's CPU time (user + system, all threads) per
// operation, which a busy machine disturbs far less than the wall time.
// Call the function it returns when the loop is done.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
