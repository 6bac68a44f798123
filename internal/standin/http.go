package standin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
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

	// gzipMinSize is the smallest body Tempo's gzip middleware compresses.
	gzipMinSize = 1024

	maxSearchRange = 168 * time.Hour
	recentWindow   = 15 * time.Minute
)

// response is what a query handler produces; writeResponse adds Vary,
// Content-Length and gzip.
type response struct {
	status int
	ctype  string // "" for no Content-Type (v1 404)
	body   []byte
}

// badRequestError is a 400 answered with Tempo's plain text.
type badRequestError string

func (e badRequestError) Error() string { return string(e) }

func badRequestf(format string, args ...any) error {
	return badRequestError(fmt.Sprintf(format, args...))
}

func jsonResponse(v any) (response, error) {
	b, err := json.Marshal(v)
	return response{status: http.StatusOK, ctype: ctJSON, body: b}, err
}

// Handler returns Tempo's HTTP API (what Tempo serves on :3200).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", http.NotFound)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "ready", http.StatusOK) })
	mux.HandleFunc("/api/echo", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "echo", http.StatusOK) })
	mux.HandleFunc("GET /api/status/buildinfo", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctJSON)
		_, _ = fmt.Fprintf(w, `{"version":"","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":%q}`+"\n", runtime.Version())
	})
	for path, h := range map[string]queryHandler{
		"/api/search":                     s.search,
		"/api/search/tags":                func(r *http.Request, t []string) (response, error) { return s.tags(r, t, false) },
		"/api/v2/search/tags":             func(r *http.Request, t []string) (response, error) { return s.tags(r, t, true) },
		"/api/search/tag/{tag}/values":    s.tagValuesV1,
		"/api/v2/search/tag/{tag}/values": s.tagValuesV2,
		"/api/traces/{id}":                func(r *http.Request, t []string) (response, error) { return s.traceByID(r, t, false) },
		"/api/v2/traces/{id}":             func(r *http.Request, t []string) (response, error) { return s.traceByID(r, t, true) },
		"/api/metrics/query_range":        func(r *http.Request, t []string) (response, error) { return s.metrics(r, t, false) },
		"/api/metrics/query":              func(r *http.Request, t []string) (response, error) { return s.metrics(r, t, true) },
	} {
		mux.Handle(path, serveQuery(h))
	}
	return mux
}

// queryHandler answers a query route for the tenants of X-Scope-OrgID; a
// badRequestError is a 400, any other error a 500.
type queryHandler func(r *http.Request, tenants []string) (response, error)

// serveQuery applies Tempo's auth middleware (401 without X-Scope-OrgID),
// resolves the tenants and writes the handler's response.
func serveQuery(h queryHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org := r.Header.Get("X-Scope-OrgID")
		if org == "" {
			http.Error(w, "no org id", http.StatusUnauthorized)
			return
		}
		var resp response
		tenants, err := resolveTenants(org)
		if err != nil {
			err = badRequestError(err.Error())
		} else {
			resp, err = h(r, tenants)
		}
		var bad badRequestError
		switch {
		case errors.As(err, &bad):
			resp = response{status: http.StatusBadRequest, ctype: ctText, body: []byte(bad)}
		case err != nil:
			resp = response{status: http.StatusInternalServerError, ctype: ctText, body: []byte(err.Error())}
		}
		writeResponse(w, r, resp)
	}
}

func writeResponse(w http.ResponseWriter, r *http.Request, resp response) {
	h := w.Header()
	h.Set("Vary", "Accept-Encoding")
	body := resp.body
	if len(body) >= gzipMinSize && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
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

// searchRange parses start and end (unix seconds) as Tempo's search, tags
// and tag-values endpoints do, and returns the nanosecond window to search:
// without them the last 15 minutes; the end clamped to now - cutoff.
func (s *Server) searchRange(r *http.Request) (startNs, endNs uint64, err error) {
	var tr [2]uint64
	for i, name := range []string{"start", "end"} {
		if v := r.URL.Query().Get(name); v != "" {
			if tr[i], err = strconv.ParseUint(v, 10, 32); err != nil {
				return 0, 0, badRequestf("invalid %s: %s", name, err)
			}
		}
	}
	start, end := tr[0], tr[1]
	now := s.clock()
	limit := uint64(max(now.Add(-s.cutoff).UnixNano(), 0))
	switch {
	case start == 0 && end == 0:
		return uint64(max(now.Add(-recentWindow).UnixNano(), 0)), limit, nil
	case end <= start:
		return 0, 0, badRequestf("http parameter start must be before end. received start=%d end=%d", start, end)
	case time.Duration(end-start)*time.Second > maxSearchRange:
		return 0, 0, badRequestf("range specified by start and end exceeds %s. received start=%d end=%d", maxSearchRange, start, end)
	}
	return start * uint64(time.Second), min(end*uint64(time.Second), limit), nil
}

// parseQuery parses a TraceQL query parameter. Errors are Tempo's 400s;
// prefix is put before parse errors.
func parseQuery(q, prefix string) (*query, error) {
	if len(q) > maxQuerySize {
		return nil, badRequestf("TraceQL expression exceeds the configured maximum size of %d bytes, reduce the query expression size or contact your system administrator", maxQuerySize)
	}
	pq, err := parse(q)
	if err != nil {
		return nil, badRequestError(prefix + err.Error())
	}
	return pq, nil
}
