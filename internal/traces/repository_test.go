package traces_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// upstreamFunc is a fake of traces.Upstream for trace by id.
type upstreamFunc func(ctx context.Context, t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error)

func (f upstreamFunc) WithTrace(ctx context.Context, t tenant.Set, id traces.ID, r traces.TimeRange, fn func(traces.Trace) error) error {
	tr, err := f(ctx, t, id, r)
	if err != nil {
		return err
	}
	return fn(tr)
}

// readTrace returns what repo.WithTrace shows of trace id. Outside the
// callback the trace stays readable here: the fakes hold no memory for it.
func readTrace(ctx context.Context, repo *traces.Repository, t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error) {
	var got traces.Trace
	err := repo.WithTrace(ctx, t, id, r, func(tr traces.Trace) error {
		got = tr
		return nil
	})
	return got, err
}

func (f upstreamFunc) Search(context.Context, tenant.Set, traces.SearchQuery) ([]traces.TraceSummary, error) {
	panic("not used")
}

func (f upstreamFunc) Tags(context.Context, tenant.Set, string, string, traces.TimeRange) ([]traces.TagScope, error) {
	panic("not used")
}

func (f upstreamFunc) TagValues(context.Context, tenant.Set, string, string, traces.TimeRange) ([]traces.TagValue, error) {
	panic("not used")
}

func newRepo(t *testing.T, up traces.Upstream, cfg traces.Config, logger *slog.Logger) *traces.Repository {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	repo, err := traces.NewRepository(up, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// traceOf builds a trace with one resource per entry of tenants; an entry of
// "-" has no tenant attribute, "#" a non-string one.
func traceOf(t testing.TB, tenants ...string) traces.Trace {
	td := ptrace.NewTraces()
	for _, tn := range tenants {
		rs := td.ResourceSpans().AppendEmpty()
		switch tn {
		case "-":
		case "#":
			rs.Resource().Attributes().PutInt("tenant.id", 7)
		default:
			rs.Resource().Attributes().PutStr("tenant.id", tn)
		}
		rs.Resource().Attributes().PutStr("service.name", "svc")
		span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		span.SetName("op")
	}
	return fromPdata(t, td)
}

const id = traces.ID("4bf92f3577b34da6a3ce929d0e0e4736")

func TestRepositoryTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		attribute string
		upstream  traces.Trace
		upErr     error
		wantErr   error
		wantLog   string
	}{
		{name: "own trace, attribute check on", attribute: "tenant.id", upstream: traceOf(t, "acme", "acme")},
		{name: "own trace, attribute check off", upstream: traceOf(t, "acme")},
		{name: "unstamped trace passes when the check is off", upstream: traceOf(t, "-")},
		{name: "foreign trace is not found", attribute: "tenant.id", upstream: traceOf(t, "globex"), wantErr: traces.ErrNotFound, wantLog: "found=globex"},
		{name: "mixed trace is not found", attribute: "tenant.id", upstream: traceOf(t, "acme", "globex", "acme"), wantErr: traces.ErrNotFound, wantLog: "found=globex"},
		{name: "resource without the attribute is not found", attribute: "tenant.id", upstream: traceOf(t, "acme", "-"), wantErr: traces.ErrNotFound, wantLog: "found=<missing>"},
		{name: "non-string attribute is not found", attribute: "tenant.id", upstream: traceOf(t, "#"), wantErr: traces.ErrNotFound, wantLog: "found=7"},
		{name: "prefix of the tenant is not the tenant", attribute: "tenant.id", upstream: traceOf(t, "acme2"), wantErr: traces.ErrNotFound},
		{name: "other attribute name configured", attribute: "org", upstream: traceOf(t, "acme"), wantErr: traces.ErrNotFound},
		{name: "empty trace is not found", attribute: "tenant.id", upstream: fromPdata(t, ptrace.NewTraces()), wantErr: traces.ErrNotFound},
		{name: "empty trace is not found without the check", upstream: fromPdata(t, ptrace.NewTraces()), wantErr: traces.ErrNotFound},
		{name: "zero trace without error is not found", upstream: traces.Trace{}, wantErr: traces.ErrNotFound},
		{name: "duplicated attribute, one value foreign", attribute: "tenant.id", upstream: traceJSON(t, `"acme"`, `"globex"`), wantErr: traces.ErrNotFound, wantLog: "found=acme+globex"},
		{name: "duplicated attribute, foreign value first", attribute: "tenant.id", upstream: traceJSON(t, `"globex"`, `"acme"`), wantErr: traces.ErrNotFound, wantLog: "found=globex+acme"},
		{name: "duplicated attribute, both own", attribute: "tenant.id", upstream: traceJSON(t, `"acme"`, `"acme"`)},
		{name: "array attribute holding the tenant is foreign", attribute: "tenant.id", upstream: traceJSON(t, `["acme"]`), wantErr: traces.ErrNotFound, wantLog: `found=["acme"]`},
		{name: "array attribute with two tenants is foreign", attribute: "tenant.id", upstream: traceJSON(t, `["acme","globex"]`), wantErr: traces.ErrNotFound, wantLog: `found=["acme","globex"]`},
		{name: "upstream not found", upErr: traces.ErrNotFound, wantErr: traces.ErrNotFound},
		{name: "upstream timeout", upErr: traces.ErrTimeout, wantErr: traces.ErrTimeout},
		{name: "upstream error", upErr: traces.ErrUpstream, wantErr: traces.ErrUpstream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			var gotTenant tenant.Set
			up := upstreamFunc(func(_ context.Context, tn tenant.Set, gotID traces.ID, _ traces.TimeRange) (traces.Trace, error) {
				gotTenant = tn
				if gotID != id {
					t.Errorf("upstream asked for %q, want %q", gotID, id)
				}
				return tc.upstream, tc.upErr
			})
			repo := newRepo(t, up, traces.Config{TenantAttribute: tc.attribute}, logger)
			got, err := readTrace(context.Background(), repo, tenant.MustSet("acme"), id, traces.TimeRange{})
			if gotTenant.OrgID() != "acme" {
				t.Errorf("upstream called as tenant %q, want acme", gotTenant)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if got.Data != nil {
					t.Error("spans returned together with an error")
				}
			} else if got.ID != id || spansOf(t, got).SpanCount() != spansOf(t, tc.upstream).SpanCount() {
				t.Errorf("got id %q with %d spans, want %q with %d", got.ID, spansOf(t, got).SpanCount(), id, spansOf(t, tc.upstream).SpanCount())
			}
			if tc.wantLog != "" {
				var me *traces.MismatchError
				if !errors.As(err, &me) || !errors.Is(err, traces.ErrTenantMismatch) || me.TraceID != id || "found="+me.Found != tc.wantLog {
					t.Errorf("err %v is not a mismatch of %s with %s", err, id, tc.wantLog)
				}
			}
		})
	}
}

// traceJSON builds a one-resource trace whose resource carries the tenant
// attribute once per value (OTLP/JSON AnyValue text: a string or an array of
// strings). OTLP/JSON is the only way to build duplicated keys: pcommon.Map's
// setters replace, but its decoders keep every key/value pair as sent.
func traceJSON(t *testing.T, values ...string) traces.Trace {
	t.Helper()
	var attrs []string
	for _, v := range values {
		if strings.HasPrefix(v, "[") {
			var elems []string
			for _, e := range strings.Split(strings.Trim(v, "[]"), ",") {
				elems = append(elems, `{"stringValue":`+e+`}`)
			}
			v = `{"arrayValue":{"values":[` + strings.Join(elems, ",") + `]}}`
		} else {
			v = `{"stringValue":` + v + `}`
		}
		attrs = append(attrs, `{"key":"tenant.id","value":`+v+`}`)
	}
	doc := `{"resourceSpans":[{"resource":{"attributes":[` + strings.Join(attrs, ",") +
		`]},"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"op"}]}]}]}`
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if n := td.ResourceSpans().At(0).Resource().Attributes().Len(); n != len(values) {
		t.Fatalf("decoded %d attributes, want %d (duplicates dropped?)", n, len(values))
	}
	return fromPdata(t, td)
}

func TestRepositoryTraceSharedTempo(t *testing.T) {
	t.Parallel()
	mixed := func() traces.Trace { return traceOf(t, "acme", "globex", "-", "acme") }
	tests := []struct {
		name        string
		upstream    func() traces.Trace
		tenants     tenant.Set
		wantSpans   int
		wantPartial bool
		wantErr     error
	}{
		{name: "own trace is whole", upstream: func() traces.Trace { return traceOf(t, "acme", "acme") }, tenants: tenant.MustSet("acme"), wantSpans: 2},
		{name: "mixed trace keeps only own resources", upstream: mixed, tenants: tenant.MustSet("acme"), wantSpans: 2, wantPartial: true},
		{name: "the other tenant sees its own part", upstream: mixed, tenants: tenant.MustSet("globex"), wantSpans: 1, wantPartial: true},
		{name: "federated read keeps both tenants", upstream: mixed, tenants: tenant.MustSet("acme", "globex"), wantSpans: 3, wantPartial: true},
		{name: "no own resource is not found", upstream: func() traces.Trace { return traceOf(t, "globex", "-") }, tenants: tenant.MustSet("acme"), wantErr: traces.ErrNotFound},
		{name: "duplicated foreign value is left out", upstream: func() traces.Trace { return traceJSON(t, `"acme"`, `"globex"`) }, tenants: tenant.MustSet("acme"), wantErr: traces.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var gotTenant tenant.Set
			up := upstreamFunc(func(_ context.Context, tn tenant.Set, _ traces.ID, _ traces.TimeRange) (traces.Trace, error) {
				gotTenant = tn
				return tc.upstream(), nil
			})
			repo := newRepo(t, up, traces.Config{TenantAttribute: "tenant.id", TempoTenant: tenant.MustParse("single-tenant")}, slog.New(slog.NewTextHandler(&logs, nil)))
			got, err := readTrace(context.Background(), repo, tc.tenants, id, traces.TimeRange{})
			if gotTenant.OrgID() != "single-tenant" {
				t.Errorf("upstream called as tenant %q, want the shared single-tenant", gotTenant)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, traces.ErrTenantMismatch) {
				t.Errorf("a trace without own resources is an alarm (%v); in a shared Tempo it is just not found", err)
			}
			if tc.wantErr != nil {
				return
			}
			shown := spansOf(t, got)
			if shown.SpanCount() != tc.wantSpans || got.Partial != tc.wantPartial {
				t.Errorf("got %d spans, partial %v; want %d, %v", shown.SpanCount(), got.Partial, tc.wantSpans, tc.wantPartial)
			}
			wantWarnings := []string(nil)
			if tc.wantPartial {
				wantWarnings = []string{traces.SharedTraceWarning}
			}
			if !slices.Equal(got.Warnings, wantWarnings) {
				t.Errorf("warnings = %q, want %q", got.Warnings, wantWarnings)
			}
			rss := shown.ResourceSpans()
			for i := range rss.Len() {
				v, _ := rss.At(i).Resource().Attributes().Get("tenant.id")
				if !tc.tenants.Contains(v.AsString()) {
					t.Errorf("resource of %q returned to %s", v.AsString(), tc.tenants)
				}
			}
		})
	}
}

func TestSharedTempoNeedsAttribute(t *testing.T) {
	t.Parallel()
	_, err := traces.NewRepository(upstreamFunc(nil), traces.Config{TempoTenant: tenant.MustParse("single-tenant")}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "tenant attribute") {
		t.Fatalf("NewRepository without a tenant attribute = %v, want a refusal", err)
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "4bf92f3577b34da6a3ce929d0e0e4736", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{in: "4BF92F3577B34DA6A3CE929D0E0E4736", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{in: "a1b2c3d4e5f6071", want: "00000000000000000a1b2c3d4e5f6071"},
		{in: "1", want: "00000000000000000000000000000001"},
		{in: "", wantErr: true},
		{in: "111111111111111111111111111111111", wantErr: true},
		{in: "zz12", wantErr: true},
		{in: "0x12", wantErr: true},
		{in: "12 ", wantErr: true},
		{in: "12-34", wantErr: true},
		{in: "éé", wantErr: true},
	}
	for _, tc := range tests {
		got, err := traces.ParseID(tc.in)
		if tc.wantErr {
			if !errors.Is(err, traces.ErrInvalidID) || got != "" {
				t.Errorf("ParseID(%q) = %q, %v; want ErrInvalidID", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseID(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "A1", "", "zz", "111111111111111111111111111111111"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := traces.ParseID(s)
		if err != nil {
			return
		}
		if len(id) != 32 || strings.Trim(id.String(), "0123456789abcdef") != "" {
			t.Fatalf("ParseID(%q) = %q is not canonical", s, id)
		}
		if !strings.HasSuffix(id.String(), strings.ToLower(s)) {
			t.Fatalf("ParseID(%q) = %q does not end with the input", s, id)
		}
	})
}

func TestNewTimeRange(t *testing.T) {
	t.Parallel()
	p := func(v int64) *int64 { return &v }
	tests := []struct {
		name       string
		start, end *int64
		want       traces.TimeRange
		wantErr    bool
	}{
		{name: "neither", want: traces.TimeRange{}},
		{name: "both", start: p(10), end: p(20), want: traces.TimeRange{Start: 10, End: 20}},
		{name: "only start", start: p(10), wantErr: true},
		{name: "only end", end: p(10), wantErr: true},
		{name: "equal", start: p(10), end: p(10), wantErr: true},
		{name: "reversed", start: p(20), end: p(10), wantErr: true},
	}
	for _, tc := range tests {
		got, err := traces.NewTimeRange(tc.start, tc.end)
		if tc.wantErr != (err != nil) || got != tc.want {
			t.Errorf("%s: NewTimeRange = %v, %v", tc.name, got, err)
		}
		if tc.wantErr && !errors.Is(err, traces.ErrInvalidQuery) {
			t.Errorf("%s: error %v is not ErrInvalidQuery", tc.name, err)
		}
	}
}
