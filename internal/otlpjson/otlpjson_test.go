package otlpjson_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tracegate/tracegate/internal/devseed"
	"github.com/tracegate/tracegate/internal/otlpjson"
	"github.com/tracegate/tracegate/internal/testkit"
)

// oracle is what tracegate wrote before the transcoder: pdata's protobuf
// reader, then its JSON marshaler, of the resources keep selects.
func oracle(data []byte, keep func(int) bool) ([]byte, error) {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
	if err != nil {
		return nil, err
	}
	if keep != nil {
		i := 0
		td.ResourceSpans().RemoveIf(func(ptrace.ResourceSpans) bool {
			k := keep(i)
			i++
			return !k
		})
	}
	return (&ptrace.JSONMarshaler{}).MarshalTraces(td)
}

func transcode(data []byte, keep func(int) bool) ([]byte, error) {
	tr, err := otlpjson.Parse(data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tr.WriteJSON(&buf, nil, keep); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// same checks that the transcoder and pdata agree on data: both reject it,
// or both write the same bytes (for all resources, and for every other one).
func same(t testing.TB, name string, data []byte) {
	t.Helper()
	for _, keep := range []func(int) bool{nil, func(i int) bool { return i%2 == 1 }} {
		want, werr := oracle(data, keep)
		got, gerr := transcode(data, keep)
		switch {
		case werr != nil && gerr != nil:
			return
		case werr != nil:
			t.Fatalf("%s: pdata rejects (%v), the transcoder accepts:\n%s", name, werr, got)
		case gerr != nil:
			t.Fatalf("%s: pdata accepts, the transcoder rejects: %v", name, gerr)
		case !bytes.Equal(reencoded(t, data, keep), want):
			t.Fatalf("%s: AppendProto's message reads back differently", name)
		case !bytes.Equal(got, want):
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("%s: output differs at byte %d:\n got …%s\nwant …%s", name, i, snippet(got, i), snippet(want, i))
		}
	}
}

// reencoded is pdata's JSON of what AppendProto gives for the kept resources.
func reencoded(t testing.TB, data []byte, keep func(int) bool) []byte {
	t.Helper()
	tr, err := otlpjson.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := oracle(tr.AppendProto(nil, keep), nil)
	if err != nil {
		t.Fatalf("AppendProto's message does not read back: %v", err)
	}
	return out
}

func snippet(b []byte, i int) string {
	return string(b[max(0, i-80):min(len(b), i+80)])
}

func marshal(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tempoTrace returns the TracesData of a Tempo v2 protobuf answer (field 1,
// possibly in several pieces).
func tempoTrace(t *testing.T, body []byte) []byte {
	t.Helper()
	var out []byte
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		body = body[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(body)
			if n < 0 {
				t.Fatal(protowire.ParseError(n))
			}
			out = append(out, v...)
			body = body[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, body)
		if n < 0 {
			t.Fatal(protowire.ParseError(n))
		}
		body = body[n:]
	}
	return out
}

// corpus returns every trace tracegate's tests know: the recorded Tempo
// answers, the traces ingested into the real Tempo, the dev seed (the mixed
// trace included) and synthetic traces of every shape.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range testkit.FixtureNames(t, "trace-*") {
		f := testkit.LoadFixture(t, name)
		if f.Response.Status == 200 && strings.HasPrefix(f.Response.Headers["Content-Type"], "application/protobuf") {
			out["fixture "+name] = tempoTrace(t, f.Body(t))
		}
	}
	for _, name := range testkit.IngestedNames(t) {
		out["ingested "+name] = marshal(t, testkit.Ingested(t, name))
	}
	for tenant, tds := range devseed.Traces(time.Unix(1_800_000_000, 0)) {
		for i, td := range tds {
			out[fmt.Sprintf("devseed %s %d", tenant, i)] = marshal(t, td)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // reproducible test data
	for _, n := range []int{1, 10, 2000, 20000} {
		out[fmt.Sprintf("synthetic %d spans", n)] = marshal(t, Synthetic(rng, n))
	}
	return out
}

func TestSameAsPdata(t *testing.T) {
	t.Parallel()
	c := corpus(t)
	counts := map[string]int{}
	for name, data := range c {
		if len(data) > 0 {
			counts[strings.Fields(name)[0]]++
		}
		same(t, name, data)
	}
	// Every source contributed traces with spans: a corpus that silently
	// shrank, or a loader that read empty bodies, proves nothing.
	for _, src := range []string{"fixture", "ingested", "devseed", "synthetic"} {
		if counts[src] < 2 {
			t.Errorf("only %d traces from %s", counts[src], src)
		}
	}
}

// Inputs where pdata's reader has its own ways: merged singular messages,
// the last oneof member, odd wire encodings, unknown fields and groups.
func TestPdataQuirks(t *testing.T) {
	t.Parallel()
	kv := func(k string, v []byte) []byte { return msg(str(nil, 1, k), 2, v) }
	sv := func(s string) []byte { return str(nil, 1, s) }
	span := str(str(nil, 1, string(make([]byte, 16))), 5, "zero ids")
	cases := map[string][]byte{
		"empty":                   {},
		"empty resource":          msg(nil, 1, nil),
		"two resources merged":    msg(nil, 1, msg(msg(nil, 1, msg(nil, 1, kv("a", sv("1")))), 1, msg(nil, 1, kv("b", sv("2"))))),
		"status merged":           rs(msg(msg(str(nil, 5, "s"), 15, str(nil, 2, "m")), 15, varint(nil, 3, 2))),
		"value merged, last wins": rs(msg(nil, 9, msg(msg(str(nil, 1, "k"), 2, sv("x")), 2, varint(nil, 3, 5)))),
		"array then string":       rs(msg(nil, 9, kv("k", str(msg(nil, 5, msg(nil, 1, sv("a"))), 1, "s")))),
		"string then array":       rs(msg(nil, 9, kv("k", msg(str(nil, 1, "s"), 5, msg(nil, 1, sv("a")))))),
		"arrays replace":          rs(msg(nil, 9, msg(msg(str(nil, 1, "k"), 2, msg(nil, 5, msg(nil, 1, sv("a")))), 2, msg(nil, 5, msg(nil, 1, sv("b")))))),
		"empty array and kvlist":  rs(msg(msg(nil, 9, kv("a", msg(nil, 5, nil))), 9, kv("m", msg(nil, 6, nil)))),
		"empty value":             rs(msg(nil, 9, str(nil, 1, "k"))),
		"strindex":                rs(msg(nil, 9, varint(kv("", varint(nil, 8, 1<<40)), 3, 1<<33))),
		"zero ids left out":       rs(span),
		"short trace id":          rs(str(nil, 1, "abc")),
		"short span id":           rs(str(nil, 2, "abc")),
		"negative kind":           rs(varint(nil, 6, math.MaxUint64)),
		"huge counts":             rs(varint(varint(nil, 10, 1<<32+3), 14, 1<<32)),
		"10-byte varint":          rs(append(tag(nil, 6, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)),
		"11-byte varint":          rs(append(tag(nil, 6, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
		"wrong wire type":         rs(varint(nil, 5, 1)),
		"unknown fields":          rs(append(append(varint(str(nil, 99, "x"), 98, 1), tag(nil, 97, 5)...), 1, 2, 3, 4)),
		"unknown group":           rs(append(append(tag(nil, 50, 3), varint(nil, 1, 1)...), tag(nil, 50, 4)...)),
		"unclosed group":          rs(append(tag(nil, 50, 3), varint(nil, 1, 1)...)),
		"stray end group":         rs(tag(nil, 50, 4)),
		"wire type 7":             rs(tag(nil, 50, 7)),
		"field number 0":          rs(tag(nil, 0, 0)),
		"field number wraps":      append(protowire.AppendVarint(nil, (1<<32+1)<<3|2), 0),
		"truncated":               rs(str(nil, 5, "name"))[:5],
		"overlong length":         append(tag(nil, 1, 2), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"deprecated scope spans":  msg(nil, 1, msg(nil, 1000, msg(nil, 2, str(nil, 5, "old")))),
		"entity refs":             msg(nil, 1, msg(nil, 1, msg(nil, 3, str(str(str(str(nil, 1, "u"), 2, "t"), 3, "id"), 4, "d")))),
		"escapes and bad utf-8":   rs(str(nil, 5, "a\"b\\c\n\r\t\x00\x1f\x7f\u2028é\xff\xfe<>&")),
		"doubles":                 rs(doubles()),
		"bytes":                   rs(msg(msg(nil, 9, kv("b", str(nil, 7, ""))), 9, kv("c", str(nil, 7, strings.Repeat("\x00\xff", 40000))))),
		"long string":             rs(str(nil, 5, strings.Repeat("x\"", 50000))),
		"event and link":          rs(msg(msg(nil, 11, str(fixed64(nil, 1, 7), 2, "e")), 13, fixed32(str(nil, 1, string(bytes.Repeat([]byte{1}, 16))), 6, 1))),
		"scope merged":            msg(nil, 1, msg(nil, 2, msg(msg(nil, 1, str(nil, 1, "n")), 1, str(nil, 2, "v")))),
		"resource schema url":     msg(nil, 1, str(msg(nil, 1, nil), 3, "https://x")),
		// pdata's depth: KeyValue 0, its AnyValue 1, each array level 2 more.
		"deep array":                 rs(msg(nil, 9, kv("k", nest(49)))),
		"too deep array":             rs(msg(nil, 9, kv("k", nestIn(49, msg(nil, 5, nil))))),
		"too deep kvlist":            rs(msg(nil, 9, kv("k", nestIn(49, msg(nil, 6, nil))))),
		"too deep array, overridden": rs(msg(nil, 9, kv("k", str(nest(200), 1, "s")))),
	}
	for name, data := range cases {
		same(t, name, data)
	}
	if _, err := transcode(cases["too deep array"], nil); err == nil {
		t.Error("nesting beyond pdata's limit is accepted")
	}
	if _, err := transcode(cases["truncated"], nil); err == nil {
		t.Error("a truncated message is accepted")
	}
}

// Tenant values: every occurrence, in order, with its type; the last oneof
// member of a merged value.
func TestValues(t *testing.T) {
	t.Parallel()
	kv := func(k string, v []byte) []byte { return msg(str(nil, 1, k), 2, v) }
	res := msg(nil, 1, nil)
	res = msg(res, 1, msg(nil, 1, kv("tenant.id", str(nil, 1, "acme"))))
	res = msg(res, 1, msg(msg(nil, 1, kv("other", str(nil, 1, "x"))), 1, kv("tenant.id", varint(nil, 3, 7))))
	res = msg(res, 1, msg(nil, 1, kv("tenant.id", msg(nil, 5, msg(msg(nil, 1, str(nil, 1, "a")), 1, str(nil, 1, "b"))))))
	res = msg(res, 1, msg(nil, 1, msg(msg(str(nil, 1, "tenant.id"), 2, varint(nil, 3, 1)), 2, str(nil, 1, "globex"))))
	res = msg(res, 1, msg(nil, 1, str(nil, 1, "tenant.id")))
	data := msg(msg(nil, 1, nil), 1, res)
	tr, err := otlpjson.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 2 || len(tr.Values(0, "tenant.id")) != 0 {
		t.Fatalf("%d resources, first has %v", tr.Len(), tr.Values(0, "tenant.id"))
	}
	want := []otlpjson.Value{
		{Type: otlpjson.TypeStr, Str: "acme"}, {Type: otlpjson.TypeInt, Str: "7"},
		{Type: otlpjson.TypeSlice, Str: `["a","b"]`}, {Type: otlpjson.TypeStr, Str: "globex"},
		{Type: otlpjson.TypeEmpty},
	}
	if got := tr.Values(1, "tenant.id"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values %v, want %v", got, want)
	}
}

type failingWriter struct{ n int }

var errWrite = errors.New("gone")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > otlpjson.BufferSize {
		return 0, fmt.Errorf("chunk of %d bytes", len(p))
	}
	w.n++
	if w.n > 2 {
		return 0, errWrite
	}
	return len(p), nil
}

// Output reaches the writer in bounded chunks, and its error is returned.
func TestChunksAndWriteError(t *testing.T) {
	t.Parallel()
	data := marshal(t, Synthetic(rand.New(rand.NewPCG(3, 4)), 2000)) //nolint:gosec // test data
	tr, err := otlpjson.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	w := &failingWriter{}
	if err := tr.WriteJSON(w, nil, nil); !errors.Is(err, errWrite) {
		t.Fatalf("error %v, want the writer's", err)
	}
	if w.n != 3 {
		t.Errorf("%d writes, want 3 (the writer fails at its third)", w.n)
	}
}

// With a head, its members come first and resourceSpans is always there.
func TestHead(t *testing.T) {
	t.Parallel()
	data := msg(nil, 1, msg(nil, 2, msg(nil, 2, str(nil, 5, "op"))))
	tr, err := otlpjson.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		head string
		keep func(int) bool
		want string
	}{
		{`{"a":1}`, nil, `{"a":1,"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"name":"op","status":{}}]}]}]}`},
		{`{"a":1}`, func(int) bool { return false }, `{"a":1,"resourceSpans":[]}`},
		{`{}`, func(int) bool { return false }, `{"resourceSpans":[]}`},
	} {
		var buf bytes.Buffer
		if err := tr.WriteJSON(&buf, []byte(tc.head), tc.keep); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("got %s\nwant %s", buf.String(), tc.want)
		}
	}
}

// Protobuf building blocks for hand-made inputs.
func tag(b []byte, num protowire.Number, typ protowire.Type) []byte {
	return protowire.AppendVarint(b, uint64(num)<<3|uint64(typ))
}

func msg(b []byte, num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(tag(b, num, protowire.BytesType), v)
}

func str(b []byte, num protowire.Number, s string) []byte { return msg(b, num, []byte(s)) }

func varint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(tag(b, num, protowire.VarintType), v)
}

func fixed64(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(tag(b, num, protowire.Fixed64Type), v)
}

func fixed32(b []byte, num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(tag(b, num, protowire.Fixed32Type), v)
}

// rs wraps span fields in a TracesData with one resource, scope and span.
func rs(span []byte) []byte {
	return msg(nil, 1, msg(nil, 2, msg(nil, 2, span)))
}

// nest returns an AnyValue of n arrays nested in each other.
func nest(n int) []byte { return nestIn(n, str(nil, 1, "leaf")) }

func nestIn(n int, v []byte) []byte {
	for range n {
		v = msg(nil, 5, msg(nil, 1, v))
	}
	return v
}

func doubles() []byte {
	var b []byte
	for _, d := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 0.1 + 0.2} {
		b = msg(b, 9, msg(str(nil, 1, "d"), 2, fixed64(nil, 4, math.Float64bits(d))))
	}
	return b
}

// Synthetic returns a trace of n spans in a few resources and scopes, with
// every kind of value, events, links and statuses.
func Synthetic(rng *rand.Rand, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	var tid pcommon.TraceID
	for i := range tid {
		tid[i] = byte(rng.IntN(256))
	}
	var ss ptrace.ScopeSpans
	for i := range n {
		if i%500 == 0 {
			r := td.ResourceSpans().AppendEmpty()
			r.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", i/500))
			r.Resource().Attributes().PutStr("tenant.id", []string{"acme", "globex"}[i/500%2])
			r.SetSchemaUrl("https://opentelemetry.io/schemas/1.21.0")
			ss = r.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("lib")
			ss.Scope().SetVersion("1.2.3")
			ss.Scope().Attributes().PutBool("scope.attr", true)
		}
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		var sid pcommon.SpanID
		for j := range sid {
			sid[j] = byte(rng.IntN(256))
		}
		sp.SetSpanID(sid)
		if i > 0 {
			sp.SetParentSpanID(sid)
		}
		sp.SetName(fmt.Sprintf("GET /api/v1/items/%d \"q\"", rng.IntN(1000)))
		sp.SetKind(ptrace.SpanKind(rng.IntN(6)))
		start := uint64(1_700_000_000_000_000_000) + uint64(rng.Int64N(1e12))
		sp.SetStartTimestamp(pcommon.Timestamp(start))
		sp.SetEndTimestamp(pcommon.Timestamp(start + uint64(rng.Int64N(1e9))))
		sp.SetFlags(uint32(rng.IntN(3)))
		sp.TraceState().FromRaw("k=v")
		a := sp.Attributes()
		a.PutStr("http.method", "GET")
		a.PutInt("http.status_code", int64(rng.IntN(600))-100)
		a.PutDouble("ratio", rng.Float64()*math.Pow(10, float64(rng.IntN(40)-20)))
		a.PutBool("ok", rng.IntN(2) == 0)
		a.PutStr("unicode", "grüße ✓ \u2028 \x01")
		a.PutEmptyBytes("blob").FromRaw([]byte{0, 1, 2, byte(i)})
		sl := a.PutEmptySlice("list")
		sl.AppendEmpty().SetStr("x")
		sl.AppendEmpty().SetInt(int64(i))
		m := a.PutEmptyMap("map")
		m.PutStr("k", "v")
		m.PutEmptyMap("inner").PutDouble("d", 1.5)
		if i%7 == 0 {
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.Timestamp(start + 5))
			ev.Attributes().PutStr("exception.message", "boom\n\tat x")
			ev.SetDroppedAttributesCount(1)
		}
		if i%11 == 0 {
			l := sp.Links().AppendEmpty()
			l.SetTraceID(tid)
			l.SetSpanID(sid)
			l.SetFlags(1)
			l.Attributes().PutStr("link", "yes")
		}
		if i%13 == 0 {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("failed")
			sp.SetDroppedAttributesCount(2)
			sp.SetDroppedEventsCount(3)
			sp.SetDroppedLinksCount(4)
		}
	}
	return td
}

// escape8 agrees with the byte-wise rule on every byte in every position.
func TestEscape8(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for pos := range 8 {
			word := []byte("abcdefgh")
			word[pos] = byte(c)
			want := c < 0x20 || c == '"' || c == '\\'
			got, err := transcode(rs(str(nil, 5, string(word)+"xyzuvw12")), nil)
			if err != nil {
				t.Fatal(err)
			}
			oracleOut, _ := oracle(rs(str(nil, 5, string(word)+"xyzuvw12")), nil)
			if !bytes.Equal(got, oracleOut) {
				t.Fatalf("byte %#x at %d: %s, want %s (escape %v)", c, pos, got, oracleOut, want)
			}
		}
	}
}
