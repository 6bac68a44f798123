package standin

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// The stand-in writes a trace's protobuf as Tempo does, byte for byte:
// fields in ascending number order (pdata's marshaler writes them in
// reverse). The v2 answer differs from the recording only in the
// inspected-bytes statistic, so its trace field is compared.
func TestTraceProtobufInTempoOrder(t *testing.T) {
	h := seededServer(t).Handler()
	for _, name := range []string{"trace-v1-protobuf-found.json", "trace-v2-protobuf-found.json"} {
		f := loadFixture(t, name)
		want, err := f.bodyBytes()
		if err != nil {
			t.Fatal(err)
		}
		got := replay(h, f).Body.Bytes()
		if name == "trace-v2-protobuf-found.json" {
			want, got = traceField(t, want), traceField(t, got)
		}
		if !bytes.Equal(want, got) {
			t.Errorf("%s: the stand-in's protobuf differs from Tempo's bytes:\nwant %x\ngot  %x", name, want, got)
		}
	}
}

// traceField returns field 1 (the trace) of a TraceByIDResponse.
func traceField(t *testing.T, b []byte) []byte {
	t.Helper()
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		t.Fatalf("answer does not start with the trace field: %x", b[:min(len(b), 8)])
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 {
		t.Fatalf("truncated trace field")
	}
	return v
}
