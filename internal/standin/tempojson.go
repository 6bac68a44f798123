package standin

// JSON encoding of traces the way Tempo writes them (gogo/jsonpb): lowerCamelCase
// names, trace and span ids in base64, 64-bit integers as strings, enums by
// name, zero values omitted, resource/scope/status always present.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type jw struct {
	b     bytes.Buffer
	first []bool // per open object/array: no member written yet
}

func (w *jw) open(c byte) {
	w.b.WriteByte(c)
	w.first = append(w.first, true)
}

func (w *jw) close(c byte) {
	w.b.WriteByte(c)
	w.first = w.first[:len(w.first)-1]
}

func (w *jw) sep() {
	n := len(w.first) - 1
	if !w.first[n] {
		w.b.WriteByte(',')
	}
	w.first[n] = false
}

func (w *jw) key(k string) {
	w.sep()
	w.str(k)
	w.b.WriteByte(':')
}

func (w *jw) str(s string) {
	enc, _ := json.Marshal(s)
	w.b.Write(enc)
}

func (w *jw) strField(k, v string) {
	if v != "" {
		w.key(k)
		w.str(v)
	}
}

// u64Field writes a 64-bit integer as a JSON string, omitted when zero.
func (w *jw) u64Field(k string, v uint64) {
	if v != 0 {
		w.key(k)
		w.str(strconv.FormatUint(v, 10))
	}
}

// u32Field writes a 32-bit integer as a JSON number, omitted when zero.
func (w *jw) u32Field(k string, v uint32) {
	if v != 0 {
		w.key(k)
		w.b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
}

func (w *jw) bytesField(k string, v []byte) {
	if len(v) != 0 {
		w.key(k)
		w.str(base64.StdEncoding.EncodeToString(v))
	}
}

func (w *jw) float(f float64) {
	switch {
	case math.IsNaN(f):
		w.str("NaN")
	case math.IsInf(f, 1):
		w.str("Infinity")
	case math.IsInf(f, -1):
		w.str("-Infinity")
	default:
		enc, _ := json.Marshal(f)
		w.b.Write(enc)
	}
}

func (w *jw) anyValue(v pcommon.Value) {
	w.open('{')
	switch v.Type() {
	case pcommon.ValueTypeStr:
		w.key("stringValue")
		w.str(v.Str())
	case pcommon.ValueTypeBool:
		w.key("boolValue")
		if v.Bool() {
			w.b.WriteString("true")
		} else {
			w.b.WriteString("false")
		}
	case pcommon.ValueTypeInt:
		w.key("intValue")
		w.str(strconv.FormatInt(v.Int(), 10))
	case pcommon.ValueTypeDouble:
		w.key("doubleValue")
		w.float(v.Double())
	case pcommon.ValueTypeBytes:
		w.key("bytesValue")
		w.str(base64.StdEncoding.EncodeToString(v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		w.key("arrayValue")
		w.open('{')
		if s := v.Slice(); s.Len() > 0 {
			w.key("values")
			w.open('[')
			for i := 0; i < s.Len(); i++ {
				w.sep()
				w.anyValue(s.At(i))
			}
			w.close(']')
		}
		w.close('}')
	case pcommon.ValueTypeMap:
		w.key("kvlistValue")
		w.open('{')
		if m := v.Map(); m.Len() > 0 {
			w.key("values")
			w.attrList(m)
		}
		w.close('}')
	}
	w.close('}')
}

func (w *jw) keyValue(k string, v pcommon.Value) {
	w.open('{')
	w.strField("key", k)
	w.key("value")
	w.anyValue(v)
	w.close('}')
}

func (w *jw) attrList(m pcommon.Map) {
	w.open('[')
	for k, v := range m.All() {
		w.sep()
		w.keyValue(k, v)
	}
	w.close(']')
}

func (w *jw) attrsField(k string, m pcommon.Map) {
	if m.Len() > 0 {
		w.key(k)
		w.attrList(m)
	}
}

var spanKindEnum = map[ptrace.SpanKind]string{
	ptrace.SpanKindUnspecified: "SPAN_KIND_UNSPECIFIED",
	ptrace.SpanKindInternal:    "SPAN_KIND_INTERNAL",
	ptrace.SpanKindServer:      "SPAN_KIND_SERVER",
	ptrace.SpanKindClient:      "SPAN_KIND_CLIENT",
	ptrace.SpanKindProducer:    "SPAN_KIND_PRODUCER",
	ptrace.SpanKindConsumer:    "SPAN_KIND_CONSUMER",
}

var statusCodeEnum = map[ptrace.StatusCode]string{
	ptrace.StatusCodeUnset: "STATUS_CODE_UNSET",
	ptrace.StatusCodeOk:    "STATUS_CODE_OK",
	ptrace.StatusCodeError: "STATUS_CODE_ERROR",
}

func (w *jw) span(sp ptrace.Span) {
	w.open('{')
	tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
	if !tid.IsEmpty() {
		w.bytesField("traceId", tid[:])
	}
	if !sid.IsEmpty() {
		w.bytesField("spanId", sid[:])
	}
	w.strField("traceState", sp.TraceState().AsRaw())
	if !pid.IsEmpty() {
		w.bytesField("parentSpanId", pid[:])
	}
	w.u32Field("flags", sp.Flags())
	w.strField("name", sp.Name())
	if sp.Kind() != ptrace.SpanKindUnspecified {
		w.key("kind")
		if n, ok := spanKindEnum[sp.Kind()]; ok {
			w.str(n)
		} else {
			w.b.WriteString(strconv.Itoa(int(sp.Kind())))
		}
	}
	w.u64Field("startTimeUnixNano", uint64(sp.StartTimestamp()))
	w.u64Field("endTimeUnixNano", uint64(sp.EndTimestamp()))
	w.attrsField("attributes", sp.Attributes())
	w.u32Field("droppedAttributesCount", sp.DroppedAttributesCount())
	if evs := sp.Events(); evs.Len() > 0 {
		w.key("events")
		w.open('[')
		for i := 0; i < evs.Len(); i++ {
			ev := evs.At(i)
			w.sep()
			w.open('{')
			w.u64Field("timeUnixNano", uint64(ev.Timestamp()))
			w.strField("name", ev.Name())
			w.attrsField("attributes", ev.Attributes())
			w.u32Field("droppedAttributesCount", ev.DroppedAttributesCount())
			w.close('}')
		}
		w.close(']')
	}
	w.u32Field("droppedEventsCount", sp.DroppedEventsCount())
	if lks := sp.Links(); lks.Len() > 0 {
		w.key("links")
		w.open('[')
		for i := 0; i < lks.Len(); i++ {
			lk := lks.At(i)
			w.sep()
			w.open('{')
			lt, ls := lk.TraceID(), lk.SpanID()
			if !lt.IsEmpty() {
				w.bytesField("traceId", lt[:])
			}
			if !ls.IsEmpty() {
				w.bytesField("spanId", ls[:])
			}
			w.strField("traceState", lk.TraceState().AsRaw())
			w.attrsField("attributes", lk.Attributes())
			w.u32Field("droppedAttributesCount", lk.DroppedAttributesCount())
			w.u32Field("flags", lk.Flags())
			w.close('}')
		}
		w.close(']')
	}
	w.u32Field("droppedLinksCount", sp.DroppedLinksCount())
	w.key("status")
	w.open('{')
	w.strField("message", sp.Status().Message())
	if c := sp.Status().Code(); c != ptrace.StatusCodeUnset {
		w.key("code")
		if n, ok := statusCodeEnum[c]; ok {
			w.str(n)
		} else {
			w.b.WriteString(strconv.Itoa(int(c)))
		}
	}
	w.close('}')
	w.close('}')
}

func (w *jw) resourceSpans(rs ptrace.ResourceSpans) {
	w.open('{')
	w.key("resource")
	w.open('{')
	w.attrsField("attributes", rs.Resource().Attributes())
	w.u32Field("droppedAttributesCount", rs.Resource().DroppedAttributesCount())
	w.close('}')
	if sss := rs.ScopeSpans(); sss.Len() > 0 {
		w.key("scopeSpans")
		w.open('[')
		for i := 0; i < sss.Len(); i++ {
			ss := sss.At(i)
			w.sep()
			w.open('{')
			w.key("scope")
			w.open('{')
			w.strField("name", ss.Scope().Name())
			w.strField("version", ss.Scope().Version())
			w.attrsField("attributes", ss.Scope().Attributes())
			w.u32Field("droppedAttributesCount", ss.Scope().DroppedAttributesCount())
			w.close('}')
			if spans := ss.Spans(); spans.Len() > 0 {
				w.key("spans")
				w.open('[')
				for j := 0; j < spans.Len(); j++ {
					w.sep()
					w.span(spans.At(j))
				}
				w.close(']')
			}
			w.strField("schemaUrl", ss.SchemaUrl())
			w.close('}')
		}
		w.close(']')
	}
	w.strField("schemaUrl", rs.SchemaUrl())
	w.close('}')
}

// traceObject writes {"<key>":[resourceSpans...]} (key "resourceSpans"
// for v2, "batches" for v1), or {} for an empty trace.
func (w *jw) traceObject(key string, td ptrace.Traces) {
	w.open('{')
	if rss := td.ResourceSpans(); rss.Len() > 0 {
		w.key(key)
		w.open('[')
		for i := 0; i < rss.Len(); i++ {
			w.sep()
			w.resourceSpans(rss.At(i))
		}
		w.close(']')
	}
	w.close('}')
}

// encodeTraceV1 returns Tempo's v1 trace body: {"batches":[...]}.
func encodeTraceV1(td ptrace.Traces) []byte {
	var w jw
	w.traceObject("batches", td)
	return w.b.Bytes()
}

// encodeTraceV2 returns Tempo's v2 trace body:
// {"trace":{"resourceSpans":[...]},"metrics":{...}}.
func encodeTraceV2(td ptrace.Traces, inspectedBytes uint64, partialMessage string) []byte {
	var w jw
	w.open('{')
	w.key("trace")
	w.traceObject("resourceSpans", td)
	w.key("metrics")
	w.open('{')
	w.u64Field("inspectedBytes", inspectedBytes)
	w.close('}')
	if partialMessage != "" {
		w.strField("status", "PARTIAL")
		w.strField("message", partialMessage)
	}
	w.close('}')
	return w.b.Bytes()
}

// anyValueJSON returns the JSON encoding of one attribute value.
func anyValueJSON(v pcommon.Value) json.RawMessage {
	var w jw
	w.first = []bool{true}
	w.anyValue(v)
	return json.RawMessage(w.b.Bytes())
}
