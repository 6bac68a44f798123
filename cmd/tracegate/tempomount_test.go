package main

import (
	"bytes"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/tracegate/tracegate/internal/testkit"
)

// The /tempo mount through the real program, against the Tempo stand-in
// seeded with the recorded traces.

// Window and step around the recorded traces (ingested 2026-11-26 13:03).
const mountWindow = "start=1795690000&end=1795700000"

// misroutedTrace is the recorded trace stored under acme but stamped for
// globex (testdata/tempo/ingested/acme-misrouted.json).
const misroutedTrace = "d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60"

// mountPaths is one request per mounted operation (Accept: protobuf where
// the path ends in "#pb").
var mountPaths = []string{
	"/api/echo",
	"/api/status/buildinfo",
	"/api/traces/" + ownTrace,
	"/api/traces/" + ownTrace + "#pb",
	"/api/v2/traces/" + ownTrace,
	"/api/v2/traces/" + ownTrace + "#pb",
	"/api/v2/traces/" + ownTrace + "?q=" + url.QueryEscape(`{ resource.service.name = "payments" }`) + "&keep_hierarchy=true",
	"/api/search?" + mountWindow,
	"/api/search?limit=5&spss=2&q=" + url.QueryEscape(`{ status = error }`) + "&" + mountWindow,
	"/api/search?tags=" + url.QueryEscape("service.name=frontend") + "&minDuration=1ms&" + mountWindow,
	"/api/search/tags?" + mountWindow,
	"/api/v2/search/tags?scope=span&" + mountWindow,
	"/api/search/tag/service.name/values?" + mountWindow,
	"/api/v2/search/tag/resource.service.name/values?" + mountWindow,
	"/api/metrics/query_range?step=60s&q=" + url.QueryEscape(`{ } | rate() by (resource.service.name)`) + "&" + mountWindow,
	"/api/metrics/query?q=" + url.QueryEscape(`{ status = error } | count_over_time()`) + "&" + mountWindow,
}

type mountEnv struct {
	base  string
	tempo string
	rt    *recordingTempo
	logs  *testkit.Buffer
	token func(claims map[string]any) string
}

func startMount(t *testing.T, attribute string) mountEnv {
	t.Helper()
	tempoSrv, rt := newTempo(t)
	iss, jwksURL := newIssuer(t)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LOG_LEVEL":        "debug",
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwksURL,
		"TRACEGATE_JWT_ISSUER":       "http://idp.test",
		"TRACEGATE_JWT_AUDIENCE":     "tracegate",
		"TRACEGATE_TENANT_ATTRIBUTE": attribute,
	})
	return mountEnv{base: base, tempo: tempoSrv.URL, rt: rt, logs: logs, token: func(claims map[string]any) string {
		return must(iss.Token("user", time.Hour, claims))
	}}
}

// get fetches path (with "#pb" for protobuf) with the given headers.
func mountGet(t *testing.T, url string, headers map[string]string) (int, string, []byte) {
	t.Helper()
	url, pb := strings.CutSuffix(url, "#pb")
	if pb {
		headers = maps.Clone(headers)
		if headers == nil {
			headers = map[string]string{}
		}
		headers["Accept"] = "application/protobuf"
	}
	status, h, body := get(t, url, "", headers)
	return status, h.Get("Content-Type"), body
}

// Without the attribute layer the mount answers Tempo's bytes: every
// mounted path gives what the stand-in gives for the token's tenant, whatever
// X-Scope-OrgID the client sends, and unknown parameters never reach Tempo.
func TestTempoMountPassesTempoBytes(t *testing.T) {
	env := startMount(t, "")
	acme := map[string]string{"Authorization": "Bearer " + env.token(map[string]any{"tenant_id": "acme"}), "X-Scope-OrgID": "globex"}
	for _, p := range mountPaths {
		status, ctype, body := mountGet(t, env.base+"/tempo"+p, acme)
		wantStatus, wantType, want := mountGet(t, env.tempo+p, map[string]string{"X-Scope-OrgID": "acme"})
		if status != wantStatus || ctype != wantType || !bytes.Equal(body, want) {
			t.Errorf("%s: %d %q %.300q\nTempo: %d %q %.300q", p, status, ctype, body, wantStatus, wantType, want)
		}
		if status != http.StatusOK {
			t.Errorf("%s: %d", p, status)
		}
	}
	// A foreign trace is Tempo's own "missing" answer.
	for _, p := range []string{"/api/traces/" + globexTrace, "/api/v2/traces/" + globexTrace, "/api/v2/traces/" + globexTrace + "#pb"} {
		status, _, body := mountGet(t, env.base+"/tempo"+p, acme)
		wantStatus, _, want := mountGet(t, env.tempo+p, map[string]string{"X-Scope-OrgID": "acme"})
		if status != wantStatus || !bytes.Equal(body, want) {
			t.Errorf("%s: %d %q, want Tempo's %d %q", p, status, body, wantStatus, want)
		}
	}
	// Tempo's 400 keeps its status and text.
	p := "/api/metrics/query_range?q=" + url.QueryEscape("{ } | quantile_over_time(duration, .5)") + "&" + mountWindow
	if status, ctype, body := mountGet(t, env.base+"/tempo"+p, acme); status != 400 || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(string(body), "quantile_over_time") {
		t.Errorf("Tempo's 400: %d %q %q", status, ctype, body)
	}

	before := env.rt.count()
	if status, _, _ := mountGet(t, env.base+"/tempo/api/search?grafanaNewParam=1&service.name=x&"+mountWindow, acme); status != 200 {
		t.Fatalf("search with unknown parameters: %d", status)
	}
	if !strings.Contains(env.logs.String(), `"msg":"dropped an unknown query parameter","route":"/tempo/api/search","parameter":"grafanaNewParam"`) {
		t.Error("the dropped parameter was not logged at debug level")
	}
	env.rt.mu.Lock()
	defer env.rt.mu.Unlock()
	for _, r := range env.rt.requests[before:] {
		if q := r.URL.Query(); q.Has("grafanaNewParam") || q.Has("service.name") {
			t.Errorf("unknown parameters reached Tempo: %s", r.URL)
		}
	}
	for _, r := range env.rt.requests {
		if org := r.Header.Values("X-Scope-OrgID"); r.URL.Path != "/api/echo" && r.URL.Path != "/api/status/buildinfo" && (len(org) != 1 || org[0] != "acme") {
			t.Errorf("%s asked as %q", r.URL, org)
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("%s: the token reached Tempo", r.URL)
		}
	}
}

// With the attribute layer, a trace read as protobuf through the mount
// decodes with Tempo's own message types, a foreign and a missing trace give
// the same bytes, and Tempo's metrics blocks are left out.
func TestTempoMountAttributeMode(t *testing.T) {
	env := startMount(t, "tenant.id")
	acme := map[string]string{"Authorization": "Bearer " + env.token(map[string]any{"tenant_id": "acme"})}
	for _, p := range mountPaths {
		status, _, body := mountGet(t, env.base+"/tempo"+p, acme)
		switch {
		case strings.Contains(p, "keep_hierarchy"), strings.Contains(p, "minDuration"):
			if status != 400 {
				t.Errorf("%s: %d, want 400 (cannot be confined)", p, status)
			}
			continue
		case status != 200:
			t.Errorf("%s: %d %s", p, status, body)
		}
		if strings.Contains(string(body), `"metrics"`) && !strings.HasPrefix(p, "/api/traces") {
			t.Errorf("%s: Tempo's metrics block passed on: %.300s", p, body)
		}
	}
	_, _, v2 := mountGet(t, env.base+"/tempo/api/v2/traces/"+ownTrace+"#pb", acme)
	resp := traceByIDResponse(t)
	if err := proto.Unmarshal(v2, resp); err != nil {
		t.Fatalf("the v2 protobuf answer is no TraceByIDResponse: %v", err)
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(resp.Get(resp.Descriptor().Fields().ByName("trace")).Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if td.SpanCount() != 9 {
		t.Errorf("%d spans, want the checkout trace's 9", td.SpanCount())
	}
	_, _, v1 := mountGet(t, env.base+"/tempo/api/traces/"+ownTrace+"#pb", acme)
	if td1, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(v1); err != nil || td1.SpanCount() != 9 {
		t.Errorf("v1 protobuf: %v", err)
	}
	// acme-misrouted and acme-unstamped are stored under acme but are not
	// acme's: answered exactly like a trace that does not exist.
	for _, p := range []string{"/api/traces/", "/api/traces/#pb", "/api/v2/traces/", "/api/v2/traces/#pb"} {
		var answers []string
		for _, id := range []string{globexTrace, misroutedTrace, "0123456789abcdef0123456789abcdef"} {
			path, pb := strings.CutSuffix(p, "#pb")
			if pb {
				id += "#pb"
			}
			status, ctype, body := mountGet(t, env.base+"/tempo"+path+id, acme)
			answers = append(answers, strings.Join([]string{http.StatusText(status), ctype, string(body)}, "|"))
		}
		if answers[0] != answers[2] || answers[1] != answers[2] {
			t.Errorf("%s: foreign, mis-routed and missing differ: %q", p, answers)
		}
	}
}

// traceByIDResponse returns an empty tempopb.TraceByIDResponse, described as
// Tempo's pkg/tempopb/tempo.proto declares it (the nested Trace and metrics
// as bytes, which is the same wire format).
func traceByIDResponse(t *testing.T) *dynamicpb.Message {
	t.Helper()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(name)}
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("tempo.proto"), Package: proto.String("tempopb"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("TraceByIDResponse"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("trace", 1, descriptorpb.FieldDescriptorProto_TYPE_BYTES),
				field("metrics", 2, descriptorpb.FieldDescriptorProto_TYPE_BYTES),
				field("status", 3, descriptorpb.FieldDescriptorProto_TYPE_INT32),
				field("message", 4, descriptorpb.FieldDescriptorProto_TYPE_STRING),
			},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dynamicpb.NewMessage(fd.Messages().ByName(protoreflect.Name("TraceByIDResponse")))
}
