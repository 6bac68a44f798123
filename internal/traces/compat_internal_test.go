package traces

import (
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/traceql"
)

// FuzzTagsQuery: every logfmt tags search tracegate accepts becomes TraceQL
// that tracegate's parser reads back, with exactly one condition per tag.
func FuzzTagsQuery(f *testing.F) {
	for _, s := range []string{`service.name=cart`, `http.url="/a b" status.code=error`, `a-b=c`, `k="quo\"te"`, `k=é`, `k="\x00"`, `x=.*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseLogfmtTags(s)
		if err != nil || len(tags) == 0 {
			return
		}
		q := tagsQuery(tags)
		parsed, err := traceql.Parse(q)
		if err != nil {
			t.Fatalf("tags %q became %q, which does not parse: %v", s, q, err)
		}
		if _, err := traceql.Confine(parsed, "tenant.id", []string{"acme"}, traceql.Search); err != nil {
			t.Fatalf("tags %q became %q, which cannot be confined: %v", s, q, err)
		}
	})
}

// toJSONPB rewrites ids and enums of spans and links only: attribute keys
// and values that look like them stay as they are.
func TestToJSONPB(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("kind", `"kind":2,"traceId":"00"`)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{0x4b, 0xf9, 15: 0x36})
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetParentSpanID(pcommon.SpanID{8, 7, 6, 5, 4, 3, 2, 1})
	sp.SetKind(ptrace.SpanKindClient)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Attributes().PutStr("code", `back\slash "code":1`)
	sp.Attributes().PutEmptyMap("nested").PutStr("spanId", "not an id")
	l := sp.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID{15: 1})
	l.SetSpanID(pcommon.SpanID{7: 1})
	otlp, err := jsonMarshaler.MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	got := string(toJSONPB(otlp))
	for _, want := range []string{
		`"traceId":"S/kAAAAAAAAAAAAAAAAANg=="`, `"spanId":"AQIDBAUGBwg="`, `"parentSpanId":"CAcGBQQDAgE="`,
		`"kind":"SPAN_KIND_CLIENT"`, `"code":"STATUS_CODE_ERROR"`,
		`"traceId":"AAAAAAAAAAAAAAAAAAAAAQ=="`, `"spanId":"AAAAAAAAAAE="`,
		`{"key":"kind","value":{"stringValue":"\"kind\":2,\"traceId\":\"00\""}}`,
		`{"key":"code","value":{"stringValue":"back\\slash \"code\":1"}}`,
		`{"key":"spanId","value":{"stringValue":"not an id"}}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

// FuzzToJSONPB: whatever attribute keys and values a span holds, the
// rewritten JSON is valid and still holds them unchanged.
func FuzzToJSONPB(f *testing.F) {
	f.Add("kind", `"kind":2`)
	f.Add(`"traceId":"`, `\"spanId\":\"00\"`)
	f.Fuzz(func(t *testing.T, key, value string) {
		td := ptrace.NewTraces()
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetSpanID(pcommon.SpanID{1})
		sp.Attributes().PutStr(key, value)
		otlp, err := jsonMarshaler.MarshalTraces(td)
		if err != nil { // the mount would answer 500 for this trace
			t.Fatalf("pdata cannot write the trace: %v", err)
		}
		type span struct {
			SpanID     string `json:"spanId"`
			Attributes []struct {
				Key   string `json:"key"`
				Value struct {
					StringValue string `json:"stringValue"`
				} `json:"value"`
			} `json:"attributes"`
		}
		type doc struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []span `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		var before, after doc
		if err := json.Unmarshal(otlp, &before); err != nil { // the mount would serve invalid JSON
			t.Fatalf("pdata wrote invalid JSON: %v\n%s", err, otlp)
		}
		if err := json.Unmarshal(toJSONPB(otlp), &after); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, toJSONPB(otlp))
		}
		b, a := before.ResourceSpans[0].ScopeSpans[0].Spans[0], after.ResourceSpans[0].ScopeSpans[0].Spans[0]
		if a.SpanID != "AQAAAAAAAAA=" || len(a.Attributes) != 1 || a.Attributes[0] != b.Attributes[0] {
			t.Fatalf("span %+v, want id AQAAAAAAAAA= and the attributes of %+v", a, b)
		}
	})
}
