package traces_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// The oracle suite over the /tempo mount: the same cases through the
// mount's search (answers in Tempo's format, compared byte for byte), plus
// TraceQL metrics, where a guessed foreign value must not change a series.
// Each case must still leak with confinement off.

var metricsOracleCases = []oracleCase{
	{name: "metrics count of foreign spans", q: `{ span.partner.secret =~ "GUESS" } | count_over_time()`},
	{name: "metrics rate by service", q: `{ span.partner.secret =~ "GUESS" || resource.service.name = "shop" } | rate() by (resource.service.name)`},
	{name: "metrics by a foreign attribute", q: `{ resource.service.name = "shop" || span.partner.secret =~ "GUESS" } | count_over_time() by (span.partner.secret)`},
	{name: "metrics over trace:rootService", q: `{ trace:rootService =~ "GUESS" } | count_over_time()`, refused: "trace:rootService"},
	{name: "metrics over the descendant operator", q: `{ span.partner.secret =~ "GUESS" } >> { resource.tenant.id = "acme" } | count_over_time()`, refused: ">>"},
}

func compatAnswer(c *traces.Compat, q traces.SearchQuery, r traces.TimeRange, metrics bool) (string, error) {
	var (
		a   traces.Answer
		err error
	)
	if metrics {
		start, end := r.Start, r.End
		a, err = c.Metrics(context.Background(), tenant.MustSet("acme"), traces.MetricsQuery{Q: q.Q, Start: &start, End: &end, Step: "60s"})
	} else {
		a, err = c.Search(context.Background(), tenant.MustSet("acme"), traces.NativeSearch{Q: q.Q, Limit: &q.Limit, SpansPerSet: &q.SpansPerSet, Range: r})
	}
	if err != nil {
		return "error: " + err.Error(), err
	}
	return a.ContentType + " " + string(a.Body), nil
}

func TestCompatOracles(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		mode := map[bool]string{false: "tempo tenant plus attribute", true: "shared tempo"}[shared]
		repo, up, r := oracleWorld(t, shared)
		c := traces.NewCompat(repo, up)
		unconfinedRepo, unconfinedUp, _ := oracleWorld(t, shared)
		traces.DisableConfinement(unconfinedRepo)
		unconfined := traces.NewCompat(unconfinedRepo, unconfinedUp)
		traces.DisableMetricsConfinement(unconfined)
		cases := append([]oracleCase{}, oracleCases...)
		for _, mc := range metricsOracleCases {
			mc.name = "metrics:" + mc.name
			cases = append(cases, mc)
		}
		for _, oc := range cases {
			metrics := strings.HasPrefix(oc.name, "metrics:")
			t.Run(mode+"/"+oc.name, func(t *testing.T) {
				right, rightErr := compatAnswer(c, oc.query("right"), r, metrics)
				wrong, _ := compatAnswer(c, oc.query("wrong"), r, metrics)
				if right != wrong {
					t.Errorf("a right and a wrong guess are told apart:\n right: %s\n wrong: %s", right, wrong)
				}
				for _, f := range oracleForeign {
					if strings.Contains(right, f) || strings.Contains(wrong, f) {
						t.Errorf("the answer shows foreign %q: %s", f, right)
					}
				}
				if strings.Contains(right, `"metrics"`) {
					t.Errorf("Tempo's metrics block was passed on: %s", right)
				}
				if oc.refused != "" {
					if !errors.Is(rightErr, traces.ErrInvalidQuery) || !strings.Contains(rightErr.Error(), oc.refused) {
						t.Errorf("not refused with a reason naming %s: %s", oc.refused, right)
					}
				} else if rightErr != nil {
					t.Errorf("refused: %v", rightErr)
				}
				uRight, _ := compatAnswer(unconfined, oc.query("right"), r, metrics)
				uWrong, _ := compatAnswer(unconfined, oc.query("wrong"), r, metrics)
				if uRight == uWrong {
					t.Errorf("without confinement the guesses give the same answer (%s): the case would not catch a leak", uRight)
				}
			})
		}
	}
}

// Trace by id through the mount with the attribute layer: the whole trace is
// checked; in a shared Tempo the caller's resources are kept, in Tempo's v1
// and v2 formats, JSON and protobuf; what cannot be confined is refused.
func TestCompatAttributeMode(t *testing.T) {
	t.Parallel()
	acme := tenant.MustSet("acme")
	ctx := context.Background()

	repo, up, r := oracleWorld(t, false)
	c := traces.NewCompat(repo, up)
	mixed, _ := traces.ParseID(oracleMixed)
	checkout, _ := traces.ParseID(oracleCheckout)
	globex, _ := traces.ParseID(oracleGlobex)
	var mismatch *traces.MismatchError
	if _, err := c.Trace(ctx, acme, traces.TraceQuery{ID: mixed, V2: true}); !errors.As(err, &mismatch) {
		t.Errorf("mixed trace in acme's Tempo tenant: %v, want a mismatch (not found)", err)
	}
	if _, err := c.Trace(ctx, acme, traces.TraceQuery{ID: globex, V2: true}); !errors.Is(err, traces.ErrNotFound) {
		t.Errorf("globex's trace: %v, want not found", err)
	}
	for _, protobuf := range []bool{false, true} {
		for _, v2 := range []bool{false, true} {
			a, err := c.Trace(ctx, acme, traces.TraceQuery{ID: checkout, V2: v2, Protobuf: protobuf})
			if err != nil {
				t.Fatal(err)
			}
			td, partial := decodeTempoTrace(t, a, v2)
			if td.SpanCount() != 2 || partial {
				t.Errorf("v2=%t protobuf=%t: %d spans, partial %t", v2, protobuf, td.SpanCount(), partial)
			}
		}
	}
	keep := true
	for name, q := range map[string]traces.TraceQuery{
		"q":              {ID: checkout, V2: true, Filter: "{ }"},
		"keep_hierarchy": {ID: checkout, V2: true, KeepHierarchy: &keep},
	} {
		if _, err := c.Trace(ctx, acme, q); !errors.Is(err, traces.ErrInvalidQuery) {
			t.Errorf("span filtering by %s: %v, want refused", name, err)
		}
	}
	for name, q := range map[string]traces.NativeSearch{
		"minDuration": {MinDuration: 1e6},
		"maxDuration": {MaxDuration: 1e9},
		"q and tags":  {Q: "{ }", Tags: "service.name=shop"},
		"bad tags":    {Tags: `a="unterminated`},
		"bad q":       {Q: "{ nosuch"},
	} {
		if _, err := c.Search(ctx, acme, q); !errors.Is(err, traces.ErrInvalidQuery) {
			t.Errorf("search with %s: %v, want refused", name, err)
		}
	}
	if _, err := c.TagValues(ctx, acme, true, "trace:rootService", "", r); !errors.Is(err, traces.ErrInvalidQuery) {
		t.Errorf("values of trace:rootService: %v, want refused", err)
	}
	// A tags search is the equivalent confined TraceQL: only acme's shop spans.
	a, err := c.Search(ctx, acme, traces.NativeSearch{Tags: "service.name=SHO", Range: r})
	if err != nil || !strings.Contains(string(a.Body), `"traceID":"3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a"`) || strings.Contains(string(a.Body), oracleCheckout) {
		t.Errorf("tags search: %s %v", a.Body, err)
	}
	// Tag names and values come from acme's spans only, in v1 and v2.
	for _, v2 := range []bool{false, true} {
		tags, err := c.Tags(ctx, acme, v2, "", "", r)
		if err != nil {
			t.Fatal(err)
		}
		values, err := c.TagValues(ctx, acme, v2, map[bool]string{false: "service.name", true: "resource.service.name"}[v2], "", r)
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{string(tags.Body), string(values.Body)} {
			if strings.Contains(body, "partner.secret") || strings.Contains(body, "globex") || strings.Contains(body, `"metrics"`) {
				t.Errorf("v2=%t: foreign names or Tempo's metrics: %s", v2, body)
			}
			if !strings.Contains(body, "shop") && !strings.Contains(body, "service.name") {
				t.Errorf("v2=%t: acme's own names missing: %s", v2, body)
			}
		}
	}
}

// In a shared Tempo, the mixed trace keeps acme's resources only, marked
// partial, in every format.
func TestCompatSharedTrace(t *testing.T) {
	t.Parallel()
	repo, up, _ := oracleWorld(t, true)
	c := traces.NewCompat(repo, up)
	mixed, _ := traces.ParseID(oracleMixed)
	for _, protobuf := range []bool{false, true} {
		for _, v2 := range []bool{false, true} {
			a, err := c.Trace(context.Background(), tenant.MustSet("acme"), traces.TraceQuery{ID: mixed, V2: v2, Protobuf: protobuf})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range oracleForeign {
				if strings.Contains(string(a.Body), f) {
					t.Errorf("v2=%t protobuf=%t: foreign %q in %q", v2, protobuf, f, a.Body)
				}
			}
			td, partial := decodeTempoTrace(t, a, v2)
			if td.SpanCount() != 3 || v2 && !partial {
				t.Errorf("v2=%t protobuf=%t: %d spans, partial %t", v2, protobuf, td.SpanCount(), partial)
			}
		}
	}
}

// decodeTempoTrace reads one of Tempo's trace-by-id answers: protobuf
// tempopb.Trace (v1) or TraceByIDResponse (v2), or gogo jsonpb JSON (ids in
// base64 turned back into hex for pdata's reader).
func decodeTempoTrace(t *testing.T, a traces.Answer, v2 bool) (ptrace.Traces, bool) {
	t.Helper()
	if a.ContentType == traces.ContentTypeProtobuf {
		b, partial := a.Body, false
		if v2 {
			var traceBytes []byte
			for len(b) > 0 {
				num, typ, n := protowire.ConsumeTag(b)
				if n < 0 {
					t.Fatal(protowire.ParseError(n))
				}
				b = b[n:]
				n = protowire.ConsumeFieldValue(num, typ, b)
				if n < 0 {
					t.Fatal(protowire.ParseError(n))
				}
				switch num {
				case 1:
					traceBytes, _ = protowire.ConsumeBytes(b[:n])
				case 3:
					v, _ := protowire.ConsumeVarint(b[:n])
					partial = v == 1
				}
				b = b[n:]
			}
			b = traceBytes
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			t.Fatal(err)
		}
		return td, partial
	}
	var doc struct {
		Batches []json.RawMessage `json:"batches"`
		Trace   struct {
			ResourceSpans []json.RawMessage `json:"resourceSpans"`
		} `json:"trace"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(a.Body, &doc); err != nil {
		t.Fatal(err)
	}
	rss := doc.Batches
	if v2 {
		rss = doc.Trace.ResourceSpans
	}
	if strings.Contains(string(a.Body), `"kind":2`) || !strings.Contains(string(a.Body), `"SPAN_KIND_SERVER"`) {
		t.Errorf("enums not by name: %s", a.Body)
	}
	b, err := json.Marshal(map[string]any{"resourceSpans": rss})
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(base64IDsToHex(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return td, doc.Status == "PARTIAL"
}

// base64IDsToHex turns jsonpb's base64 span and trace ids into OTLP/JSON's
// hex, failing the test when an id is not base64 of the right length.
func base64IDsToHex(t *testing.T, b []byte) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				want := map[string]int{"traceId": 16, "spanId": 8, "parentSpanId": 8}[k]
				if s, ok := val.(string); ok && want > 0 {
					raw, err := base64.StdEncoding.DecodeString(s)
					if err != nil || len(raw) != want {
						t.Errorf("%s %q is not base64 of %d bytes", k, s, want)
					}
					x[k] = hex.EncodeToString(raw)
					continue
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
