package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracegate/tracegate/internal/standin"
)

// ingestBig stores a trace of about n KiB in protobuf in st as org: n
// spans, each with a 1 KiB attribute.
func ingestBig(t testing.TB, st *standin.Server, org, traceHex string, n int) {
	t.Helper()
	filler := strings.Repeat("x", 1000)
	start := time.Now().Add(-time.Second)
	spans := make([]otlpSpan, n)
	for i := range spans {
		spanHex := hex.EncodeToString(fmt.Appendf(nil, "%08d", i))
		spans[i] = otlpSpan{traceHex: traceHex, spanHex: spanHex, name: fmt.Sprintf("op-%d", i), start: start, attrs: map[string]string{"payload": filler}}
	}
	ingest(t, st, org, otlpResource(`[{"key":"service.name","value":{"stringValue":"bulk"}}]`, spans...))
}

// stalledRead sends a request for path on a connection with a tiny receive
// window and never reads the answer.
func stalledRead(t testing.TB, addr, path, token string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	req := "GET " + path + " HTTP/1.1\r\nHost: tracegate\r\nAuthorization: Bearer " + token +
		"\r\nAccept-Encoding: identity\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	return conn
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted ds.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TestStalledReadersDoNotStarveOtherTenants is the attack of issue 12
// through the binary: acme keeps several connections that request its
// multi-megabyte trace and never read the answer (a new one every 0.6 s),
// while globex reads its small trace. globex must never see a 504, and
// must stay fast (p99 under 1 s). With one first-come queue for the
// conversion budget (and no write deadline), acme's waiting requests held
// globex's behind them until (close to, or past) Tempo's timeout: 504.
func TestStalledReadersDoNotStarveOtherTenants(t *testing.T) {
	st := standin.New(nil)
	const bigID, smallID = "b16b16b16b16b16b16b16b16b16b16b1", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
	ingestBig(t, st, "acme", bigID, 4800)  // ~4.8 MB of protobuf
	ingestBig(t, st, "globex", smallID, 1) // ~1 KB
	tempoSrv := httptest.NewServer(st.Handler())
	t.Cleanup(tempoSrv.Close)
	iss, jwksURL := newIssuer(t)
	base, _ := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":          "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":            tempoSrv.URL,
		"TRACEGATE_JWKS_URL":             jwksURL,
		"TRACEGATE_JWT_ISSUER":           "http://idp.test",
		"TRACEGATE_JWT_AUDIENCE":         "tracegate",
		"TRACEGATE_TEMPO_TIMEOUT":        "3s",
		"TRACEGATE_RATE_LIMIT_CLIENT_IP": "0",
		"TRACEGATE_RATE_LIMIT_TENANT":    "0",
		"TRACEGATE_SHUTDOWN_TIMEOUT":     "2s",
		// The defaults otherwise: a 64 MiB budget, a 30 s write deadline
		// (longer than this test: the stalled readers hold on throughout).
	})
	acme := must(iss.Token("mallory", time.Hour, map[string]any{"tenant_id": "acme"}))
	globex := must(iss.Token("victim", time.Hour, map[string]any{"tenant_id": "globex"}))
	client := &http.Client{Timeout: 15 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	victim := func(n int, gap time.Duration) (lat []time.Duration, failures []string) {
		for range n {
			req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/traces/"+smallID, nil)
			req.Header.Set("Authorization", "Bearer "+globex)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				failures = append(failures, err.Error())
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				failures = append(failures, fmt.Sprintf("status %d after %v", resp.StatusCode, time.Since(start)))
			}
			time.Sleep(gap)
		}
		slices.Sort(lat)
		return lat, failures
	}

	// The big trace is readable by a client that reads.
	status, _, body := get(t, base+"/api/v1/traces/"+bigID, acme, map[string]string{"Accept-Encoding": "identity"})
	if status != http.StatusOK || len(body) < 5<<20 {
		t.Fatalf("acme's big trace: %d, %d bytes (want more than the socket buffers hold)", status, len(body))
	}
	idle, failures := victim(20, 20*time.Millisecond)
	if len(failures) > 0 {
		t.Fatalf("globex before the attack: %v", failures)
	}

	// The attack: a stalled reader every 0.6 s, at most 8, for the rest of
	// the test.
	addr := strings.TrimPrefix(base, "http://")
	var mu sync.Mutex
	var conns []net.Conn
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(600 * time.Millisecond)
		defer tick.Stop()
		for len(conns) < 8 {
			c := stalledRead(t, addr, "/api/v1/traces/"+bigID, acme)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	time.Sleep(1500 * time.Millisecond) // the first readers are stuck

	// Confirm the attack bites: acme's readers are stalled mid-body.
	mu.Lock()
	first := conns[0]
	mu.Unlock()
	_ = first.SetReadDeadline(time.Now().Add(time.Second))
	head, _ := bufio.NewReader(first).ReadString('\n')
	if !strings.HasPrefix(head, "HTTP/1.1 200") {
		t.Fatalf("the first stalled reader was answered %q", head)
	}

	attacked, failures := victim(40, 100*time.Millisecond)
	mu.Lock()
	stalled := len(conns)
	mu.Unlock()
	for _, f := range failures {
		t.Errorf("globex under attack: %s", f)
	}
	t.Logf("globex, idle: p50 %v p99 %v; while acme stalls %d readers: p50 %v p99 %v (n=%d)",
		percentile(idle, 50), percentile(idle, 99), stalled,
		percentile(attacked, 50), percentile(attacked, 99), len(attacked))
	// Issue 12's target; on the old single queue globex waited behind
	// acme's waiting requests until just before Tempo's timeout (p99 2.9 s).
	if p99 := percentile(attacked, 99); p99 > time.Second {
		t.Errorf("globex under attack: p99 %v, want under 1 s", p99)
	}
}

// A response its client does not read is cut off TRACEGATE_WRITE_TIMEOUT
// after its first byte, which frees the conversion memory it held: here
// acme's whole share, so that acme's next read had to wait for it.
func TestWriteDeadlineFreesAStalledResponse(t *testing.T) {
	st := standin.New(nil)
	const bigID = "b16b16b16b16b16b16b16b16b16b16b1"
	ingestBig(t, st, "acme", bigID, 4800)
	tempoSrv := httptest.NewServer(st.Handler())
	t.Cleanup(tempoSrv.Close)
	iss, jwksURL := newIssuer(t)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwksURL,
		"TRACEGATE_TEMPO_TIMEOUT":    "5s",
		"TRACEGATE_WRITE_TIMEOUT":    "1s",
		"TRACEGATE_SHUTDOWN_TIMEOUT": "2s",
		// A budget whose tenant share (4 MiB) holds one 4,800-span trace:
		// the second read waits for the first, stalled one.
		"TRACEGATE_MAX_CONVERSION_BYTES": "8388608",
	})
	acme := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))
	conn := stalledRead(t, strings.TrimPrefix(base, "http://"), "/api/v1/traces/"+bigID, acme)
	t.Cleanup(func() { conn.Close() })
	time.Sleep(500 * time.Millisecond) // the response is stuck, holding acme's share

	start := time.Now()
	status, _, _ := get(t, base+"/api/v1/traces/"+bigID, acme, map[string]string{"Accept-Encoding": "identity"})
	if status != http.StatusOK {
		t.Fatalf("acme's read after the stalled one: %d", status)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("acme's read waited %v: the stalled response held its memory beyond the 1 s write deadline", d)
	}
	if !strings.Contains(logs.String(), `"msg":"response cut off: the client did not take it within the write timeout"`) {
		t.Errorf("no log line for the response cut off:\n%s", logs)
	}
}
