package traces

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file writes Tempo's formats for answers the mount builds itself (with
// the attribute layer on): tempopb.Trace / TraceByIDResponse, in protobuf or
// in gogo jsonpb's JSON (ids in base64, enums by name), and SearchResponse.

var (
	protoMarshaler ptrace.ProtoMarshaler
	jsonMarshaler  ptrace.JSONMarshaler
)

// Field numbers of tempopb.TraceByIDResponse.
const (
	byIDFieldTrace   = 1
	byIDFieldStatus  = 3
	byIDFieldMessage = 4
	statusPartial    = 1
)

// encodeTrace writes tr as Tempo's v1 (tempopb.Trace) or v2
// (TraceByIDResponse, with status PARTIAL and the warnings as its message)
// answer.
func encodeTrace(tr Trace, v2, protobuf bool) (Answer, error) {
	message := strings.Join(tr.Warnings, "; ")
	if protobuf {
		b, err := protoMarshaler.MarshalTraces(tr.Spans)
		if err != nil {
			return Answer{}, fmt.Errorf("encode trace: %w", err)
		}
		if v2 {
			var out []byte
			out = protowire.AppendTag(out, byIDFieldTrace, protowire.BytesType)
			out = protowire.AppendBytes(out, b)
			if tr.Partial {
				out = protowire.AppendTag(out, byIDFieldStatus, protowire.VarintType)
				out = protowire.AppendVarint(out, statusPartial)
			}
			if message != "" {
				out = protowire.AppendTag(out, byIDFieldMessage, protowire.BytesType)
				out = protowire.AppendString(out, message)
			}
			b = out
		}
		return Answer{Status: http.StatusOK, ContentType: ContentTypeProtobuf, Body: b}, nil
	}
	otlp, err := jsonMarshaler.MarshalTraces(tr.Spans)
	if err != nil {
		return Answer{}, fmt.Errorf("encode trace: %w", err)
	}
	var doc struct {
		ResourceSpans []map[string]any `json:"resourceSpans"`
	}
	d := json.NewDecoder(bytes.NewReader(otlp))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return Answer{}, fmt.Errorf("encode trace: %w", err)
	}
	for _, rs := range doc.ResourceSpans {
		toJSONPB(rs)
	}
	var v any
	if v2 {
		body := struct {
			Trace   map[string]any `json:"trace"`
			Status  string         `json:"status,omitempty"`
			Message string         `json:"message,omitempty"`
		}{Trace: map[string]any{"resourceSpans": doc.ResourceSpans}, Message: message}
		if tr.Partial {
			body.Status = "PARTIAL"
		}
		v = body
	} else {
		v = map[string]any{"batches": doc.ResourceSpans}
	}
	return jsonAnswer(v)
}

var (
	spanKinds   = []string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}
	statusCodes = []string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
	idFields    = []string{"traceId", "spanId", "parentSpanId"}
)

// toJSONPB rewrites, in place, one resourceSpans element of OTLP/JSON (ids
// in hex, enums as numbers) into gogo jsonpb's form as Tempo writes it.
func toJSONPB(rs map[string]any) {
	for _, ss := range asList(rs["scopeSpans"]) {
		for _, sp := range asList(ss["spans"]) {
			hexToBase64(sp)
			sp["kind"] = enumName(sp["kind"], spanKinds)
			if st, ok := sp["status"].(map[string]any); ok {
				if _, has := st["code"]; has {
					st["code"] = enumName(st["code"], statusCodes)
				}
			} else {
				sp["status"] = map[string]any{}
			}
			for _, l := range asList(sp["links"]) {
				hexToBase64(l)
			}
		}
	}
}

func asList(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func hexToBase64(m map[string]any) {
	for _, f := range idFields {
		if s, ok := m[f].(string); ok {
			if b, err := hex.DecodeString(s); err == nil {
				m[f] = base64.StdEncoding.EncodeToString(b)
			}
		}
	}
}

func enumName(v any, names []string) any {
	n, ok := v.(json.Number)
	if !ok {
		if v == nil {
			return names[0]
		}
		return v
	}
	i, err := strconv.Atoi(n.String())
	if err != nil || i < 0 || i >= len(names) {
		return v
	}
	return names[i]
}

// Tempo's search answer (tempopb.SearchResponse, jsonpb), without metrics.
type (
	tempoSearch struct {
		Traces []tempoTraceSummary `json:"traces"`
	}
	tempoTraceSummary struct {
		TraceID           string         `json:"traceID"`
		RootServiceName   string         `json:"rootServiceName,omitempty"`
		RootTraceName     string         `json:"rootTraceName,omitempty"`
		StartTimeUnixNano string         `json:"startTimeUnixNano,omitempty"`
		DurationMs        int64          `json:"durationMs,omitempty"`
		SpanSet           *tempoSpanSet  `json:"spanSet,omitempty"`
		SpanSets          []tempoSpanSet `json:"spanSets,omitempty"`
	}
	tempoSpanSet struct {
		Spans   []tempoSpan `json:"spans"`
		Matched int64       `json:"matched"`
	}
	tempoSpan struct {
		SpanID            string          `json:"spanID"`
		StartTimeUnixNano string          `json:"startTimeUnixNano"`
		DurationNanos     string          `json:"durationNanos"`
		Attributes        []tempoKeyValue `json:"attributes,omitempty"`
	}
	tempoKeyValue struct {
		Key   string         `json:"key"`
		Value map[string]any `json:"value"`
	}
)

// tempoSearchResult writes summaries as Tempo does: trace ids without
// leading zeros, 64-bit integers as strings, the first span set also as the
// deprecated spanSet.
func tempoSearchResult(found []TraceSummary) tempoSearch {
	out := tempoSearch{Traces: []tempoTraceSummary{}}
	for _, tr := range found {
		id := strings.TrimLeft(tr.ID.String(), "0")
		if id == "" {
			id = "0"
		}
		s := tempoTraceSummary{
			TraceID: id, RootServiceName: tr.RootService, RootTraceName: tr.RootSpan,
			StartTimeUnixNano: strconv.FormatUint(tr.StartUnixNano, 10), DurationMs: tr.DurationMs,
		}
		for _, set := range tr.SpanSets {
			ts := tempoSpanSet{Spans: []tempoSpan{}, Matched: set.Matched}
			for _, sp := range set.Spans {
				ts.Spans = append(ts.Spans, tempoSpan{
					SpanID:            sp.SpanID,
					StartTimeUnixNano: strconv.FormatUint(sp.StartUnixNano, 10),
					DurationNanos:     strconv.FormatUint(sp.DurationNanos, 10),
					Attributes:        tempoAttributes(sp.Attributes),
				})
			}
			s.SpanSets = append(s.SpanSets, ts)
		}
		if len(s.SpanSets) > 0 {
			s.SpanSet = &s.SpanSets[0]
		}
		out.Traces = append(out.Traces, s)
	}
	return out
}

func tempoAttributes(attrs []Attribute) []tempoKeyValue {
	var out []tempoKeyValue
	for _, a := range attrs {
		var v map[string]any
		switch x := a.Value.(type) {
		case string:
			v = map[string]any{"stringValue": x}
		case int64:
			v = map[string]any{"intValue": strconv.FormatInt(x, 10)}
		case float64:
			v = map[string]any{"doubleValue": x}
		case bool:
			v = map[string]any{"boolValue": x}
		default:
			v = map[string]any{}
		}
		out = append(out, tempoKeyValue{Key: a.Key, Value: v})
	}
	return out
}
