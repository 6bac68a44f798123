package standin

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// makeTraces builds one trace with n spans of service svc, starting at start.
func makeTraces(id [16]byte, svc string, n int, start time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", svc)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID(id))
		sp.SetSpanID(pcommon.SpanID([8]byte{byte(i >> 8), byte(i), 1, 2, 3, 4, 5, 6}))
		if i > 0 {
			sp.SetParentSpanID(pcommon.SpanID([8]byte{0, 0, 1, 2, 3, 4, 5, 6}))
		}
		sp.SetName("op")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i+5) * time.Millisecond)))
	}
	return td
}

func traceID(b byte) [16]byte { return [16]byte{15: b, 0: 0xab} }

func postOTLP(t *testing.T, srv *httptest.Server, ct, tenant string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/traces", bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func getTraceV2(t *testing.T, h http.Handler, tenant, id string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/api/v2/traces/"+id, nil)
	req.Header.Set("X-Scope-OrgID", tenant)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func TestOTLPIngest(t *testing.T) {
	now := time.Now()
	s := New(nil, WithQueryEndCutoff(0))
	srv := httptest.NewServer(s.OTLPHandler())
	defer srv.Close()

	pb, _ := ptraceotlp.NewExportRequestFromTraces(makeTraces(traceID(1), "proto-svc", 2, now)).MarshalProto()
	resp, out := postOTLP(t, srv, "application/x-protobuf", "acme", pb, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("protobuf ingest: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if er := ptraceotlp.NewExportResponse(); er.UnmarshalProto(out) != nil {
		t.Fatalf("protobuf response %x does not decode", out)
	}

	js, _ := ptraceotlp.NewExportRequestFromTraces(makeTraces(traceID(2), "json-svc", 1, now)).MarshalJSON()
	resp, out = postOTLP(t, srv, "application/json; charset=utf-8", "acme", js, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(out) != `{"partialSuccess":{}}` {
		t.Fatalf("json ingest: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	pb3, _ := ptraceotlp.NewExportRequestFromTraces(makeTraces(traceID(3), "gzip-svc", 1, now)).MarshalProto()
	_, _ = zw.Write(pb3)
	_ = zw.Close()
	resp, _ = postOTLP(t, srv, "application/x-protobuf", "acme", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"})
	if resp.StatusCode != 200 {
		t.Fatalf("gzip ingest: %d", resp.StatusCode)
	}

	h := s.Handler()
	for i, svc := range map[byte]string{1: "proto-svc", 2: "json-svc", 3: "gzip-svc"} {
		code, body := getTraceV2(t, h, "acme", traceIDString(traceID(i)))
		if code != 200 || !bytes.Contains(body, []byte(`"stringValue":"`+svc+`"`)) {
			t.Errorf("trace %d: %d %s", i, code, body)
		}
		if code, body := getTraceV2(t, h, "globex", traceIDString(traceID(i))); code != 200 || string(body) != `{"trace":{},"metrics":{}}` {
			t.Errorf("trace %d leaked to globex: %s", i, body)
		}
	}
}

func TestOTLPErrors(t *testing.T) {
	s := New(nil)
	srv := httptest.NewServer(s.OTLPHandler())
	defer srv.Close()
	good, _ := ptraceotlp.NewExportRequestFromTraces(makeTraces(traceID(1), "svc", 1, time.Now())).MarshalProto()
	goodJSON, _ := ptraceotlp.NewExportRequestFromTraces(makeTraces(traceID(1), "svc", 1, time.Now())).MarshalJSON()

	tests := []struct {
		name, ct, tenant string
		body             []byte
		status, code     int
		msg              string
	}{
		{"bad protobuf", "application/x-protobuf", "acme", []byte{0xff, 0xff, 0xff}, 400, 3, ""},
		{"bad json", "application/json", "acme", []byte("nope"), 400, 3, ""},
		{"missing tenant proto", "application/x-protobuf", "", good, 503, 14, "no org id"},
		{"missing tenant json", "application/json", "", goodJSON, 503, 14, "no org id"},
		{"bad tenant", "application/x-protobuf", "ac/me", good, 400, 3, "tenant ID 'ac/me' contains unsupported character '/'"},
		{"federated tenant", "application/json", "acme|globex", goodJSON, 400, 3, "tenant ID 'acme|globex' contains unsupported character '|'"},
		{"tenant with metadata", "application/json", "acme:x", goodJSON, 400, 3, "tenant ID 'acme:x' contains unsupported character ':'"},
		{"dotdot tenant", "application/json", "..", goodJSON, 400, 3, "tenant ID is '.' or '..'"},
	}
	for _, tt := range tests {
		resp, out := postOTLP(t, srv, tt.ct, tt.tenant, tt.body, nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.status, out)
			continue
		}
		var st statuspb.Status
		unmarshal := proto.Unmarshal
		if tt.ct == "application/json" {
			unmarshal = protojson.Unmarshal
		}
		if err := unmarshal(out, &st); err != nil {
			t.Errorf("%s: body %q: %v", tt.name, out, err)
		}
		if int(st.Code) != tt.code || (tt.msg != "" && st.Message != tt.msg) || st.Message == "" {
			t.Errorf("%s: status body %v, want code %d message %q", tt.name, &st, tt.code, tt.msg)
		}
	}

	resp, _ := postOTLP(t, srv, "text/plain", "acme", good, nil)
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}
	get, _ := srv.Client().Get(srv.URL + "/v1/traces")
	get.Body.Close()
	if get.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", get.StatusCode)
	}
	other, _ := srv.Client().Post(srv.URL+"/v1/metrics", "application/x-protobuf", bytes.NewReader(good))
	other.Body.Close()
	if other.StatusCode != http.StatusNotFound {
		t.Errorf("/v1/metrics: %d", other.StatusCode)
	}
	if n := len(s.snapshot([]string{"acme", "ac", "me", "acme|globex", "acme:x"}, nil)); n != 0 {
		t.Errorf("rejected requests stored %d traces", n)
	}
}

func TestIngestValidatesTenant(t *testing.T) {
	s := New(nil)
	td := makeTraces(traceID(1), "svc", 1, time.Now())
	for tenant, want := range map[string]string{
		"":                                     "no org id",
		"a b":                                  "tenant ID 'a b' contains unsupported character ' '",
		string(bytes.Repeat([]byte("a"), 151)): "tenant ID is too long: max 150 characters",
		".":                                    "tenant ID is '.' or '..'",
		"é":                                    "tenant ID 'é' contains unsupported character 'Ã'",
	} {
		if err := s.Ingest(tenant, td); err == nil || err.Error() != want {
			t.Errorf("Ingest(%q) = %v, want %q", tenant, err, want)
		}
	}
	for _, ok := range []string{"a", "A-z_0.9!*'()", string(bytes.Repeat([]byte("a"), 150)), "..."} {
		if err := s.Ingest(ok, td); err != nil {
			t.Errorf("Ingest(%q) = %v", ok, err)
		}
	}
}
