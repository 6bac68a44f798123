package devseed_test

import (
	"testing"
	"time"

	"github.com/tracegate/tracegate/internal/devseed"
)

func TestTraces(t *testing.T) {
	t.Parallel()
	now := time.Now()
	seed := devseed.Traces(now)
	want := map[string]map[string]int{ // tenant -> trace id -> spans
		"acme":   {devseed.AcmeCheckout: 9, devseed.AcmeLoginFail: 4, devseed.AcmeBatch: 300, devseed.AcmeMisrouted: 2, devseed.AcmeMixed: 2},
		"globex": {devseed.GlobexReport: 6},
	}
	for tenant, ids := range want {
		got := map[string]int{}
		for _, td := range seed[tenant] {
			rss := td.ResourceSpans()
			for i := range rss.Len() {
				spans := rss.At(i).ScopeSpans().At(0).Spans()
				for j := range spans.Len() {
					s := spans.At(j)
					got[s.TraceID().String()]++
					if end := s.EndTimestamp().AsTime(); end.After(now) || end.Before(now.Add(-10*time.Minute)) {
						t.Errorf("span %s ends at %v, not just before now", s.Name(), end)
					}
				}
			}
		}
		for id, n := range ids {
			if got[id] != n {
				t.Errorf("%s %s: %d spans, want %d", tenant, id, got[id], n)
			}
		}
	}
	stamped, _ := seed["acme"][3].ResourceSpans().At(0).Resource().Attributes().Get(devseed.TenantAttribute)
	if stamped.Str() != "globex" {
		t.Errorf("the mis-routed trace is stamped %q, want globex", stamped.Str())
	}
	// The mixed trace: acme root resource, globex-stamped child resource with the secret.
	mixed := seed["acme"][4].ResourceSpans()
	if mixed.Len() != 2 {
		t.Fatalf("mixed trace has %d resources, want 2", mixed.Len())
	}
	for i, want := range []string{"acme", "globex"} {
		rs := mixed.At(i)
		got, _ := rs.Resource().Attributes().Get(devseed.TenantAttribute)
		sp := rs.ScopeSpans().At(0).Spans().At(0)
		if got.Str() != want || sp.TraceID().String() != devseed.AcmeMixed {
			t.Errorf("mixed resource %d: stamped %q in trace %s, want %q", i, got.Str(), sp.TraceID(), want)
		}
		secret, ok := sp.Attributes().Get("partner.secret")
		if ok != (want == "globex") || ok && secret.Str() != devseed.PartnerSecret {
			t.Errorf("mixed resource %d: partner.secret = %v %q", i, ok, secret.AsString())
		}
		if root := sp.ParentSpanID().IsEmpty(); root != (want == "acme") {
			t.Errorf("mixed resource %d: root = %v", i, root)
		}
	}
}
