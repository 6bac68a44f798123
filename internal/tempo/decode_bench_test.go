package tempo

import (
	"encoding/json"
	"io"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tracegate/tracegate/internal/testkit"
)

// bigTraceProtobuf returns Tempo's v2 protobuf answer for the 2,000-span
// trace of testdata/tempo/ingested/acme-big.json: TracesData wrapped in
// field 1 of TraceByIDResponse, as Tempo sends it.
func bigTraceProtobuf(tb testing.TB) []byte {
	tb.Helper()
	inner, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(testkit.Ingested(tb, "acme-big"))
	if err != nil {
		tb.Fatal(err)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, fieldTrace, protowire.BytesType), inner)
}

func TestDecodeBigTrace(t *testing.T) {
	t.Parallel()
	tr, err := decodeTraceByID(bigTraceProtobuf(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := spansOf(t, tr).SpanCount(); n != 2000 {
		t.Fatalf("%d spans, want 2000", n)
	}
}

// BenchmarkTempoEncoding compares the two encodings Tempo can answer with, for
// the same 2,000-span trace: protobuf validated and transcoded to
// OTLP/JSON (what tracegate does), against merely decoding Tempo's own JSON
// into generic values (a lower bound for any JSON path, which would still have
// to convert base64 ids and enum names afterwards).
func BenchmarkTempoEncoding(b *testing.B) {
	pb := bigTraceProtobuf(b)
	js := testkit.LoadFixture(b, "trace-v2-big-json").Body(b)
	b.Run("protobuf-decode+otlpjson-encode", func(b *testing.B) {
		b.SetBytes(int64(len(pb)))
		b.ReportAllocs()
		for b.Loop() {
			tr, err := decodeTraceByID(pb)
			if err != nil {
				b.Fatal(err)
			}
			if err := tr.WriteJSON(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-decode", func(b *testing.B) {
		b.SetBytes(int64(len(pb)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeTraceByID(pb); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tempo-json-decode-only", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for b.Loop() {
			var v map[string]any
			if err := json.Unmarshal(js, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
