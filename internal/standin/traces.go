package standin

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
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

// tempoOrder rewrites a TracesData message as Tempo (gogo-protobuf) writes
// it: every message's fields in ascending number order, repeated ones in
// their order, empty ids left out. pdata's marshaler writes fields in
// descending order and empty ids as empty fields, which readers accept but
// which would make tracegate's transcoder read what real Tempo never sends.
func tempoOrder(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	var r reorderer
	return r.message(make([]byte, 0, len(b)), b, pbTracesData, 0)
}

// The OTLP trace messages, and for each its message-typed fields (by
// number) and the id fields Tempo leaves out when empty (a bit per number).
type msgKind uint8

const (
	pbNone msgKind = iota
	pbTracesData
	pbResourceSpans
	pbResource
	pbScopeSpans
	pbScope
	pbSpan
	pbEvent
	pbLink
	pbKeyValue
	pbAnyValue
	pbArrayValue
	pbKeyValueList
	pbKinds
)

var (
	nested = [pbKinds][16]msgKind{
		pbTracesData:    {1: pbResourceSpans},
		pbResourceSpans: {1: pbResource, 2: pbScopeSpans},
		pbResource:      {1: pbKeyValue},
		pbScopeSpans:    {1: pbScope, 2: pbSpan},
		pbScope:         {3: pbKeyValue},
		pbSpan:          {9: pbKeyValue, 11: pbEvent, 13: pbLink},
		pbEvent:         {3: pbKeyValue},
		pbLink:          {4: pbKeyValue},
		pbKeyValue:      {2: pbAnyValue},
		pbAnyValue:      {5: pbArrayValue, 6: pbKeyValueList},
		pbArrayValue:    {1: pbAnyValue},
		pbKeyValueList:  {1: pbKeyValue},
	}
	emptyIDs = [pbKinds]uint16{pbSpan: 1<<1 | 1<<2 | 1<<4, pbLink: 1<<1 | 1<<2}
)

// reorderer keeps one scratch buffer per nesting depth.
type reorderer struct{ scratch [][]byte }

// message appends the message b of kind msg to dst with its fields sorted
// by number (stably) and its nested messages likewise.
func (r *reorderer) message(dst, b []byte, msg msgKind, depth int) ([]byte, error) {
	type field struct {
		num        protowire.Number
		start, end int // the whole field in b
		value      int // where the value starts
		nested     msgKind
	}
	var room [32]field
	fields, sorted := room[:0], true
	for pos := 0; pos < len(b); {
		num, typ, n := protowire.ConsumeTag(b[pos:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[pos+n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		f := field{num: num, start: pos, end: pos + n + m, value: pos + n}
		pos = f.end
		if typ == protowire.BytesType && num < 16 {
			_, l := protowire.ConsumeVarint(b[f.value:])
			f.value += l
			if f.value == f.end && emptyIDs[msg]&(1<<num) != 0 {
				continue
			}
			f.nested = nested[msg][num]
		}
		sorted = sorted && (len(fields) == 0 || fields[len(fields)-1].num <= num)
		fields = append(fields, f)
	}
	// A stable sort by number: the distinct numbers in order (a message has
	// few), then each one's fields in their order.
	var nums []protowire.Number
	for _, f := range fields {
		if !slices.Contains(nums, f.num) {
			nums = append(nums, f.num)
		}
	}
	if !sorted {
		slices.Sort(nums)
	}
	if len(r.scratch) <= depth {
		r.scratch = append(r.scratch, nil)
	}
	for _, num := range nums {
		for _, f := range fields {
			if f.num != num {
				continue
			}
			if f.nested == pbNone {
				dst = append(dst, b[f.start:f.end]...)
				continue
			}
			child, err := r.message(r.scratch[depth][:0], b[f.value:f.end], f.nested, depth+1)
			if err != nil {
				return nil, err
			}
			dst = protowire.AppendBytes(protowire.AppendTag(dst, f.num, protowire.BytesType), child)
			r.scratch[depth] = child
		}
	}
	return dst, nil
}
