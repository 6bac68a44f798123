// Command bench measures tracegate against the floor any gateway in front of
// Tempo has to beat, in one run, on one machine:
//
//	upstream   Tempo (the in-memory stand-in) asked directly for its JSON v2 trace
//	proxy      a plain httputil.ReverseProxy in front of it (what a naive proxy serves)
//	tracegate  the real binary (`tracegate serve`, built from this checkout),
//	           configured by TRACEGATE_* variables: a real ES256 token (devauth;
//	           one token repeated, as a browser session does), the tenant
//	           attribute check on, protobuf from Tempo re-encoded as OTLP/JSON
//
// The stand-in (internal/standin) holds one synthetic trace per size, all of
// one tenant. For each size the three targets run interleaved, in rounds (the
// order rotating each round), so machine noise hits all three alike. Then a
// fresh tracegate serves 32 concurrent 20,000-span requests for its peak RSS.
// docs/performance.md explains every column and has the results.
//
// Run it from the module root:
//
//	go run ./bench                      # 10, 1000 and 20000 spans, about 2 minutes
//	go run ./bench -smoke               # 10 spans, a few requests, seconds (CI)
//	go run ./bench -out bench.md -perf /tmp/tracegate.perf
//
// It exits non-zero when a request fails (or setup does), never because of a
// timing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/standin"
)

const (
	issuerURL = "https://idp.bench.test/"
	audience  = "tracegate"
)

type options struct {
	sizes        []int
	concurrency  int
	duration     time.Duration
	requests     int
	rounds       int
	rssSpans     int
	rssConc      int
	rssRequests  int
	tenant       string
	out          string
	perf         string
	gzip         bool
	tunedProxy   bool
	env          map[string]string
	smoke        bool
	fairness     bool
	stalled      int
	fairDuration time.Duration
	baseline     string
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&sizes, "sizes", "10,1000,20000", "trace sizes in spans, comma-separated")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent requests per target")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per target and size (split over -rounds)")
	flag.IntVar(&o.requests, "requests", 0, "requests per target and size instead of -duration (split over -rounds; -duration stays a cap)")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds per size")
	flag.IntVar(&o.rssSpans, "rss-spans", 20000, "trace size of the peak-RSS phase")
	flag.IntVar(&o.rssConc, "rss-concurrency", 32, "concurrent requests of the peak-RSS phase")
	flag.IntVar(&o.rssRequests, "rss-requests", 3, "requests per worker of the peak-RSS phase")
	flag.StringVar(&o.tenant, "tenant", "acme", "tenant of the traces and the token")
	flag.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&o.perf, "perf", "", "record a CPU profile of tracegate with Linux perf into this file (perturbs timings)")
	flag.BoolVar(&o.gzip, "gzip", false, "clients accept gzip (as browsers do); default identity")
	flag.BoolVar(&o.tunedProxy, "tuned-proxy", false, "give the proxy a pooled transport that asks Tempo for identity (default: Go's default transport, as tracegate's: 2 idle connections per host, gzip)")
	var env string
	flag.StringVar(&env, "env", "", "extra environment of tracegate only, comma-separated KEY=VALUE (e.g. GOMEMLIMIT=400MiB,TRACEGATE_TENANT_MAX_CONCURRENCY=16)")
	flag.StringVar(&o.baseline, "baseline", "", "also build tracegate from this git ref (e.g. main, HEAD~3) and measure it in the same interleaved rounds")
	flag.BoolVar(&o.smoke, "smoke", false, "10 spans, few requests, seconds: checks that everything answers")
	flag.BoolVar(&o.fairness, "fairness", true, "run the fairness phase: another tenant's reads while one tenant stalls readers of its -rss-spans trace")
	flag.IntVar(&o.stalled, "stalled", 40, "most stalled readers the fairness phase opens (one every 0.6 s)")
	flag.DurationVar(&o.fairDuration, "fairness-duration", 20*time.Second, "how long the victim reads in each fairness measurement (idle, under attack)")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		if strings.TrimSpace(s) == "" {
			continue // -sizes= runs only the peak-RSS phase
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad size %q\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	o.env = map[string]string{}
	for _, kv := range strings.Split(env, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			o.env[strings.TrimSpace(k)] = v
		} else if strings.TrimSpace(kv) != "" {
			fmt.Fprintf(os.Stderr, "bench: -env: %q is not KEY=VALUE\n", kv)
			os.Exit(2)
		}
	}
	if o.smoke {
		o.sizes, o.rounds, o.requests, o.duration = []int{10}, 2, 40, 5*time.Second
		o.rssSpans, o.rssRequests = 10, 1
		o.stalled, o.fairDuration = 2, time.Second
	}
	o.rounds = max(o.rounds, 1)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, o)
	if report != "" {
		fmt.Print(report)
		if o.out != "" {
			if werr := os.WriteFile(o.out, []byte(report), 0o644); werr != nil { //nolint:gosec // G306: a report for people to read
				fmt.Fprintln(os.Stderr, "bench:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result accumulates one target's measurements at one size.
type result struct {
	sample
	cpu, benchCPU time.Duration // the target's process / this process
	mallocs       float64       // tracegate only
	upstreamConns int64         // connections the stand-in accepted
}

func (r *result) perReq(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000 / float64(r.requests)
}

func run(ctx context.Context, o options) (string, error) {
	dir, err := os.MkdirTemp("", "tracegate-bench-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	progress("building tracegate")
	bin, err := buildTracegate(ctx, dir)
	if err != nil {
		return "", err
	}
	baseBin := ""
	if o.baseline != "" {
		progress("building tracegate at " + o.baseline)
		if baseBin, err = buildBaseline(ctx, dir, o.baseline); err != nil {
			return "", err
		}
	}

	// Upstream: the stand-in with one synthetic trace per size.
	progress("generating traces")
	tempo := standin.New(nil)
	ids := map[int]string{}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: reproducible synthetic data
	for _, n := range append([]int{o.rssSpans}, o.sizes...) {
		if _, ok := ids[n]; ok {
			continue
		}
		tid, td := synthTrace(rng, n, o.tenant)
		if err := tempo.Ingest(o.tenant, td); err != nil {
			return "", err
		}
		ids[n] = tid.String()
	}
	victimID, victimTrace := synthTrace(rng, 10, victimTenant)
	if err := tempo.Ingest(victimTenant, victimTrace); err != nil {
		return "", err
	}
	var upstreamConns atomic.Int64
	upstreamURL, stopUpstream, err := serve(ctx, tempo.Handler(), func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			upstreamConns.Add(1)
		}
	})
	if err != nil {
		return "", err
	}
	defer stopUpstream()

	// Proxy: a plain ReverseProxy (default transport), setting only the tenant.
	up, _ := url.Parse(upstreamURL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(up)
		pr.Out.Header.Set("X-Scope-OrgID", o.tenant)
	}}
	if o.tunedProxy {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 4 * max(o.concurrency, o.rssConc)
		tr.DisableCompression = true
		proxy.Transport = tr
	}
	proxyURL, stopProxy, err := serve(ctx, proxy, nil)
	if err != nil {
		return "", err
	}
	defer stopProxy()

	// Identity provider: a devauth issuer's JWKS, served from here.
	iss, err := devauth.NewIssuer(issuerURL, audience)
	if err != nil {
		return "", err
	}
	jwks := httptest.NewServer(iss.JWKS())
	defer jwks.Close()
	token, err := iss.Token("bench", 6*time.Hour, map[string]any{"tenant_id": o.tenant})
	if err != nil {
		return "", err
	}
	env := map[string]string{
		"TRACEGATE_TEMPO_URL":        upstreamURL,
		"TRACEGATE_JWKS_URL":         jwks.URL,
		"TRACEGATE_JWT_ISSUER":       issuerURL,
		"TRACEGATE_JWT_AUDIENCE":     audience,
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
		// One client address and one tenant generate all the load: the
		// per-replica limits would answer most of it 429.
		"TRACEGATE_RATE_LIMIT_CLIENT_IP":   "0",
		"TRACEGATE_RATE_LIMIT_TENANT":      "0",
		"TRACEGATE_TENANT_MAX_CONCURRENCY": "0",
	}
	for k, v := range o.env {
		env[k] = v
	}

	progress("starting tracegate")
	tg, err := startTracegate(ctx, bin, dir, "tracegate", env)
	if err != nil {
		return "", err
	}
	defer tg.stop()

	targets := []*target{
		{name: "upstream", cpuPID: "self", client: newClient(o.concurrency, o.gzip),
			header: http.Header{"X-Scope-Orgid": {o.tenant}},
			url:    func(id string) string { return upstreamURL + "/api/v2/traces/" + id }},
		{name: "proxy", cpuPID: "self", client: newClient(o.concurrency, o.gzip),
			url: func(id string) string { return proxyURL + "/api/v2/traces/" + id }},
		{name: "tracegate", cpuPID: tg.pid, tg: tg, client: newClient(o.concurrency, o.gzip),
			header: http.Header{"Authorization": {"Bearer " + token}},
			url:    func(id string) string { return tg.base + "/api/v1/traces/" + id }},
	}
	if err := validate(ctx, targets[2], ids, o.sizes); err != nil {
		return "", err
	}
	if baseBin != "" {
		old, err := startTracegate(ctx, baseBin, dir, "tracegate-baseline", env)
		if err != nil {
			return "", err
		}
		defer old.stop()
		targets = append(targets,
			&target{name: "upstream protobuf", cpuPID: "self", client: newClient(o.concurrency, o.gzip),
				header: http.Header{"X-Scope-Orgid": {o.tenant}, "Accept": {"application/protobuf"}},
				url:    func(id string) string { return upstreamURL + "/api/v2/traces/" + id }},
			&target{name: "tracegate " + o.baseline, cpuPID: old.pid, tg: old, client: newClient(o.concurrency, o.gzip),
				header: http.Header{"Authorization": {"Bearer " + token}},
				url:    func(id string) string { return old.base + "/api/v1/traces/" + id }})
		if err := validate(ctx, targets[4], ids, o.sizes); err != nil {
			return "", err
		}
	}
	scrape, err := tg.scrapeCost(ctx)
	if err != nil {
		return "", err
	}
	if o.perf != "" {
		if err := tg.startPerf(ctx, o.perf); err != nil {
			return "", err
		}
	}

	results := map[int][]*result{}
	for _, n := range o.sizes {
		rs := make([]*result, len(targets))
		for i, t := range targets {
			rs[i] = &result{}
			progress(fmt.Sprintf("%d spans: warming up %s", n, t.name))
			if w := load(ctx, t, t.url(ids[n]), o.concurrency, time.Minute, 2*o.concurrency); w.failures > 0 {
				return "", fmt.Errorf("%d spans, %s: %d of %d warm-up requests failed: %w", n, t.name, w.failures, w.requests, w.firstErr)
			}
		}
		perRound := 0
		if o.requests > 0 {
			perRound = max(o.requests/o.rounds, 1)
		}
		for r := range o.rounds {
			for j := range targets {
				i := (j + r) % len(targets)
				t, res := targets[i], rs[i]
				progress(fmt.Sprintf("%d spans: round %d/%d, %s", n, r+1, o.rounds, t.name))
				var m0 float64
				if t.tg != nil {
					if m0, err = t.tg.mallocs(ctx); err != nil {
						return "", err
					}
				}
				c0, err1 := cpuTime(t.cpuPID)
				b0, err2 := cpuTime("self")
				u0 := upstreamConns.Load()
				s := load(ctx, t, t.url(ids[n]), o.concurrency, o.duration/time.Duration(o.rounds), perRound)
				c1, err3 := cpuTime(t.cpuPID)
				b1, err4 := cpuTime("self")
				if err := errors.Join(err1, err2, err3, err4); err != nil {
					return "", err
				}
				res.upstreamConns += upstreamConns.Load() - u0
				res.cpu += c1 - c0
				res.benchCPU += b1 - b0
				if t.tg != nil {
					m1, err := t.tg.mallocs(ctx)
					if err != nil {
						return "", err
					}
					res.mallocs += m1 - m0 - scrape
				}
				res.add(s)
				if ctx.Err() != nil {
					return "", ctx.Err()
				}
			}
		}
		results[n] = rs
	}
	tg.stopPerf()

	progress(fmt.Sprintf("peak RSS: fresh tracegate, %d concurrent %d-span requests", o.rssConc, o.rssSpans))
	rss, err := rssPhase(ctx, o, bin, dir, env, token, ids[o.rssSpans])
	if err != nil {
		return "", err
	}
	var baseRSS *rssResult
	if baseBin != "" {
		progress("peak RSS: fresh tracegate " + o.baseline)
		r, err := rssPhase(ctx, o, baseBin, dir, env, token, ids[o.rssSpans])
		if err != nil {
			return "", err
		}
		baseRSS = &r
	}
	pbBytes, err := protobufSize(ctx, upstreamURL, o.tenant, ids[o.rssSpans])
	if err != nil {
		return "", err
	}

	var fair fairnessResult
	if o.fairness {
		victimToken, err := iss.Token("victim", 6*time.Hour, map[string]any{"tenant_id": victimTenant})
		if err != nil {
			return "", err
		}
		progress(fmt.Sprintf("fairness: fresh tracegate, %s stalls readers of its %d-span trace", o.tenant, o.rssSpans))
		if fair, err = fairnessPhase(ctx, o, bin, dir, env, token, victimToken, ids[o.rssSpans], victimID.String()); err != nil {
			return "", err
		}
	}

	report := render(o, targets, results, rss) + renderBaseline(o, targets, results, baseRSS, rss, pbBytes)
	if o.fairness {
		report += renderFairness(fair, o)
	}
	var failed []string
	for _, n := range o.sizes {
		for i, r := range results[n] {
			if r.failures > 0 {
				failed = append(failed, fmt.Sprintf("%d spans, %s: %d of %d requests failed (first: %v)", n, targets[i].name, r.failures, r.requests, r.firstErr))
			}
		}
	}
	if rss.failures > 0 {
		failed = append(failed, fmt.Sprintf("peak-RSS phase: %d of %d requests failed (first: %v)", rss.failures, rss.requests, rss.firstErr))
	}
	if o.fairness && fair.idle.failures+fair.attacked.failures > 0 {
		failed = append(failed, fmt.Sprintf("fairness phase: %d idle and %d attacked requests of %s failed (%v; first: %v)",
			fair.idle.failures, fair.attacked.failures, victimTenant, fair.attackedByCode, errors.Join(fair.idle.firstErr, fair.attacked.firstErr)))
	}
	if len(failed) > 0 {
		return report, errors.New(strings.Join(failed, "; "))
	}
	return report, nil
}

// validate checks once per size that tracegate returns the whole trace.
func validate(ctx context.Context, t *target, ids map[int]string, sizes []int) error {
	for _, n := range sizes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(ids[n]), nil)
		if err != nil {
			return err
		}
		for k, v := range t.header {
			req.Header[k] = v
		}
		resp, err := t.client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("tracegate answered %d for the %d-span trace: %.300s", resp.StatusCode, n, body)
		}
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			return fmt.Errorf("tracegate's answer for %d spans: %w", n, err)
		}
		if got := td.SpanCount(); got != n {
			return fmt.Errorf("tracegate returned %d spans of the %d-span trace", got, n)
		}
	}
	return nil
}

type rssResult struct {
	sample
	idleKB, peakKB, afterKB int64
}

// rssPhase runs a fresh tracegate through concurrency × requests requests for
// the trace id and reports its VmHWM.
func rssPhase(ctx context.Context, o options, bin, dir string, env map[string]string, token, id string) (rssResult, error) {
	tg, err := startTracegate(ctx, bin, dir, "tracegate-rss", env)
	if err != nil {
		return rssResult{}, err
	}
	defer tg.stop()
	var r rssResult
	if r.idleKB, err = statusKB(tg.pid, "VmHWM"); err != nil {
		return r, err
	}
	t := &target{name: "tracegate", client: newClient(o.rssConc, o.gzip),
		header: http.Header{"Authorization": {"Bearer " + token}}}
	r.sample = load(ctx, t, tg.base+"/api/v1/traces/"+id, o.rssConc, 10*time.Minute, o.rssConc*o.rssRequests)
	if r.peakKB, err = statusKB(tg.pid, "VmHWM"); err != nil {
		return r, err
	}
	if r.afterKB, err = statusKB(tg.pid, "VmRSS"); err != nil {
		return r, err
	}
	return r, nil
}

// serve serves h on a fresh loopback port.
func serve(ctx context.Context, h http.Handler, connState func(net.Conn, http.ConnState)) (string, func(), error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ConnState: connState, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func progress(msg string) { fmt.Fprintf(os.Stderr, "bench: %s\n", msg) }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func render(o options, targets []*target, results map[int][]*result, rss rssResult) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

	p("## tracegate benchmark\n\n")
	p("%s · %d CPUs (%s) · %s · concurrency %d · %d interleaved rounds per size · ", time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		runtime.NumCPU(), cpuModel(), runtime.Version(), o.concurrency, o.rounds)
	if o.requests > 0 {
		p("%d requests per target and size", o.requests)
	} else {
		p("%s per target and size", o.duration)
	}
	p(" · client Accept-Encoding: %s", map[bool]string{true: "gzip", false: "identity"}[o.gzip])
	if o.perf != "" {
		p(" · **perf was recording tracegate: timings perturbed**")
	}
	if o.tunedProxy {
		p(" · **tuned proxy** (pooled connections, identity from Tempo)")
	}
	p(" · tracegate rate and concurrency limits off unless set below")
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=") || strings.HasPrefix(kv, "GOMAXPROCS=") {
			p(" · `%s` (environment of both processes)", kv)
		}
	}
	for k, v := range o.env {
		p(" · `%s=%s` (tracegate only)", k, v)
	}
	p("\n\n")

	if len(o.sizes) > 0 {
		p("| spans | target | requests | p50 ms | p99 ms | req/s | body KiB | tracegate CPU ms/req | bench-process CPU ms/req | allocs/req | upstream conns/req |\n")
		p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, n := range o.sizes {
			for i, r := range results[n] {
				tgCPU, allocs := "", ""
				if targets[i].tg != nil {
					tgCPU = fmt.Sprintf("%.3f", r.perReq(r.cpu))
					allocs = fmt.Sprintf("%.0f", r.mallocs/float64(r.requests))
				}
				p("| %d | %s | %d | %s | %s | %.1f | %.1f | %s | %.3f | %s | %.3f |\n", n, targets[i].name, r.requests,
					ms(percentile(r.lat, 0.50)), ms(percentile(r.lat, 0.99)), r.rps(), float64(r.bytes)/float64(r.requests)/1024,
					tgCPU, r.perReq(r.benchCPU), allocs, float64(r.upstreamConns)/float64(r.requests))
			}
		}
		proxyGets, conns := "gzipped JSON to the proxy", "Go's default transport, used by the proxy, keeps 2 idle connections per host; tracegate's keeps 100"
		if o.tunedProxy {
			proxyGets, conns = "identity JSON to the tuned proxy", "the tuned proxy's and tracegate's transports keep enough idle connections"
		}
		p("\nCPU per request is the time on a CPU of all the process's threads (/proc/<pid>/task/*/schedstat, nanoseconds) over the target's slices, divided by its requests. ")
		p("*tracegate CPU*: the tracegate process alone. *bench-process CPU*: this process: the load generator, the Tempo stand-in ")
		p("and, in proxy rows, the ReverseProxy. The stand-in answers identity JSON to the upstream rows, %s and identity protobuf to tracegate ", proxyGets)
		p("(Go's default transport asks for gzip by itself and the stand-in, like Tempo, compresses answers of 1 KiB or more; tracegate asks for identity unless TRACEGATE_TEMPO_COMPRESSION is set). ")
		p("The proxy's own cost is about its row minus the upstream row (which then includes the stand-in's gzip work). ")
		p("*allocs/req*: delta of tracegate's go_memstats_mallocs_total (minus one /metrics scrape) per request. ")
		p("*upstream conns/req*: TCP connections the stand-in accepted per request (%s).\n\n", conns)

		p("| spans | p50 tracegate/proxy | req/s tracegate/proxy | target | proxy own CPU ms/req (≈) | tracegate CPU ms/req | allocs/span |\n")
		p("|---:|---:|---:|---|---:|---:|---:|\n")
		var xs, ys []float64
		for _, n := range o.sizes {
			up, px, tg := results[n][0], results[n][1], results[n][2]
			p50 := float64(percentile(tg.lat, 0.5)) / float64(percentile(px.lat, 0.5))
			rps := tg.rps() / px.rps()
			allocs := tg.mallocs / float64(tg.requests)
			xs, ys = append(xs, float64(n)), append(ys, allocs)
			p("| %d | %.2f× | %.2f× | %s | %.3f | %.3f | %.1f |\n", n, p50, rps, verdict(n, p50, rps),
				px.perReq(px.benchCPU)-up.perReq(up.benchCPU), tg.perReq(tg.cpu), allocs/float64(n))
		}
		if len(xs) >= 2 {
			a, slope := fit(xs, ys)
			p("\nAllocations per request ≈ %.0f + %.1f × spans (least squares over the sizes above).\n", a, slope)
		}

	}
	rssVerdict := metOrMissed(rss.peakKB <= 512*1024)
	if o.rssSpans != 20000 || o.rssConc != 32 {
		rssVerdict = "n/a (the target is for 32 × 20,000 spans)"
	}
	p("\n**Peak RSS** (fresh tracegate, %d concurrent requests for the %d-span trace, %d requests in all): ", o.rssConc, o.rssSpans, rss.requests)
	p("VmHWM %.1f MiB (%.1f MiB idle before the load), VmRSS after %.1f MiB; p50 %s ms, p99 %s ms, %.1f req/s. Target ≤ 512 MiB: %s.\n",
		float64(rss.peakKB)/1024, float64(rss.idleKB)/1024, float64(rss.afterKB)/1024,
		ms(percentile(rss.lat, 0.5)), ms(percentile(rss.lat, 0.99)), rss.rps(), rssVerdict)
	return b.String()
}

// verdict checks the p50 and throughput targets for the sizes it names.
func verdict(n int, p50, rps float64) string {
	switch n {
	case 20000:
		return "p50 ≤ 2.0×: " + metOrMissed(p50 <= 2.0)
	case 1000:
		return "p50 ≤ 1.5×: " + metOrMissed(p50 <= 1.5)
	case 10:
		return "p50 ≤ 1.2× and req/s ≥ 0.8×: " + metOrMissed(p50 <= 1.2 && rps >= 0.8)
	}
	return "–"
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// fit returns the least-squares line y = a + b·x.
func fit(xs, ys []float64) (a, b float64) {
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	n := float64(len(xs))
	b = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return (sy - b*sx) / n, b
}

// protobufSize returns the size of the upstream's protobuf answer for id
// (identity encoding).
func protobufSize(ctx context.Context, upstreamURL, tenant, id string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstreamURL+"/api/v2/traces/"+id, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Scope-OrgID", tenant)
	req.Header.Set("Accept", "application/protobuf")
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// renderBaseline compares tracegate with the baseline build (-baseline):
// what each adds to the upstream's protobuf answer, and its own CPU.
func renderBaseline(o options, targets []*target, results map[int][]*result, baseRSS *rssResult, rss rssResult, pbBytes int64) string {
	if o.baseline == "" {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p("\n### Against tracegate %s (same interleaved rounds)\n\n", o.baseline)
	p("| spans | upstream protobuf p50 ms | added p50 ms: new | added p50 ms: %s | new/old added p50 | CPU ms/req: new | CPU ms/req: %s | new/old CPU | allocs/span: new | allocs/span: %s | target |\n", o.baseline, o.baseline, o.baseline)
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, n := range o.sizes {
		pb, tg, old := results[n][3], results[n][2], results[n][4]
		floor := ms(percentile(pb.lat, 0.5))
		addNew, addOld := ms(percentile(tg.lat, 0.5))-floor, ms(percentile(old.lat, 0.5))-floor
		cpuNew, cpuOld := tg.perReq(tg.cpu), old.perReq(old.cpu)
		want, limit := "≤ 1/3 of the old", 1.0/3
		if n <= 10 {
			want, limit = "≤ 1.05× the old", 1.05
		}
		p("| %d | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f | %.2f | %.2f | %.2f | %s: %s |\n", n, floor, addNew, addOld, addNew/addOld,
			cpuNew, cpuOld, cpuNew/cpuOld, tg.mallocs/float64(tg.requests)/float64(n), old.mallocs/float64(old.requests)/float64(n),
			want, metOrMissed(cpuNew/cpuOld <= limit && addNew/addOld <= limit))
	}
	_ = targets
	if baseRSS != nil {
		p("\n**Peak RSS of %s** (same phase): VmHWM %.1f MiB (%.1f MiB idle). ", o.baseline, float64(baseRSS.peakKB)/1024, float64(baseRSS.idleKB)/1024)
	}
	bound := 2*float64(int64(o.rssConc)*pbBytes)/1024 + float64(rss.idleKB)
	p("The %d concurrent requests' protobuf bodies (%.1f KiB each): %.1f MiB; target for the new build: VmHWM ≤ 2× that + idle = %.1f MiB: %s.\n",
		o.rssConc, float64(pbBytes)/1024, float64(int64(o.rssConc)*pbBytes)/1024/1024, bound/1024, metOrMissed(float64(rss.peakKB) <= bound))
	return b.String()
}
