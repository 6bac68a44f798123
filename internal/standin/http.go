package standin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
)

const (
	ctText     = "text/plain; charset=utf-8"
	ctJSON     = "application/json"
	ctProtobuf = "application/protobuf"

	// gzipMinSize is the minimum body size Tempo's gzip middleware
	// (klauspost gzhttp, DefaultMinSize) compresses.
	gzipMinSize = 1024

	maxSearchLimit  = 262144
	maxSpansPerSet  = 100
	maxSearchRange  = 168 * time.Hour
	defaultLimit    = 20
	defaultSpss     = 3
	recentWindow    = 15 * time.Minute
	orgIDHeaderName = "X-Scope-OrgID"
)

// response is what a query handler produces; writeResponse adds Vary,
// Content-Length and gzip.
type response struct {
	status int
	ctype  string // "" for no Content-Type (v1 404)
	body   []byte
}

func badRequest(msg string) response {
	return response{status: http.StatusBadRequest, ctype: ctText, body: []byte(msg)}
}

func badRequestf(format string, args ...any) response {
	return badRequest(fmt.Sprintf(format, args...))
}

func jsonResponse(v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return response{status: http.StatusInternalServerError, ctype: ctText, body: []byte(err.Error())}
	}
	return response{status: http.StatusOK, ctype: ctJSON, body: b}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// writePlain writes a body the way net/http's http.Error does (used by
// Tempo for 401, /ready, /api/echo and unknown paths).
func writePlain(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", ctText)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	writePlain(w, http.StatusNotFound, "404 page not found\n")
}

func writeResponse(w http.ResponseWriter, r *http.Request, resp response) {
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	body := resp.body
	if len(body) >= gzipMinSize && acceptsGzip(r) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	if resp.ctype != "" {
		h.Set("Content-Type", resp.ctype)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// Handler returns Tempo's HTTP API (what Tempo serves on :3200).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", notFound)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { writePlain(w, http.StatusOK, "ready\n") })
	mux.HandleFunc("/api/echo", func(w http.ResponseWriter, _ *http.Request) { writePlain(w, http.StatusOK, "echo\n") })
	mux.HandleFunc("GET /api/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		body := fmt.Sprintf(`{"version":"","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":%q}`+"\n", runtime.Version())
		w.Header().Set("Content-Type", ctJSON)
		_, _ = w.Write([]byte(body))
	})
	for path, h := range map[string]queryHandler{
		"/api/search":                     s.search,
		"/api/search/tags":                s.tagsV1,
		"/api/v2/search/tags":             s.tagsV2,
		"/api/search/tag/{tag}/values":    s.tagValuesV1,
		"/api/v2/search/tag/{tag}/values": s.tagValuesV2,
		"/api/traces/{id}":                func(r *http.Request, t []string) response { return s.traceByID(r, t, false) },
		"/api/v2/traces/{id}":             func(r *http.Request, t []string) response { return s.traceByID(r, t, true) },
		"/api/metrics/query_range":        func(r *http.Request, t []string) response { return s.metrics(r, t, false) },
		"/api/metrics/query":              func(r *http.Request, t []string) response { return s.metrics(r, t, true) },
	} {
		mux.Handle(path, serveQuery(h))
	}
	return mux
}

// queryHandler answers a query route for the tenants of X-Scope-OrgID.
type queryHandler func(r *http.Request, tenants []string) response

// serveQuery applies Tempo's auth middleware (401 without X-Scope-OrgID),
// resolves the tenants and writes the handler's response.
func serveQuery(h queryHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org := r.Header.Get(orgIDHeaderName)
		if org == "" {
			writePlain(w, http.StatusUnauthorized, "no org id\n")
			return
		}
		tenants, err := resolveTenants(org)
		if err != nil {
			writeResponse(w, r, badRequest(err.Error()))
			return
		}
		writeResponse(w, r, h(r, tenants))
	}
}

// timeRange holds the parsed start/end (unix seconds) of a search-like request.
type timeRange struct{ start, end uint64 }

// parseSearchRange parses start/end as Tempo's search, tags and tag values
// endpoints do: unix seconds that fit in 32 bits, both or neither.
func parseSearchRange(r *http.Request) (timeRange, *response) {
	var tr timeRange
	q := r.URL.Query()
	if v := q.Get("start"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			resp := badRequest("invalid start: " + err.Error())
			return tr, &resp
		}
		tr.start = n
	}
	if v := q.Get("end"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			resp := badRequest("invalid end: " + err.Error())
			return tr, &resp
		}
		tr.end = n
	}
	return tr, nil
}

func (tr timeRange) check() *response {
	if (tr.start != 0 || tr.end != 0) && tr.end <= tr.start {
		resp := badRequestf("http parameter start must be before end. received start=%d end=%d", tr.start, tr.end)
		return &resp
	}
	return nil
}

func (tr timeRange) checkMax() *response {
	if (tr.start != 0 || tr.end != 0) && time.Duration(tr.end-tr.start)*time.Second > maxSearchRange {
		resp := badRequestf("range specified by start and end exceeds %s. received start=%d end=%d", maxSearchRange, tr.start, tr.end)
		return &resp
	}
	return nil
}

// window returns the nanosecond window searched: the last 15 minutes when no
// range is given, the end always clamped to now - query end cutoff.
func (s *Server) window(tr timeRange) (uint64, uint64) {
	now := s.clock()
	limit := now.Add(-s.cutoff).UnixNano()
	if tr.start == 0 && tr.end == 0 {
		return uint64(now.Add(-recentWindow).UnixNano()), uint64(max(limit, 0))
	}
	end := int64(tr.end) * int64(time.Second)
	end = min(end, limit)
	return tr.start * uint64(time.Second), uint64(max(end, 0))
}

func queryTooLarge(q string) *response {
	if len(q) > maxQuerySize {
		resp := badRequestf("TraceQL expression exceeds the configured maximum size of %d bytes, reduce the query expression size or contact your system administrator", maxQuerySize)
		return &resp
	}
	return nil
}
