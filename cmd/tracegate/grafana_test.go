package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// grafanaProvisioning is the part of Grafana's data source provisioning
// format that docs/grafana/tempo-datasource.yaml sets.
type grafanaProvisioning struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name     string `yaml:"name"`
		Type     string `yaml:"type"`
		Access   string `yaml:"access"`
		URL      string `yaml:"url"`
		JSONData struct {
			OAuthPassThru    bool `yaml:"oauthPassThru"`
			StreamingEnabled struct {
				Search  *bool `yaml:"search"`
				Metrics *bool `yaml:"metrics"`
			} `yaml:"streamingEnabled"`
			HTTPHeaderName1 string `yaml:"httpHeaderName1"`
		} `yaml:"jsonData"`
		SecureJSONData struct {
			HTTPHeaderValue1 string `yaml:"httpHeaderValue1"`
		} `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// TestGrafanaProvisioning parses the documented provisioning file, checks
// what docs/grafana.md promises about it, and then sends, through a running
// tracegate at the file's URL path with its custom header, the requests
// Grafana's Tempo data source sends (docs/grafana.md, "What Grafana sends"),
// with a forwarded token that grants two tenants.
func TestGrafanaProvisioning(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "grafana", "tempo-datasource.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p grafanaProvisioning
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != 1 || len(p.Datasources) != 1 {
		t.Fatalf("apiVersion %d, %d data sources", p.APIVersion, len(p.Datasources))
	}
	ds := p.Datasources[0]
	u, err := url.Parse(ds.URL)
	switch {
	case err != nil || u.Path != "/tempo" || u.Scheme != "https":
		t.Errorf("url %q: want https://<tracegate>/tempo", ds.URL)
	case ds.Type != "tempo" || ds.Access != "proxy":
		t.Errorf("type %q access %q: want tempo, proxy", ds.Type, ds.Access)
	case !ds.JSONData.OAuthPassThru:
		t.Error("oauthPassThru is off: Grafana would not forward the user's token")
	case ds.JSONData.StreamingEnabled.Search == nil || *ds.JSONData.StreamingEnabled.Search,
		ds.JSONData.StreamingEnabled.Metrics == nil || *ds.JSONData.StreamingEnabled.Metrics:
		t.Error("streaming must be explicitly off for search and metrics")
	case ds.JSONData.HTTPHeaderName1 != "X-Tenant" || ds.SecureJSONData.HTTPHeaderValue1 == "":
		t.Error("the optional X-Tenant header is not set up")
	}
	// docs/grafana.md shows the same settings (comments aside).
	doc := readDoc(t, filepath.Join(repoRoot, "docs", "grafana.md"))
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(doc, line) {
			t.Errorf("docs/grafana.md does not show %q", line)
		}
	}

	env := startMount(t, "tenant.id")
	headers := map[string]string{
		"Authorization":             "Bearer " + env.token(map[string]any{"tenant_id": []string{"globex", ds.SecureJSONData.HTTPHeaderValue1}}),
		ds.JSONData.HTTPHeaderName1: ds.SecureJSONData.HTTPHeaderValue1,
	}
	base := env.base + u.Path
	window := "start=1795690000&end=1795700000"
	for _, r := range []struct{ path, accept string }{
		{"/api/echo", ""},
		{"/api/status/buildinfo", ""},
		{"/api/v2/traces/" + ownTrace + "?" + window, "application/protobuf"},
		{"/api/traces/" + ownTrace + "?" + window, "application/protobuf"},
		{"/api/search?q=" + url.QueryEscape(`{ resource.service.name = "frontend" }`) + "&limit=20&spss=3&" + window, "application/json"},
		{"/api/v2/search/tags?scope=span&limit=5000&" + window, ""},
		{"/api/v2/search/tag/resource.service.name/values?limit=5000&q=" + url.QueryEscape(`{ status = error }`) + "&" + window, ""},
		{"/api/metrics/query_range?q=" + url.QueryEscape(`{ } | rate() by (resource.service.name)`) + "&step=60s&exemplars=100&" + window, "application/json"},
		{"/api/metrics/query?q=" + url.QueryEscape(`{ } | count_over_time()`) + "&" + window, "application/json"},
	} {
		h := map[string]string{}
		for k, v := range headers {
			h[k] = v
		}
		if r.accept != "" {
			h["Accept"] = r.accept
		}
		status, _, body := mountGet(t, base+r.path, h)
		if status != http.StatusOK {
			t.Errorf("%s: %d %.300s", r.path, status, body)
		}
	}
	env.rt.mu.Lock()
	defer env.rt.mu.Unlock()
	for _, r := range env.rt.requests {
		if org := r.Header.Get("X-Scope-OrgID"); r.URL.Path != "/api/echo" && r.URL.Path != "/api/status/buildinfo" && org != ds.SecureJSONData.HTTPHeaderValue1 {
			t.Errorf("%s read as %q, want the X-Tenant of the data source", r.URL.Path, org)
		}
	}
}
