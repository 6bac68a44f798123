package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// victimTenant owns the small trace of the fairness phase; the attacker is
// options.tenant, reading the peak-RSS phase's large trace.
const victimTenant = "globex"

// fairnessResult is what the fairness phase measured: the victim tenant's
// sequential reads of a small trace, idle and while the attacker tenant
// keeps stalled readers on its large trace.
type fairnessResult struct {
	bigBytes        int64 // the large trace's OTLP/JSON answer
	stalled         int   // stalled connections opened by the end of the attacked reads
	idle, attacked  sample
	attackedByCode  map[int]int
	writeTimeout    string
	conversionBytes string
}

// fairnessPhase runs a fresh tracegate (the defaults for the conversion
// budget and the write deadline, unless -env sets them) and measures the
// victim's reads of victimID for o.fairDuration, one every 50 ms, first
// idle, then while a stalled reader of bigID is added every 0.6 s (at most
// o.stalled): a connection with a 4 KiB receive buffer that requests the
// large trace and never reads. That is the attack of issue 12.
func fairnessPhase(ctx context.Context, o options, bin, dir string, env map[string]string, attackerToken, victimToken, bigID, victimID string) (fairnessResult, error) {
	tg, err := startTracegate(ctx, bin, dir, "tracegate-fairness", env)
	if err != nil {
		return fairnessResult{}, err
	}
	defer tg.stop()
	r := fairnessResult{attackedByCode: map[int]int{}, writeTimeout: "30s (default)", conversionBytes: "64 MiB (default)"}
	if v, ok := env["TRACEGATE_WRITE_TIMEOUT"]; ok {
		r.writeTimeout = v
	}
	if v, ok := env["TRACEGATE_MAX_CONVERSION_BYTES"]; ok {
		r.conversionBytes = v + " bytes"
	}
	attacker := &target{name: "attacker", client: newClient(1, false), header: http.Header{"Authorization": {"Bearer " + attackerToken}}}
	if r.bigBytes, err = fetch(ctx, attacker, tg.base+"/api/v1/traces/"+bigID); err != nil {
		return r, fmt.Errorf("the attacker's trace: %w", err)
	}
	victim := &target{name: "victim", client: newClient(1, o.gzip), header: http.Header{"Authorization": {"Bearer " + victimToken}}}
	url := tg.base + "/api/v1/traces/" + victimID
	progress(fmt.Sprintf("fairness: %s of idle reads of %s's small trace", o.fairDuration, victimTenant))
	r.idle = loadCodes(ctx, victim, url, o.fairDuration, map[int]int{})

	addr := strings.TrimPrefix(tg.base, "http://")
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()
	wg.Go(func() {
		tick := time.NewTicker(600 * time.Millisecond)
		defer tick.Stop()
		for {
			mu.Lock()
			n := len(conns)
			mu.Unlock()
			if n < o.stalled {
				if c, err := stalledReader(ctx, addr, "/api/v1/traces/"+bigID, attackerToken); err == nil {
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	// Let the first readers fill their buffers and stall.
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(1200 * time.Millisecond):
	}
	progress(fmt.Sprintf("fairness: %s of reads of %s's small trace while %s stalls readers", o.fairDuration, victimTenant, o.tenant))
	r.attacked = loadCodes(ctx, victim, url, o.fairDuration, r.attackedByCode)
	mu.Lock()
	r.stalled = len(conns)
	mu.Unlock()
	return r, nil
}

// stalledReader sends a request for path on a connection with a tiny
// receive buffer and never reads the answer.
func stalledReader(ctx context.Context, addr, path, token string) (net.Conn, error) {
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	req := "GET " + path + " HTTP/1.1\r\nHost: tracegate\r\nAuthorization: Bearer " + token + "\r\nAccept-Encoding: identity\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// loadCodes asks url one request at a time, 50 ms apart, for d, and counts
// the statuses.
func loadCodes(ctx context.Context, t *target, url string, d time.Duration, codes map[int]int) sample {
	var s sample
	begin := time.Now()
	for i := 0; time.Since(begin) < d && ctx.Err() == nil; i++ {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			s.failures++
			continue
		}
		for k, v := range t.header {
			req.Header[k] = v
		}
		t0 := time.Now()
		resp, err := t.client.Do(req)
		if err != nil {
			s.failures++
			codes[0]++
			if s.firstErr == nil {
				s.firstErr = err
			}
			continue
		}
		nb, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.lat = append(s.lat, time.Since(t0))
		s.requests++
		s.bytes += nb
		codes[resp.StatusCode]++
		if resp.StatusCode != http.StatusOK {
			s.failures++
			if s.firstErr == nil {
				s.firstErr = fmt.Errorf("victim: status %d", resp.StatusCode)
			}
		}
	}
	s.elapsed = time.Since(begin)
	return s
}

// renderFairness is the report's fairness section.
func renderFairness(f fairnessResult, o options) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	p("\n**Fairness** (fresh tracegate; conversion budget %s, write timeout %s): tenant %s opens a connection every 0.6 s (%d in all) that asks for its %d-span trace (%.1f MB of JSON) with a 4 KiB receive buffer and never reads; tenant %s reads its 10-span trace, one request every 50 ms for %s, idle and during the attack.\n\n",
		f.conversionBytes, f.writeTimeout, o.tenant, f.stalled, o.rssSpans, float64(f.bigBytes)/1e6, victimTenant, o.fairDuration)
	p("| %s's reads | requests | p50 ms | p99 ms | max ms | not 200 |\n|---|---:|---:|---:|---:|---:|\n", victimTenant)
	for _, row := range []struct {
		name string
		s    sample
	}{{"idle", f.idle}, {"under attack", f.attacked}} {
		p("| %s | %d | %s | %s | %s | %d |\n", row.name, row.s.requests, ms(percentile(row.s.lat, 0.5)), ms(percentile(row.s.lat, 0.99)), ms(percentile(row.s.lat, 1)), row.s.failures)
	}
	p("\nUnder attack, p99 under 1 s and no answer but 200: %s.\n", metOrMissed(percentile(f.attacked.lat, 0.99) < time.Second && f.attacked.failures == 0))
	return b.String()
}
