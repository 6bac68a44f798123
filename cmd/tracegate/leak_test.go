package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
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

	"github.com/tracegate/tracegate/internal/standin"
)

// The leak suite: three tenants in the Tempo stand-in, with traces
// mis-routed between them, traces that mix tenants, and resources whose
// tenant attribute is duplicated or an array; many concurrent requests over
// every API route with real tokens, and not one response may contain another
// tenant's trace id, span id, service name or attribute value. It runs in both
// attribute modes: Tempo tenants plus the attribute, and one shared Tempo
// tenant where the attribute is the only wall. TRACEGATE_LEAK_REQUESTS sets
// the number of requests per mode (CI runs the default; `go tool task leak`
// runs more).

var leakTenants = []string{"acme", "globex", "initech"}

type leakWorld struct {
	markers map[string][]string // tenant -> strings that only that tenant may see
	// nobody holds the markers of resources stamped ambiguously (the tenant
	// attribute twice, or an array): no trace read may show them. Search and
	// tag values cannot exclude them (Tempo matches any of the values): a
	// documented residue, so only trace-by-id answers are checked for them.
	nobody []string
	// shared holds strings two tenants may both see (the id of a trace that
	// mixes them), by string; a third tenant must not.
	shared map[string][2]string
	own    map[string][]string // tenant -> trace ids readable by it, whole
	mis    map[string][]string // tenant -> ids stored under it but stamped another tenant
	mixed  map[string][]string // tenant -> ids of traces with its root and another tenant's child
	odd    []string            // ids of traces with an ambiguously stamped resource only
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// leakResource is one resource of a leak-suite trace: its owner's markers, or
// nobody's when stamp is not a plain tenant (stamp is OTLP/JSON AnyValue
// text of the tenant attribute, repeated when dup is set).
type leakResource struct {
	owner string
	stamp string // OTLP/JSON AnyValue; "" = {"stringValue":owner}
	dup   string // a second tenant.id value, OTLP/JSON AnyValue
}

// leakTrace stores a trace of one resource per entry of res (5 spans each,
// the first resource's first span the root) in org, and records each
// resource's markers as its owner's (or nobody's).
func (w *leakWorld) leakTrace(t *testing.T, st *standin.Server, org, label string, now time.Time, res ...leakResource) string {
	t.Helper()
	traceHex := randomHex(16)
	var rss []string
	parent := ""
	for ri, r := range res {
		service := r.owner + "-svc-" + label + "-" + strconv.Itoa(ri)
		stamp := r.stamp
		if stamp == "" {
			stamp = `{"stringValue":"` + r.owner + `"}`
		}
		attrs := `{"key":"service.name","value":{"stringValue":"` + service + `"}},{"key":"tenant.id","value":` + stamp + `}`
		if r.dup != "" {
			attrs += `,{"key":"tenant.id","value":` + r.dup + `}`
		}
		ambiguous := r.stamp != "" || r.dup != ""
		mark := func(m string) {
			if ambiguous {
				w.nobody = append(w.nobody, m)
			} else {
				w.markers[r.owner] = append(w.markers[r.owner], m)
			}
		}
		if ri == 0 {
			if len(res) > 1 { // a mixed trace's id is both tenants'
				w.shared[traceHex] = [2]string{r.owner, res[1].owner}
			} else {
				mark(traceHex)
			}
		}
		mark(service)
		var spans []otlpSpan
		for i := range 5 {
			sp := otlpSpan{
				traceHex: traceHex, spanHex: randomHex(8), parentHex: parent, name: fmt.Sprintf("%s-op-%d", r.owner, i),
				start: now.Add(-time.Duration(10-i-ri) * time.Second),
				attrs: map[string]string{"secret": r.owner + "-secret-" + randomHex(4)},
			}
			mark(sp.spanHex)
			mark(sp.attrs["secret"])
			if i == 0 {
				parent = sp.spanHex
			}
			spans = append(spans, sp)
		}
		rss = append(rss, otlpResource("["+attrs+"]", spans...))
	}
	ingest(t, st, org, rss...)
	return traceHex
}

func TestLeakSuite(t *testing.T) {
	total := 2000
	if v := os.Getenv("TRACEGATE_LEAK_REQUESTS"); v != "" {
		total = must(strconv.Atoi(v))
	}
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "tempo tenants plus attribute", true: "shared tempo"}[shared]
		t.Run(name, func(t *testing.T) { leakSuite(t, shared, total) })
	}
}

func leakSuite(t *testing.T, shared bool, total int) {
	const concurrency = 64

	st := standin.New(nil, standin.WithQueryEndCutoff(0))
	w := &leakWorld{markers: map[string][]string{}, own: map[string][]string{}, mis: map[string][]string{}, mixed: map[string][]string{}, shared: map[string][2]string{}}
	now := time.Now()
	for i, org := range leakTenants {
		store := org
		if shared {
			store = "single-tenant"
		}
		for n := range 12 {
			w.own[org] = append(w.own[org], w.leakTrace(t, st, store, strconv.Itoa(n), now, leakResource{owner: org}))
		}
		// Mis-routed: stored under org, but it is the next tenant's data.
		other := leakTenants[(i+1)%len(leakTenants)]
		for n := range 3 {
			w.mis[org] = append(w.mis[org], w.leakTrace(t, st, store, "misrouted-"+strconv.Itoa(n), now, leakResource{owner: other}))
		}
		// Mixed: org's root calls a service of the next tenant.
		for n := range 3 {
			w.mixed[org] = append(w.mixed[org], w.leakTrace(t, st, store, "mixed-"+strconv.Itoa(n), now, leakResource{owner: org}, leakResource{owner: other}))
		}
		// Ambiguous stamps: the attribute twice, or as an array; Tempo's
		// filters match them for either tenant.
		w.odd = append(w.odd,
			w.leakTrace(t, st, store, "dup", now, leakResource{owner: org, dup: `{"stringValue":"` + other + `"}`}),
			w.leakTrace(t, st, store, "dup-rev", now, leakResource{owner: other, stamp: `{"stringValue":"` + other + `"}`, dup: `{"stringValue":"` + org + `"}`}),
			w.leakTrace(t, st, store, "array", now, leakResource{owner: org, stamp: `{"arrayValue":{"values":[{"stringValue":"` + org + `"}]}}`}))
	}
	tempoSrv := httptest.NewServer(st.Handler())
	t.Cleanup(tempoSrv.Close)

	iss, jwksURL := newIssuer(t)
	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwksURL,
		"TRACEGATE_JWT_ISSUER":       "http://idp.test",
		"TRACEGATE_JWT_AUDIENCE":     "tracegate",
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
		"TRACEGATE_TEMPO_TENANT":     map[bool]string{true: "single-tenant"}[shared],
		// This suite is about isolation, not limits or latency: 64 clients on
		// one address, and a race-instrumented stand-in on a busy CI machine
		// may take longer than the default 10 s to answer a search.
		"TRACEGATE_TEMPO_TIMEOUT":          "2m",
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
	// A trace that mixes tenants is an alarm (404) when Tempo tenants
	// isolate, and shows its owner's part in a shared Tempo.
	mixedStatus := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[shared]
	secretOf := func(tn string) string { return `"` + tn + `-secret-.*"` }
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
		func(tn string) (string, int) { return "/api/v1/traces/" + pick(w.mixed[tn]), mixedStatus },
		func(tn string) (string, int) { return "/api/v1/traces/" + pick(w.odd), 404 },
		func(tn string) (string, int) {
			return "/api/v1/traces?spss=10&q=" + url.QueryEscape(`{ span.secret =~ `+secretOf(foreign(tn))+` } < { } | select(span.secret)`), 200
		},
		func(tn string) (string, int) {
			return "/api/v1/traces?spss=10&q=" + url.QueryEscape(`{ span.secret =~ `+secretOf(foreign(tn))+` } || { } | select(span.secret, resource.service.name)`), 200
		},
		func(tn string) (string, int) {
			return "/api/v1/traces?limit=1&q=" + url.QueryEscape(`{ span.secret =~ `+secretOf(foreign(tn))+` } || { resource.tenant.id = "`+tn+`" } //`), 200
		},
		func(string) (string, int) { return "/api/v1/tags?scope=intrinsic", 200 },
		func(string) (string, int) { return "/api/v1/tags/trace:rootService/values", 400 },
		func(tn string) (string, int) {
			return "/api/v1/tags/span.secret/values?q=" + url.QueryEscape(`{ resource.service.name =~ "`+foreign(tn)+`-.*" }`), 200
		},
		// The Tempo-compatible mount, in Tempo's formats (a "#pb" suffix asks
		// for protobuf). A v2 trace that is missing or foreign is Tempo's
		// empty 200.
		func(tn string) (string, int) { return "/tempo/api/v2/traces/" + pick(w.own[tn]), 200 },
		func(tn string) (string, int) { return "/tempo/api/traces/" + pick(w.own[tn]) + "#pb", 200 },
		func(tn string) (string, int) { return "/tempo/api/v2/traces/" + pick(w.own[foreign(tn)]) + "#pb", 200 },
		func(tn string) (string, int) { return "/tempo/api/traces/" + pick(w.own[foreign(tn)]), 404 },
		func(tn string) (string, int) { return "/tempo/api/traces/" + pick(w.mis[tn]), 404 },
		func(tn string) (string, int) { return "/tempo/api/v2/traces/" + pick(w.mixed[tn]), 200 },
		func(tn string) (string, int) { return "/tempo/api/traces/" + pick(w.odd) + "#pb", 404 },
		func(string) (string, int) { return "/tempo/api/search?limit=100&spss=5", 200 },
		func(tn string) (string, int) {
			return "/tempo/api/search?spss=10&q=" + url.QueryEscape(`{ span.secret =~ `+secretOf(foreign(tn))+` } || { } | select(span.secret)`), 200
		},
		func(tn string) (string, int) {
			return "/tempo/api/search?tags=" + url.QueryEscape("secret="+foreign(tn)+"-secret"), 200
		},
		func(string) (string, int) { return "/tempo/api/search/tags", 200 },
		func(string) (string, int) { return "/tempo/api/v2/search/tags?scope=span", 200 },
		func(string) (string, int) { return "/tempo/api/search/tag/service.name/values", 200 },
		func(string) (string, int) { return "/tempo/api/search/tag/secret/values", 200 },
		func(tn string) (string, int) {
			return "/tempo/api/v2/search/tag/span.secret/values?q=" + url.QueryEscape(`{ resource.service.name =~ "`+foreign(tn)+`-.*" }`), 200
		},
		func(string) (string, int) {
			return "/tempo/api/metrics/query?q=" + url.QueryEscape(`{ } | count_over_time() by (span.secret)`), 200
		},
		func(tn string) (string, int) {
			return "/tempo/api/metrics/query_range?step=60s&q=" + url.QueryEscape(`{ resource.service.name =~ "`+foreign(tn)+`-.*" || name =~ ".*-op-0" } | rate() by (resource.service.name)`), 200
		},
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
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 3 * time.Minute}
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(total) && ctx.Err() == nil; i = next.Add(1) {
				tn := leakTenants[i%int64(len(leakTenants))]
				path, want := kinds[int(i/3)%len(kinds)](tn)
				path, pb := strings.CutSuffix(path, "#pb")
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[tn])
				if pb {
					req.Header.Set("Accept", "application/protobuf")
				}
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
				if strings.HasPrefix(path, "/api/v1/traces/") || strings.Contains(path, "/traces/") && strings.HasPrefix(path, "/tempo/") {
					for _, m := range w.nobody {
						if leakIn(body, m) {
							fail("LEAK: %s %s shows an ambiguously stamped resource's %q", tn, path, m)
						}
					}
				}
				for m, allowed := range w.shared {
					if tn != allowed[0] && tn != allowed[1] && leakIn(body, m) {
						fail("LEAK: %s %s shows the id of a trace of %s and %s", tn, path, allowed[0], allowed[1])
					}
				}
				for o, ms := range w.markers {
					if o == tn {
						continue
					}
					for _, m := range ms {
						if leakIn(body, m) {
							fail("LEAK: %s %s shows %s's %q", tn, path, o, m)
						}
					}
				}
				for _, m := range w.markers[tn] {
					if leakIn(body, m) {
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

// leakIn reports whether body shows marker m in any form an answer can take:
// as written, and for a trace or span id also as Tempo writes ids (search:
// hex without leading zeros; gogo jsonpb traces: base64; protobuf: bytes).
func leakIn(body []byte, m string) bool {
	if bytes.Contains(body, []byte(m)) {
		return true
	}
	if len(m) != 32 && len(m) != 16 {
		return false
	}
	raw, err := hex.DecodeString(m)
	if err != nil {
		return false
	}
	return bytes.Contains(body, []byte(strings.TrimLeft(m, "0"))) ||
		bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(raw))) ||
		bytes.Contains(body, raw)
}
