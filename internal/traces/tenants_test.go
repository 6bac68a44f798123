package traces_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// countingUpstream is a fake of traces.Upstream and traces.CompatUpstream
// that answers nothing and counts what reached it.
type countingUpstream struct{ calls int }

func (u *countingUpstream) WithTrace(context.Context, tenant.Set, traces.ID, traces.TimeRange, func(traces.Trace) error) error {
	u.calls++
	return traces.ErrNotFound
}

func (u *countingUpstream) Search(context.Context, tenant.Set, traces.SearchQuery) ([]traces.TraceSummary, error) {
	u.calls++
	return nil, nil
}

func (u *countingUpstream) Tags(context.Context, tenant.Set, string, string, traces.TimeRange) ([]traces.TagScope, error) {
	u.calls++
	return nil, nil
}

func (u *countingUpstream) TagValues(context.Context, tenant.Set, string, string, traces.TimeRange) ([]traces.TagValue, error) {
	u.calls++
	return nil, nil
}

func (u *countingUpstream) Echo(context.Context) (traces.Answer, error) { return traces.Answer{}, nil }

func (u *countingUpstream) BuildInfo(context.Context) (traces.Answer, error) {
	return traces.Answer{}, nil
}

func (u *countingUpstream) TraceAnswer(context.Context, tenant.Set, traces.TraceQuery) (traces.Answer, error) {
	u.calls++
	return traces.Answer{}, nil
}

func (u *countingUpstream) SearchAnswer(context.Context, tenant.Set, traces.NativeSearch) (traces.Answer, error) {
	u.calls++
	return traces.Answer{}, nil
}

func (u *countingUpstream) TagsAnswer(context.Context, tenant.Set, bool, string, string, traces.TimeRange) (traces.Answer, error) {
	u.calls++
	return traces.Answer{}, nil
}

func (u *countingUpstream) TagValuesAnswer(context.Context, tenant.Set, bool, string, string, traces.TimeRange) (traces.Answer, error) {
	u.calls++
	return traces.Answer{}, nil
}

func (u *countingUpstream) MetricsAnswer(context.Context, tenant.Set, traces.MetricsQuery) (traces.Answer, error) {
	u.calls++
	return traces.Answer{}, nil
}

// Every read of the Repository and of the /tempo mount's domain refuses an
// empty tenant set before Tempo is asked anything, with and without the
// attribute layer, and whatever the empty set is made of (the zero Set,
// NewSet of nothing, NewSet of zero IDs).
func TestEmptyTenantSetIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	id := traces.ID("4bf92f3577b34da6a3ce929d0e0e4736")
	noTenant := map[string]tenant.Set{"zero Set": {}, "NewSet()": tenant.NewSet(), "NewSet(ID{})": tenant.NewSet(tenant.ID{})}
	for _, cfg := range []traces.Config{{}, {TenantAttribute: "tenant.id"}, {TenantAttribute: "tenant.id", TempoTenant: tenant.MustParse("single-tenant")}} {
		for name, none := range noTenant {
			up := &countingUpstream{}
			repo, err := traces.NewRepository(up, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			compat := traces.NewCompat(repo, up)
			reads := map[string]func() error{
				"WithTrace": func() error {
					return repo.WithTrace(ctx, none, id, traces.TimeRange{}, func(traces.Trace) error {
						t.Error("the callback ran without a tenant")
						return nil
					})
				},
				"Search": func() error { _, err := repo.Search(ctx, none, traces.SearchQuery{}); return err },
				"Tags":   func() error { _, err := repo.Tags(ctx, none, "", traces.TimeRange{}); return err },
				"TagValues": func() error {
					_, err := repo.TagValues(ctx, none, "resource.service.name", "", traces.TimeRange{})
					return err
				},
				"Compat.Trace":     func() error { _, err := compat.Trace(ctx, none, traces.TraceQuery{ID: id, V2: true}); return err },
				"Compat.Search":    func() error { _, err := compat.Search(ctx, none, traces.NativeSearch{}); return err },
				"Compat.Tags":      func() error { _, err := compat.Tags(ctx, none, true, "", "", traces.TimeRange{}); return err },
				"Compat.TagValues": func() error { _, err := compat.TagValues(ctx, none, true, "name", "", traces.TimeRange{}); return err },
				"Compat.Metrics":   func() error { _, err := compat.Metrics(ctx, none, traces.MetricsQuery{Q: "{ } | rate()"}); return err },
			}
			for read, f := range reads {
				if err := f(); !errors.Is(err, traces.ErrNoTenant) {
					t.Errorf("attribute %q, %s: %s = %v, want ErrNoTenant", cfg.TenantAttribute, name, read, err)
				}
			}
			if up.calls != 0 {
				t.Errorf("attribute %q, %s: Tempo was asked %d times without a tenant", cfg.TenantAttribute, name, up.calls)
			}
		}
	}
	// The same reads with a tenant do reach Tempo: the fake counts.
	up := &countingUpstream{}
	repo, _ := traces.NewRepository(up, traces.Config{}, slog.New(slog.DiscardHandler))
	if _, err := repo.Search(ctx, tenant.MustSet("acme"), traces.SearchQuery{}); err != nil || up.calls != 1 {
		t.Errorf("a read with a tenant: %v, %d calls, want 1", err, up.calls)
	}
}
