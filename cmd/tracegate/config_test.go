package main

import (
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// listedSetting matches one setting of "config --list": its description
// line, then #NAME=default.
var listedSetting = regexp.MustCompile(`(?m)^# (required: )?(.+)\n#(TRACEGATE_[A-Z0-9_]+)=(.*)$`)

// TestConfigList checks that "config --list" prints every setting of the
// config struct, in order, with its default, its required flag and its
// description, in the format operators (and the deploy checks) parse.
func TestConfigList(t *testing.T) {
	t.Parallel()
	all, err := settings()
	if err != nil {
		t.Fatal(err)
	}
	if n := reflect.TypeFor[config]().NumField(); len(all) != n {
		t.Errorf("settings() has %d entries, config has %d fields", len(all), n)
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"config", "--list"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var listed []setting
	for _, m := range listedSetting.FindAllStringSubmatch(out.String(), -1) {
		listed = append(listed, setting{Name: m[3], Default: m[4], HasDefault: m[4] != "", Required: m[1] != "", Description: m[2]})
	}
	want := make([]setting, len(all))
	for i, s := range all {
		want[i] = s
		want[i].HasDefault = s.Default != "" // what the listing can show
	}
	if !reflect.DeepEqual(listed, want) {
		t.Errorf("config --list:\n%s\nparsed %+v\nwant %+v", out.String(), listed, want)
	}
	// Anchors, so that a listing that went wrong the same way as settings() shows.
	for _, line := range []string{"#TRACEGATE_LISTEN_ADDR=:8080\n", "# required: ", "#TRACEGATE_TEMPO_URL=\n", "#TRACEGATE_SHUTDOWN_TIMEOUT=15s\n"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("config --list lacks %q", line)
		}
	}
	if strings.Count(out.String(), "# required: ") != 1 {
		t.Errorf("config --list marks %d settings required, want 1 (TRACEGATE_TEMPO_URL)", strings.Count(out.String(), "# required: "))
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	valid := map[string]string{"TRACEGATE_TEMPO_URL": "http://tempo:3200", "TRACEGATE_JWKS_URL": "https://idp.test/jwks", "PATH": "/bin"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range valid {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		args    []string
		environ map[string]string
		wantErr string // "" = success
		wantOut string
	}{
		{"valid", []string{"--check"}, valid, "", "configuration ok"},
		{"typo in a name", []string{"--check"}, with("TRACEGATE_TEMPO_TIMEOUTS", "5s"), "not a tracegate setting: TRACEGATE_TEMPO_TIMEOUTS", ""},
		{"bad value", []string{"--check"}, with("TRACEGATE_TEMPO_TIMEOUT", "soon"), "TRACEGATE_TEMPO_TIMEOUT", ""},
		{"bad tenant claim pointer", []string{"--check"}, with("TRACEGATE_TENANT_CLAIM", "/realm_access/~roles"), "TRACEGATE_TENANT_CLAIM: JSON Pointer \"/realm_access/~roles\": '~' must be followed by 0 or 1", ""},
		{"tenant claim pointer", []string{"--check"}, with("TRACEGATE_TENANT_CLAIM", "/realm_access/roles"), "", "configuration ok"},
		{"missing required", []string{"--check"}, map[string]string{"TRACEGATE_JWKS_URL": "https://idp.test/jwks"}, "TRACEGATE_TEMPO_URL", ""},
		{"no flag", nil, valid, "give --list or --check", "usage: tracegate config"},
		{"both flags", []string{"--list", "--check"}, valid, "give --list or --check", ""},
		{"extra argument", []string{"--list", "x"}, valid, "give --list or --check", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			err := run(t.Context(), append([]string{"config"}, tc.args...), tc.environ, &out)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("config %v: %v", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("config %v: error %v, want one containing %q", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("config %v printed %q, want %q in it", tc.args, out.String(), tc.wantOut)
			}
		})
	}
}

// TestHealthcheckIsACommand checks that run() dispatches "healthcheck", which
// the image's HEALTHCHECK and the Compose health check call.
func TestHealthcheckIsACommand(t *testing.T) {
	t.Parallel()
	srv := readyzServer(t, http.StatusOK, "application/json", `{"status":"ready","checks":[]}`)
	var out strings.Builder
	err := run(t.Context(), []string{"healthcheck", "--url", srv.URL + "/readyz"}, nil, &out)
	if err != nil || !strings.Contains(out.String(), "answered 200 (ready)") {
		t.Errorf("run healthcheck: %v, output %q", err, out.String())
	}
}

// TestServeRefusesBadTenantClaim checks that serve stops at start-up on a
// tenant claim that is not a valid JSON Pointer, naming the setting.
func TestServeRefusesBadTenantClaim(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"serve"}, map[string]string{
		"TRACEGATE_TEMPO_URL": "http://tempo:3200", "TRACEGATE_JWKS_URL": "https://idp.test/jwks", "TRACEGATE_TENANT_CLAIM": "/groups//0",
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `TRACEGATE_TENANT_CLAIM: JSON Pointer "/groups//0": empty reference token 2`) {
		t.Errorf("serve with a bad tenant claim: %v", err)
	}
}
