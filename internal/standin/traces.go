package standin

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	protobuf "google.golang.org/protobuf/proto"
)

// parseTraceID parses a trace ID like Tempo's util.HexStringToTraceID: hex
// only, an odd length gets a leading 0, at most 16 bytes, left-padded to 16.
func parseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	for pos, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return id, fmt.Errorf("trace IDs can only contain hex characters: invalid character '%c' at position %d", c, pos+1)
		}
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return id, err
	}
	if len(b) > 16 {
		return id, errors.New("trace IDs can't be larger than 128 bits")
	}
	copy(id[16-len(b):], b)
	return id, nil
}

// traceIDString formats a trace ID as Tempo's search does: lowercase hex
// with leading zeros trimmed.
func traceIDString(id [16]byte) string {
	return strings.TrimLeft(hex.EncodeToString(id[:]), "0")
}

// mergeTraces combines the batches of the same trace from several tenants,
// dropping spans whose ID was already seen.
func mergeTraces(snaps []traceSnap) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, sn := range snaps {
		for _, rs := range sn.batches {
			rs.CopyTo(td.ResourceSpans().AppendEmpty())
		}
	}
	seen := map[pcommon.SpanID]bool{}
	removeSpans(td, func(sp ptrace.Span) bool {
		dup := seen[sp.SpanID()]
		seen[sp.SpanID()] = true
		return dup
	})
	return td
}

// removeSpans removes the spans drop reports, and scopes and resources left
// without spans.
func removeSpans(td ptrace.Traces, drop func(ptrace.Span) bool) {
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(drop)
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}

// traceByID serves GET /api/traces/{id} (v2=false) and /api/v2/traces/{id}.
func (s *Server) traceByID(r *http.Request, tenants []string, v2 bool) (response, error) {
	id, err := parseTraceID(r.PathValue("id"))
	if err != nil {
		return response{}, badRequestError(err.Error())
	}
	q := r.URL.Query()
	var tr [2]int64
	for i, name := range []string{"start", "end"} {
		if v := q.Get(name); v != "" {
			if tr[i], err = strconv.ParseInt(v, 10, 64); err != nil {
				return response{}, badRequestf("invalid %s: %s", name, err)
			}
		}
	}
	if tr[0] != 0 && tr[1] != 0 && tr[1] <= tr[0] {
		return response{}, badRequestf("http parameter start must be before end. received start=%d end=%d", tr[0], tr[1])
	}
	var found []traceSnap
	for _, sn := range s.snapshot(tenants, &id) {
		if sn.summary().overlaps(uint64(max(tr[0], 0))*1e9, uint64(max(tr[1], 0))*1e9) {
			found = append(found, sn)
		}
	}
	proto := strings.Contains(r.Header.Get("Accept"), ctProtobuf)
	if len(found) == 0 {
		switch {
		case !v2:
			return response{status: http.StatusNotFound}, nil
		case proto:
			return response{status: http.StatusOK, ctype: ctProtobuf, body: traceByIDResponseProto(nil, "")}, nil
		default:
			return response{status: http.StatusOK, ctype: ctJSON, body: []byte(`{"trace":{},"metrics":{}}`)}, nil
		}
	}
	td := mergeTraces(found)
	var message string
	if filter := q.Get("q"); v2 && filter != "" {
		fq, err := parseQuery(filter, "invalid TraceQL query: ")
		if err != nil {
			return response{}, err
		}
		filterSpans(td, id, fq, q.Get("keep_hierarchy") == "true")
		message = "Trace filtered, only a subset of spans matching the filter is returned"
	}
	var pm ptrace.ProtoMarshaler
	resp := response{status: http.StatusOK, ctype: ctJSON}
	switch {
	case proto:
		resp.ctype = ctProtobuf
		resp.body, err = tempoOrder(pm.MarshalTraces(td))
		if v2 {
			resp.body = traceByIDResponseProto(resp.body, message)
		}
	case v2:
		resp.body, err = encodeTraceV2(td, uint64(pm.TracesSize(td)), message)
	default:
		resp.body, err = encodeTraceV1(td)
	}
	return resp, err
}

// traceByIDResponseProto encodes a tempopb.TraceByIDResponse around an
// encoded trace: trace=1, metrics=2 {inspectedBytes=1}, status=3 (PARTIAL
// with a message), message=4.
func traceByIDResponseProto(trace []byte, partialMessage string) []byte {
	b := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), trace)
	var metrics []byte
	if len(trace) > 0 {
		metrics = protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(len(trace)))
	}
	b = protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), metrics)
	if partialMessage != "" {
		b = protowire.AppendVarint(protowire.AppendTag(b, 3, protowire.VarintType), 1)
		b = protowire.AppendString(protowire.AppendTag(b, 4, protowire.BytesType), partialMessage)
	}
	return b
}

// filterSpans keeps the spans of td that q's spansets match (v2 span
// filtering), and with keepHierarchy their ancestors too.
func filterSpans(td ptrace.Traces, id [16]byte, q *query, keepHierarchy bool) {
	sn := traceSnap{id: id}
	for _, rs := range td.ResourceSpans().All() {
		sn.batches = append(sn.batches, rs)
	}
	t := newTraceCtx(sn, sn.summary())
	t.tree()
	keep := map[pcommon.SpanID]bool{}
	for _, set := range t.eval(q.root, t.all()) {
		for _, i := range set {
			for j := i; j >= 0 && !keep[t.spans[j].span.SpanID()]; j = t.spans[j].parent {
				keep[t.spans[j].span.SpanID()] = true
				if !keepHierarchy {
					break
				}
			}
		}
	}
	removeSpans(td, func(sp ptrace.Span) bool { return !keep[sp.SpanID()] })
}

// tempoOrder re-encodes a TracesData message as Tempo (gogo-protobuf) writes
// it: every message's fields in ascending number order. pdata's marshaler
// writes them in descending order, which readers accept but which would
// make tracegate's transcoder read an order real Tempo never sends.
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
