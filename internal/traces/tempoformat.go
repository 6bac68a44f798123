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
	protoMarshaler   ptrace.ProtoMarshaler
	protoUnmarshaler ptrace.ProtoUnmarshaler
	jsonMarshaler    ptrace.JSONMarshaler
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
	// The mount answers in Tempo's formats, which only pdata writes here:
	// decode the resources the caller may see (validated already).
	spans, err := protoUnmarshaler.UnmarshalTraces(tr.Proto())
	if err != nil {
		return Answer{}, fmt.Errorf("encode trace: %w", err)
	}
	if protobuf {
		b, err := protoMarshaler.MarshalTraces(spans)
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
	otlp, err := jsonMarshaler.MarshalTraces(spans)
	if err != nil {
		return Answer{}, fmt.Errorf("encode trace: %w", err)
	}
	body, ok := bytes.CutPrefix(toJSONPB(otlp), []byte(`{"resourceSpans":`))
	if !ok {
		return Answer{}, fmt.Errorf("encode trace: unexpected OTLP/JSON %.40q", otlp)
	}
	var out bytes.Buffer
	out.Grow(len(body) + 64)
	if !v2 {
		out.WriteString(`{"batches":`)
		out.Write(body)
		return Answer{Status: http.StatusOK, ContentType: ContentTypeJSON, Body: out.Bytes()}, nil
	}
	out.WriteString(`{"trace":{"resourceSpans":`)
	out.Write(body[:len(body)-1]) // without the closing brace of TracesData
	out.WriteByte('}')
	if tr.Partial {
		out.WriteString(`,"status":"PARTIAL"`)
	}
	if message != "" {
		m, err := json.Marshal(message)
		if err != nil {
			return Answer{}, err
		}
		out.WriteString(`,"message":`)
		out.Write(m)
	}
	out.WriteByte('}')
	return Answer{Status: http.StatusOK, ContentType: ContentTypeJSON, Body: out.Bytes()}, nil
}

var (
	spanKinds   = []string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}
	statusCodes = []string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
)

// toJSONPB rewrites OTLP/JSON as pdata writes it (ids in hex, enums as
// numbers) into gogo jsonpb's form as Tempo writes it (ids in base64, enums
// by name). It works on the bytes: inside JSON strings every quote is
// escaped, so a member name followed by a colon ("kind":) only occurs as a
// member, never inside an attribute's value.
func toJSONPB(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			break
		}
		out = append(out, b[:i]...)
		b = b[i:]
		switch {
		case hasMember(b, "traceId"), hasMember(b, "spanId"), hasMember(b, "parentSpanId"):
			colon := bytes.IndexByte(b, ':')
			if colon+1 >= len(b) || b[colon+1] != '"' {
				out = append(out, b[:colon+1]...)
				b = b[colon+1:]
				continue
			}
			end := bytes.IndexByte(b[colon+2:], '"')
			if end < 0 {
				return append(out, b...)
			}
			raw, err := hex.DecodeString(string(b[colon+2 : colon+2+end]))
			if err != nil { // not pdata's hex: left as it is
				out = append(out, b[:colon+3+end]...)
			} else {
				out = append(out, b[:colon+2]...)
				out = base64.StdEncoding.AppendEncode(out, raw)
				out = append(out, '"')
			}
			b = b[colon+3+end:]
		case hasMember(b, "kind"), hasMember(b, "code"):
			names := spanKinds
			if hasMember(b, "code") {
				names = statusCodes
			}
			colon := bytes.IndexByte(b, ':')
			n := colon + 1
			for n < len(b) && '0' <= b[n] && b[n] <= '9' {
				n++
			}
			v, err := strconv.Atoi(string(b[colon+1 : n]))
			if err != nil || v >= len(names) {
				out = append(out, b[:n]...)
			} else {
				out = append(out, b[:colon+1]...)
				out = strconv.AppendQuote(out, names[v])
			}
			b = b[n:]
		default:
			// Copy this string (with its escapes) as it is.
			end := 1
			for end < len(b) && b[end] != '"' {
				if b[end] == '\\' {
					end++
				}
				end++
			}
			end = min(end+1, len(b))
			out = append(out, b[:end]...)
			b = b[end:]
		}
	}
	return append(out, b...)
}

// hasMember reports whether b starts with the member name "name" and its colon.
func hasMember(b []byte, name string) bool {
	return len(b) > len(name)+2 && b[0] == '"' && string(b[1:len(name)+1]) == name && b[len(name)+1] == '"' && b[len(name)+2] == ':'
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
