package tempo

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

// Every request that reads tenants' data carries X-Scope-OrgID exactly once,
// as the tenants of the call; a call without tenants is refused before
// anything is sent; and the requests that read no tenant's data go without.
func TestOrgIDOnEveryRequest(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	var mu sync.Mutex
	var seen [][]string
	mock.RegisterNoResponder(func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, req.Header.Values("X-Scope-OrgID"))
		mu.Unlock()
		return httpmock.NewStringResponse(http.StatusInternalServerError, "recorded"), nil
	})
	r := traces.TimeRange{Start: 1, End: 2}
	q := "{ }"
	reads := map[string]func(context.Context, tenant.Set) error{
		"WithTrace": func(ctx context.Context, ts tenant.Set) error {
			return c.WithTrace(ctx, ts, checkoutID, r, func(traces.Trace) error { return nil })
		},
		"Search": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.Search(ctx, ts, traces.SearchQuery{Range: r})
			return err
		},
		"Tags": func(ctx context.Context, ts tenant.Set) error { _, err := c.Tags(ctx, ts, "", "", r); return err },
		"TagValues": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TagValues(ctx, ts, "name", "", r)
			return err
		},
		"TraceAnswer v1": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TraceAnswer(ctx, ts, traces.TraceQuery{ID: checkoutID})
			return err
		},
		"TraceAnswer v2": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TraceAnswer(ctx, ts, traces.TraceQuery{ID: checkoutID, V2: true})
			return err
		},
		"SearchAnswer": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.SearchAnswer(ctx, ts, traces.NativeSearch{})
			return err
		},
		"TagsAnswer v1": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TagsAnswer(ctx, ts, false, "", "", r)
			return err
		},
		"TagsAnswer v2": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TagsAnswer(ctx, ts, true, "", "", r)
			return err
		},
		"TagValuesAnswer v1": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TagValuesAnswer(ctx, ts, false, "name", "", r)
			return err
		},
		"TagValuesAnswer v2": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.TagValuesAnswer(ctx, ts, true, "name", "", r)
			return err
		},
		"MetricsAnswer instant": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.MetricsAnswer(ctx, ts, traces.MetricsQuery{Instant: true, Q: q})
			return err
		},
		"MetricsAnswer range": func(ctx context.Context, ts tenant.Set) error {
			_, err := c.MetricsAnswer(ctx, ts, traces.MetricsQuery{Q: q})
			return err
		},
	}
	ctx := context.Background()
	for name, read := range reads {
		mu.Lock()
		seen = nil
		mu.Unlock()
		_ = read(ctx, tenant.MustSet("globex", "acme"))
		if err := read(ctx, tenant.Set{}); !errors.Is(err, traces.ErrNoTenant) {
			t.Errorf("%s without tenants: %v, want ErrNoTenant", name, err)
		}
		mu.Lock()
		if len(seen) != 1 || len(seen[0]) != 1 || seen[0][0] != "acme|globex" {
			t.Errorf("%s: X-Scope-OrgID of the requests sent: %q, want one request with [acme|globex]", name, seen)
		}
		mu.Unlock()
	}

	mu.Lock()
	seen = nil
	mu.Unlock()
	_ = c.Ready(ctx)
	_, _ = c.Echo(ctx)
	_, _ = c.BuildInfo(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("%d requests of Ready, Echo, BuildInfo reached Tempo, want 3", len(seen))
	}
	for _, h := range seen {
		if len(h) != 0 {
			t.Errorf("a request that reads no tenant's data carried X-Scope-OrgID %q", h)
		}
	}
}
