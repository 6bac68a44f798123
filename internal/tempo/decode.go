package tempo

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tracegate/tracegate/internal/otlpjson"
	"github.com/tracegate/tracegate/internal/traces"
)

// Field numbers of tempopb.TraceByIDResponse (Tempo pkg/tempopb/tempo.proto).
const (
	fieldTrace   = 1 // Trace: wire-identical to OTLP TracesData
	fieldStatus  = 3 // PartialStatus: 0 COMPLETE, 1 PARTIAL
	fieldMessage = 4 // string
)

const statusPartial = 1

// decodeTraceByID decodes Tempo's v2 protobuf answer. Unknown fields (such as
// metrics) are skipped, as protobuf readers must. The trace itself is only
// validated (otlpjson.Parse): it stays protobuf, in b, until it is written
// as JSON.
func decodeTraceByID(b []byte) (traces.Trace, error) {
	var (
		traceBytes []byte
		tr         traces.Trace
	)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return traces.Trace{}, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fieldTrace && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return traces.Trace{}, protowire.ParseError(n)
			}
			// A repeated message field may legally arrive in several pieces;
			// the usual single piece is used in place, without a copy.
			if traceBytes == nil {
				traceBytes = v
			} else {
				traceBytes = append(slices.Clip(traceBytes), v...)
			}
			b = b[n:]
		case num == fieldStatus && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return traces.Trace{}, protowire.ParseError(n)
			}
			tr.Partial = v == statusPartial
			b = b[n:]
		case num == fieldMessage && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return traces.Trace{}, protowire.ParseError(n)
			}
			if len(v) > 0 {
				tr.Warnings = append(tr.Warnings, string(v))
			}
			b = b[n:]
		case num == fieldTrace || num == fieldStatus || num == fieldMessage:
			return traces.Trace{}, fmt.Errorf("field %d has wire type %d", num, typ)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return traces.Trace{}, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	data, err := otlpjson.Parse(traceBytes)
	if err != nil {
		return traces.Trace{}, fmt.Errorf("trace: %w", err)
	}
	tr.Data = data
	return tr, nil
}
