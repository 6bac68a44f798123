package standin

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// tempoTraceJSON returns the resource spans of td as Tempo writes them
// (gogo/jsonpb): pdata's OTLP/JSON with base64 instead of hex ids and enum
// names instead of numbers.
func tempoTraceJSON(td ptrace.Traces) (any, error) {
	var jm ptrace.JSONMarshaler
	b, err := jm.MarshalTraces(td)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	toTempoJSON(v)
	return v["resourceSpans"], nil
}

var jsonEnums = map[string]map[string]string{
	"kind": {"0": "SPAN_KIND_UNSPECIFIED", "1": "SPAN_KIND_INTERNAL", "2": "SPAN_KIND_SERVER",
		"3": "SPAN_KIND_CLIENT", "4": "SPAN_KIND_PRODUCER", "5": "SPAN_KIND_CONSUMER"},
	"code": {"0": "STATUS_CODE_UNSET", "1": "STATUS_CODE_OK", "2": "STATUS_CODE_ERROR"},
}

// toTempoJSON rewrites ids and enums in place. Attribute keys are JSON
// values, never JSON keys, so the names matched here are OTLP fields only.
func toTempoJSON(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch val := val.(type) {
			case string:
				if k == "traceId" || k == "spanId" || k == "parentSpanId" {
					id, _ := hex.DecodeString(val)
					x[k] = base64.StdEncoding.EncodeToString(id)
				}
			case json.Number:
				if name, ok := jsonEnums[k][val.String()]; ok {
					x[k] = name
				}
			default:
				toTempoJSON(val)
			}
		}
	case []any:
		for _, e := range x {
			toTempoJSON(e)
		}
	}
}

// encodeTraceV1 returns Tempo's v1 trace body: {"batches":[...]}.
func encodeTraceV1(td ptrace.Traces) ([]byte, error) {
	rss, err := tempoTraceJSON(td)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"batches": rss})
}

// encodeTraceV2 returns Tempo's v2 trace body, {"trace":{"resourceSpans":
// [...]},"metrics":{...}}, with status PARTIAL when spans were filtered.
func encodeTraceV2(td ptrace.Traces, inspectedBytes uint64, partialMessage string) ([]byte, error) {
	rss, err := tempoTraceJSON(td)
	if err != nil {
		return nil, err
	}
	body := map[string]any{
		"trace":   map[string]any{"resourceSpans": rss},
		"metrics": map[string]string{"inspectedBytes": strconv.FormatUint(inspectedBytes, 10)},
	}
	if partialMessage != "" {
		body["status"], body["message"] = "PARTIAL", partialMessage
	}
	return json.Marshal(body)
}

// anyValueJSON returns an attribute value in OTLP/JSON's shape.
func anyValueJSON(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return map[string]string{"stringValue": v.Str()}
	case pcommon.ValueTypeBool:
		return map[string]bool{"boolValue": v.Bool()}
	case pcommon.ValueTypeInt:
		return map[string]string{"intValue": strconv.FormatInt(v.Int(), 10)}
	case pcommon.ValueTypeDouble:
		return map[string]float64{"doubleValue": v.Double()}
	case pcommon.ValueTypeBytes:
		return map[string]string{"bytesValue": base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())}
	case pcommon.ValueTypeSlice:
		var values []any
		for _, e := range v.Slice().All() {
			values = append(values, anyValueJSON(e))
		}
		return listValue("arrayValue", values)
	case pcommon.ValueTypeMap:
		var values []any
		for k, e := range v.Map().All() {
			values = append(values, map[string]any{"key": k, "value": anyValueJSON(e)})
		}
		return listValue("kvlistValue", values)
	}
	return map[string]any{}
}

// listValue is {"<kind>":{"values":[...]}}, without "values" when empty.
func listValue(kind string, values []any) any {
	if len(values) == 0 {
		return map[string]any{kind: map[string]any{}}
	}
	return map[string]any{kind: map[string]any{"values": values}}
}
