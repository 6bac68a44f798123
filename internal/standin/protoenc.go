package standin

// Hand-written protobuf encoders for the few Tempo messages the stand-in
// returns (field numbers from Tempo's pkg/tempopb/tempo.proto).

import (
	"math"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/protobuf/encoding/protowire"
)

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendStringField(b []byte, num protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// traceByIDResponseProto wraps an encoded tempopb.Trace (wire-identical to
// OTLP TracesData) in a TraceByIDResponse{trace=1, metrics=2}.
func traceByIDResponseProto(traceBytes []byte, inspectedBytes uint64) []byte {
	var b []byte
	b = appendBytesField(b, 1, traceBytes)
	b = appendBytesField(b, 2, appendVarintField(nil, 1, inspectedBytes))
	return b
}

// anyValueProto encodes an OTLP AnyValue.
func anyValueProto(v pcommon.Value) []byte {
	var b []byte
	switch v.Type() {
	case pcommon.ValueTypeStr:
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, v.Str())
	case pcommon.ValueTypeBool:
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
	case pcommon.ValueTypeInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Double()))
	case pcommon.ValueTypeSlice:
		var arr []byte
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			arr = appendBytesField(arr, 1, anyValueProto(s.At(i)))
		}
		b = appendBytesField(b, 5, arr)
	case pcommon.ValueTypeMap:
		var kvs []byte
		for k, mv := range v.Map().All() {
			kvs = appendBytesField(kvs, 1, keyValueProto(k, mv))
		}
		b = appendBytesField(b, 6, kvs)
	case pcommon.ValueTypeBytes:
		b = appendBytesField(b, 7, v.Bytes().AsRaw())
	}
	return b
}

func keyValueProto(k string, v pcommon.Value) []byte {
	b := appendStringField(nil, 1, k)
	return appendBytesField(b, 2, anyValueProto(v))
}

// searchResponseProto encodes a tempopb.SearchResponse.
func searchResponseProto(r *searchResponse) []byte {
	var b []byte
	for _, t := range r.Traces {
		b = appendBytesField(b, 1, traceMetadataProto(t))
	}
	var m []byte
	m = appendVarintField(m, 1, uint64(r.Metrics.InspectedTraces))
	m = appendVarintField(m, 2, r.Metrics.InspectedBytes)
	m = appendVarintField(m, 4, uint64(r.Metrics.CompletedJobs))
	m = appendVarintField(m, 5, uint64(r.Metrics.TotalJobs))
	b = appendBytesField(b, 2, m)
	return b
}

func traceMetadataProto(t *traceMetadata) []byte {
	var b []byte
	b = appendStringField(b, 1, t.TraceID)
	b = appendStringField(b, 2, t.RootServiceName)
	b = appendStringField(b, 3, t.RootTraceName)
	b = appendVarintField(b, 4, t.StartTimeUnixNano)
	b = appendVarintField(b, 5, uint64(t.DurationMs))
	if t.SpanSet != nil {
		b = appendBytesField(b, 6, spanSetProto(t.SpanSet))
	}
	for _, ss := range t.SpanSets {
		b = appendBytesField(b, 7, spanSetProto(ss))
	}
	names := make([]string, 0, len(t.ServiceStats))
	for n := range t.ServiceStats {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := t.ServiceStats[n]
		var sv []byte
		sv = appendVarintField(sv, 1, uint64(st.SpanCount))
		sv = appendVarintField(sv, 2, uint64(st.ErrorCount))
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, n)
		entry = appendBytesField(entry, 2, sv)
		b = appendBytesField(b, 8, entry)
	}
	return b
}

func spanSetProto(ss *spanSet) []byte {
	var b []byte
	for _, sp := range ss.Spans {
		var s []byte
		s = appendStringField(s, 1, sp.SpanID)
		s = appendStringField(s, 2, sp.Name)
		s = appendVarintField(s, 3, sp.StartTimeUnixNano)
		s = appendVarintField(s, 4, sp.DurationNanos)
		for _, a := range sp.attrs {
			s = appendBytesField(s, 5, keyValueProto(a.key, a.val))
		}
		b = appendBytesField(b, 1, s)
	}
	b = appendVarintField(b, 2, uint64(ss.Matched))
	return b
}

// rpcStatusProto encodes a google.rpc.Status{code=1, message=2}.
func rpcStatusProto(code int32, msg string) []byte {
	b := appendVarintField(nil, 1, uint64(code))
	return appendStringField(b, 2, msg)
}
