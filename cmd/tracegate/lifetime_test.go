package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tracegate/tracegate/internal/devauth"
	"github.com/tracegate/tracegate/internal/telemetry"
)

// lifetimeWriter is the client end of one response: it takes the body, or
// fails a write, or goes away (the request's context ends) or panics at
// its write number at (1 is the first).
type lifetimeWriter struct {
	header http.Header
	status int
	body   strings.Builder
	writes int

	at     int
	fail   string // "", "error", "cancel" or "panic"
	cancel context.CancelFunc
	// during is the conversion memory in use at the first write, and
	// bodies the recycled body buffers handed out then.
	during, bodies     int64
	inUse, inUseBodies func() int64
}

var errClientGone = errors.New("write: connection reset by peer")

func (w *lifetimeWriter) Header() http.Header { return w.header }

func (w *lifetimeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *lifetimeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.writes++
	if w.writes == 1 {
		w.during, w.bodies = w.inUse(), w.inUseBodies()
	}
	if w.writes >= w.at {
		switch w.fail {
		case "error":
			return 0, errClientGone
		case "cancel":
			w.cancel()
			return 0, errClientGone
		case "panic":
			panic("the response writer broke")
		}
	}
	return w.body.WriteString(string(b))
}

// Whatever a trace read ends in, its conversion memory is given back by the
// time the response is done: found (small and multi-chunk), not found,
// another tenant's, mis-routed, on the /tempo mount, every Tempo fault
// (malformed bodies, errors, timeouts, resets), a client that goes away or
// whose connection fails mid-stream, and a writer that panics; and the
// buffer a large body was read into is recycled only then. Real
// wiring (newGateway) over the stand-in, with a real signed token.
func TestConversionMemoryReturnsToZero(t *testing.T) {
	stand, _ := newTempo(t)
	ft := &faultyTempo{next: stand.Config.Handler}
	tempoSrv := httptest.NewServer(ft)
	t.Cleanup(tempoSrv.Close)
	iss, _ := devauth.NewIssuer("http://idp.test", "tracegate")
	jwks := httptest.NewServer(iss.JWKS())
	t.Cleanup(jwks.Close)
	cfg, err := parseConfig(map[string]string{
		"TRACEGATE_TEMPO_URL":                tempoSrv.URL,
		"TRACEGATE_JWKS_URL":                 jwks.URL,
		"TRACEGATE_TENANT_ATTRIBUTE":         "tenant.id",
		"TRACEGATE_TEMPO_TIMEOUT":            "2s",
		"TRACEGATE_RATE_LIMIT_CLIENT_IP":     "0",
		"TRACEGATE_RATE_LIMIT_TENANT":        "0",
		"TRACEGATE_MAX_CONVERSION_BYTES":     "8388608",
		"TRACEGATE_TEMPO_MAX_RESPONSE_BYTES": "4194304",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gw, err := newHandlers(ctx, cfg, &telemetry.Tracing{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tok := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))

	const (
		checkout  = "4bf92f3577b34da6a3ce929d0e0e4736"
		big       = "b16b16b16b16b16b16b16b16b16b16b1" // 2,000 spans: many 32 KiB chunks
		globex    = "5b8efff798038103d269b633813fc700"
		misrouted = "d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60"
		missing   = "0123456789abcdef0123456789abcdef"
	)
	tests := []struct {
		name, path, fault string
		fail              string
		at                int
		want              int  // status the client sees (0: no check, the response broke)
		held              bool // the trace held memory while it was written
	}{
		{name: "found", path: "/api/v1/traces/" + checkout, want: 200, held: true},
		{name: "found, many chunks", path: "/api/v1/traces/" + big, want: 200, held: true},
		{name: "not found", path: "/api/v1/traces/" + missing, want: 404},
		{name: "another tenant's", path: "/api/v1/traces/" + globex, want: 404},
		{name: "mis-routed into the caller's tenant", path: "/api/v1/traces/" + misrouted, want: 404},
		{name: "mount, found", path: "/tempo/api/v2/traces/" + checkout, want: 200}, // encoded, and freed, before it is written
		{name: "mount, mis-routed", path: "/tempo/api/traces/" + misrouted, want: 404},
		{name: "malformed body", path: "/api/v1/traces/" + checkout, fault: "garbage", want: 502},
		{name: "truncated body", path: "/api/v1/traces/" + checkout, fault: "truncated", want: 502},
		{name: "body over the size limit", path: "/api/v1/traces/" + checkout, fault: "huge", want: 502},
		{name: "tempo error", path: "/api/v1/traces/" + checkout, fault: "500", want: 502},
		{name: "tempo unavailable", path: "/api/v1/traces/" + checkout, fault: "503", want: 503},
		{name: "tempo rate limited", path: "/api/v1/traces/" + checkout, fault: "429", want: 429},
		{name: "tempo hangs", path: "/api/v1/traces/" + checkout, fault: "hang", want: 504},
		{name: "tempo resets", path: "/api/v1/traces/" + checkout, fault: "reset", want: 503},
		{name: "tempo trickles", path: "/api/v1/traces/" + checkout, fault: "slow-body", want: 504},
		{name: "write error at the first write", path: "/api/v1/traces/" + big, fail: "error", at: 1, held: true},
		{name: "write error mid-stream", path: "/api/v1/traces/" + big, fail: "error", at: 3, held: true},
		{name: "client goes away mid-stream", path: "/api/v1/traces/" + big, fail: "cancel", at: 2, held: true},
		{name: "writer panics mid-stream", path: "/api/v1/traces/" + big, fail: "panic", at: 2, held: true},
		{name: "mount, write error", path: "/tempo/api/v2/traces/" + checkout, fail: "error", at: 1, held: false},
	}
	for _, tc := range tests {
		ft.fault.Store(tc.fault)
		rctx, rcancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(rctx, http.MethodGet, tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := &lifetimeWriter{header: http.Header{}, at: tc.at, fail: tc.fail, cancel: rcancel, inUse: gw.tempo.ConversionBytes, inUseBodies: gw.tempo.BodiesInUse}
		if tc.at == 0 {
			w.at = 1 << 30
		}
		gw.api.ServeHTTP(w, req)
		rcancel()
		ft.fault.Store("")
		if tc.want != 0 && w.status != tc.want {
			t.Errorf("%s: status %d, want %d: %.200s", tc.name, w.status, tc.want, w.body.String())
		}
		if tc.held && w.during <= 0 {
			t.Errorf("%s: no conversion memory held while the trace was written (%d): the check below proves nothing", tc.name, w.during)
		}
		if n := gw.tempo.ConversionBytes(); n != 0 {
			t.Errorf("%s: %d bytes of conversion memory still held after the response", tc.name, n)
		}
		if tc.path == "/api/v1/traces/"+big && w.bodies != 1 {
			t.Errorf("%s: %d recycled body buffers in use while the trace was written, want 1", tc.name, w.bodies)
		}
		if n := gw.tempo.BodiesInUse(); n != 0 {
			t.Errorf("%s: %d recycled body buffers not given back after the response", tc.name, n)
		}
	}
}
