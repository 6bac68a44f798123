package traces_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// upstreamFunc is a fake of traces.Upstream for trace by id.
type upstreamFunc func(ctx context.Context, t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error)

func (f upstreamFunc) Trace(ctx context.Context, t tenant.Set, id traces.ID, r traces.TimeRange) (traces.Trace, error) {
	return f(ctx, t, id, r)
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
func traceOf(tenants ...string) traces.Trace {
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
	return traces.Trace{Spans: td}
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
		{name: "own trace, attribute check on", attribute: "tenant.id", upstream: traceOf("acme", "acme")},
		{name: "own trace, attribute check off", upstream: traceOf("acme")},
		{name: "unstamped trace passes when the check is off", upstream: traceOf("-")},
		{name: "foreign trace is not found", attribute: "tenant.id", upstream: traceOf("globex"), wantErr: traces.ErrNotFound, wantLog: "found=globex"},
		{name: "mixed trace is not found", attribute: "tenant.id", upstream: traceOf("acme", "globex", "acme"), wantErr: traces.ErrNotFound, wantLog: "found=globex"},
		{name: "resource without the attribute is not found", attribute: "tenant.id", upstream: traceOf("acme", "-"), wantErr: traces.ErrNotFound, wantLog: "found=<missing>"},
		{name: "non-string attribute is not found", attribute: "tenant.id", upstream: traceOf("#"), wantErr: traces.ErrNotFound, wantLog: "found=7"},
		{name: "prefix of the tenant is not the tenant", attribute: "tenant.id", upstream: traceOf("acme2"), wantErr: traces.ErrNotFound},
		{name: "other attribute name configured", attribute: "org", upstream: traceOf("acme"), wantErr: traces.ErrNotFound},
		{name: "empty trace is not found", attribute: "tenant.id", upstream: traces.Trace{Spans: ptrace.NewTraces()}, wantErr: traces.ErrNotFound},
		{name: "empty trace is not found without the check", upstream: traces.Trace{Spans: ptrace.NewTraces()}, wantErr: traces.ErrNotFound},
		{name: "zero trace without error is not found", upstream: traces.Trace{}, wantErr: traces.ErrNotFound},
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
			got, err := repo.Trace(context.Background(), tenant.NewSet("acme"), id, traces.TimeRange{})
			if gotTenant.OrgID() != "acme" {
				t.Errorf("upstream called as tenant %q, want acme", gotTenant)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if got.Spans != (ptrace.Traces{}) {
					t.Error("spans returned together with an error")
				}
			} else if got.ID != id || got.Spans.SpanCount() != tc.upstream.Spans.SpanCount() {
				t.Errorf("got id %q with %d spans, want %q with %d", got.ID, got.Spans.SpanCount(), id, tc.upstream.Spans.SpanCount())
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
