package traces_test

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/otlpjson"
	"github.com/tracegate/tracegate/internal/traces"
)

// fromPdata returns td as an Upstream returns it: protobuf, validated.
func fromPdata(t testing.TB, td ptrace.Traces) traces.Trace {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	data, err := otlpjson.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return traces.Trace{Data: data}
}

// spansOf reads back what tr shows, through its JSON.
func spansOf(t testing.TB, tr traces.Trace) ptrace.Traces {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.WriteJSON(&buf, nil); err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return td
}
