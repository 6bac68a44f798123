package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/standin"
)

// The leak suite: three tenants (and traces mis-routed between them) in the
// Tempo stand-in, many concurrent requests over every API route with real
// tokens, and not one response may contain another tenant's trace id, span
// id, service name or attribute value. TRACEGATE_LEAK_REQUESTS sets the
// number of requests (CI runs the default; `go tool task leak` runs more).

var leakTenants = []string{"acme", "globex", "initech"}

type leakWorld struct {
	markers map[string][]string // tenant -> strings that only that tenant may see
	own     map[string][]string // tenant -> trace ids readable by it
	mis     map[string][]string // tenant -> ids stored under it but stamped another tenant
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// leakTrace stores a 5-span trace in org, stamped as belonging to owner, and
// records its markers as owner's.
func (w *leakWorld) leakTrace(t *testing.T, st *standin.Server, org, owner, label string, now time.Time) string {
	t.Helper()
	td := ptrace.NewTraces()
	var tid pcommon.TraceID
	traceHex := randomHex(16)
	copy(tid[:], must(hexDecode(traceHex)))
	service := owner + "-svc-" + label
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	rs.Resource().Attributes().PutStr("tenant.id", owner)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	w.markers[owner] = append(w.markers[owner], traceHex, service)
	for i := range 5 {
		sp := spans.AppendEmpty()
		var sid pcommon.SpanID
		spanHex := randomHex(8)
		copy(sid[:], must(hexDecode(spanHex)))
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetName(owner + "-op-" + strconv.Itoa(i))
		start := now.Add(-time.Duration(i+1) * time.Second)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		secret := owner + "-secret-" + randomHex(4)
		sp.Attributes().PutStr("secret", secret)
		w.markers[owner] = append(w.markers[owner], spanHex, secret)
	}
	if err := st.Ingest(org, td); err != nil {
		t.Fatal(err)
	}
	return traceHex
}

func hexDecode(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	_, err := fmt.Sscanf(s, "%x", &b)
	return b, err
}

func TestLeakSuite(t *testing.T) {
	total := 2000
	if v := os.Getenv("TRACEGATE_LEAK_REQUESTS"); v != "" {
		total = must(strconv.Atoi(v))
	}
	const concurrency = 64

	st := standin.New(nil, standin.WithQueryEndCutoff(0))
	w := &leakWorld{markers: map[string][]string{}, own: map[string][]string{}, mis: map[string][]string{}}
	now := time.Now()
	for i, org := range leakTenants {
		for n := range 12 {
			w.own[org] = append(w.own[org], w.leakTrace(t, st, org, org, strconv.Itoa(n), now))
		}
		// Mis-routed: stored under org, but it is the next tenant's data.
		other := leakTenants[(i+1)%len(leakTenants)]
		for n := range 3 {
			w.mis[org] = append(w.mis[org], w.leakTrace(t, st, org, other, "misrouted-"+strconv.Itoa(n), now))
		}
	}
	tempoSrv := httptest.NewServer(st.Handler())
	t.Cleanup(tempoSrv.Close)

	iss, _ := devauth.NewIssuer("http://idp.test", "tracegate")
	jwks := httptest.NewServer(iss.JWKS())
	t.Cleanup(jwks.Close)
	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwks.URL,
		"TRACEGATE_JWT_ISSUER":       "http://idp.test",
		"TRACEGATE_JWT_AUDIENCE":     "tracegate",
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
		// This suite is about isolation, not limits: 64 clients on one address.
		"TRACEGATE_RATE_LIMIT_CLIENT_IP":   "0",
		"TRACEGATE_RATE_LIMIT_TENANT":      "0",
		"TRACEGATE_TENANT_MAX_CONCURRENCY": "0",
	})
	tokens := map[string]string{}
	for _, tn := range leakTenants {
		tokens[tn] = must(iss.Token("user@"+tn, time.Hour, map[string]any{"tenant_id": tn}))
	}

	// Each request kind returns a path for tenant tn; the status it must get.
	pick := func(s []string) string { return s[must(rand.Int(rand.Reader, big.NewInt(int64(len(s))))).Int64()] }
	foreign := func(tn string) string {
		for {
			if o := pick(leakTenants); o != tn {
				return o
			}
		}
	}
	kinds := []func(tn string) (string, int){
		func(tn string) (string, int) { return "/api/v1/traces/" + pick(w.own[tn]), 200 },
		func(tn string) (string, int) { return "/api/v1/traces/" + pick(w.own[foreign(tn)]), 404 },
		func(tn string) (string, int) { return "/api/v1/traces/" + pick(w.mis[tn]), 404 },
		func(string) (string, int) { return "/api/v1/traces?limit=100", 200 },
		func(string) (string, int) {
			return "/api/v1/traces?limit=100&spss=5&q=" + url.QueryEscape("{ } | select(span.secret)"), 200
		},
		func(tn string) (string, int) {
			return "/api/v1/traces?q=" + url.QueryEscape(`{ resource.service.name =~ "`+foreign(tn)+`-.*" } | select(span.secret)`), 200
		},
		func(string) (string, int) { return "/api/v1/tags", 200 },
		func(string) (string, int) { return "/api/v1/tags?scope=span", 200 },
		func(string) (string, int) { return "/api/v1/tags/resource.service.name/values", 200 },
		func(string) (string, int) { return "/api/v1/tags/span.secret/values", 200 },
		func(string) (string, int) { return "/api/v1/tags/resource.tenant.id/values", 200 },
		func(string) (string, int) { return "/api/v1/whoami", 200 },
	}

	var (
		next, ownSeen atomic.Int64
		mu            sync.Mutex
		failures      []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(total) && ctx.Err() == nil; i = next.Add(1) {
				tn := leakTenants[i%int64(len(leakTenants))]
				path, want := kinds[int(i/3)%len(kinds)](tn)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[tn])
				if i%7 == 0 { // a client's tenant header must change nothing
					req.Header.Set("X-Scope-OrgID", foreign(tn))
				}
				resp, err := client.Do(req)
				if err != nil {
					fail("%s %s: %v", tn, path, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					fail("%s %s: status %d, want %d: %.200s", tn, path, resp.StatusCode, want, body)
				}
				for o, ms := range w.markers {
					if o == tn {
						continue
					}
					for _, m := range ms {
						if strings.Contains(string(body), m) {
							fail("LEAK: %s %s shows %s's %q", tn, path, o, m)
						}
					}
				}
				for _, m := range w.markers[tn] {
					if strings.Contains(string(body), m) {
						ownSeen.Add(1)
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if ownSeen.Load() < int64(total)/4 {
		t.Errorf("only %d of %d responses showed the caller's own data: the suite would not see a leak", ownSeen.Load(), total)
	}
	t.Logf("%d requests at concurrency %d; %d showed own data; no foreign data", total, concurrency, ownSeen.Load())
}
