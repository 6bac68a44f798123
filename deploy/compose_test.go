package deploy_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// --- Compose --------------------------------------------------------------

var composeFile = filepath.Join("compose", "compose.yaml")

func loadCompose(t *testing.T) map[string]any {
	t.Helper()
	docs := yamlDocs(t, composeFile)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", composeFile, len(docs))
	}
	return docs[0]
}

// composeEnvironment returns a service's environment (map or list form),
// values as written (uninterpolated).
func composeEnvironment(t *testing.T, service map[string]any) map[string]string {
	t.Helper()
	env := map[string]string{}
	switch e := service["environment"].(type) {
	case nil:
	case map[string]any:
		for k, v := range e {
			if v == nil {
				env[k] = ""
				continue
			}
			env[k] = fmt.Sprint(v)
		}
	case []any:
		for _, item := range e {
			s, ok := item.(string)
			if !ok {
				t.Fatalf("environment entry %v is not a string", item)
			}
			k, v, _ := strings.Cut(s, "=")
			env[k] = v
		}
	default:
		t.Fatalf("environment has type %T", e)
	}
	return env
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}|\$\$|\$[A-Za-z_{]`)

// interpolate resolves Compose's ${VAR:-default} as if VAR were unset, so
// that the defaults written in the file are what gets checked. A variable
// without a default is an error: the file would not work out of the box.
func interpolate(s string) (string, error) {
	var bad []string
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := interpolation.FindStringSubmatch(m)
		if sub[1] == "" || sub[2] == "" {
			bad = append(bad, m)
			return m
		}
		return sub[3]
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("%q: %v has no default", s, bad)
	}
	return out, nil
}

// composeContainerPort returns the container port of a short-syntax port
// mapping such as "127.0.0.1:8080:8080" or "8080:8080/tcp".
func composeContainerPort(t *testing.T, mapping any) int {
	t.Helper()
	if m, ok := mapping.(map[string]any); ok { // long syntax
		n, _ := m["target"].(int)
		return n
	}
	s := fmt.Sprint(mapping)
	s, _, _ = strings.Cut(s, "/")
	n, err := strconv.Atoi(s[strings.LastIndex(s, ":")+1:])
	if err != nil {
		t.Fatalf("port mapping %q: %v", mapping, err)
	}
	return n
}

func TestDeployComposeTracegate(t *testing.T) {
	t.Parallel()
	services := digMap(loadCompose(t), "services")
	tg := digMap(services, "tracegate")
	if tg == nil {
		t.Fatal("compose.yaml: no service tracegate")
	}
	env := composeEnvironment(t, tg)
	environ := map[string]string{}
	for k, v := range env {
		s, err := interpolate(v)
		if err != nil {
			t.Errorf("tracegate environment %s: %v", k, err)
		}
		environ[k] = s
	}
	if err := checkConfig(t, environ); err != nil {
		t.Errorf("compose.yaml: tracegate's environment is not a valid configuration: %v", err)
	}

	if dig(tg, "read_only") != true {
		t.Error("tracegate: read_only must be true")
	}
	if !nonRootUser(digString(tg, "user")) {
		t.Errorf("tracegate: user %q must be a numeric non-root uid", digString(tg, "user"))
	}
	if !slices.Contains(digList(tg, "cap_drop"), any("ALL")) {
		t.Error("tracegate: cap_drop must contain ALL")
	}
	if got, want := digList(tg, "healthcheck", "test"), []any{"CMD", "/tracegate", "healthcheck"}; !slices.Equal(got, want) {
		t.Errorf("tracegate healthcheck test = %v, want %v", got, want)
	}
	ctxDir := filepath.Join(filepath.Dir(composeFile), digString(tg, "build", "context"))
	if abs1, abs2 := mustAbs(t, ctxDir), mustAbs(t, repoRoot); abs1 != abs2 {
		t.Errorf("tracegate build context %s is not the repository root %s", abs1, abs2)
	}
	dockerfile := digString(tg, "build", "dockerfile")
	if _, err := os.Stat(filepath.Join(ctxDir, dockerfile)); dockerfile == "" || err != nil {
		t.Errorf("tracegate build dockerfile %q: %v", dockerfile, err)
	}

	// Only tracegate publishes a port, and it is the one tracegate listens on.
	for name, svc := range services {
		if name != "tracegate" && dig(svc, "ports") != nil {
			t.Errorf("service %s publishes ports %v: only tracegate may", name, dig(svc, "ports"))
		}
		if digString(svc, "network_mode") == "host" {
			t.Errorf("service %s uses the host network", name)
		}
	}
	ports := digList(tg, "ports")
	if len(ports) != 1 {
		t.Fatalf("tracegate publishes %d ports, want 1", len(ports))
	}
	if got, want := composeContainerPort(t, ports[0]), listenPort(t, environ); got != want {
		t.Errorf("tracegate publishes container port %d, but listens on %d", got, want)
	}
}

func TestDeployComposeTempo(t *testing.T) {
	t.Parallel()
	compose := loadCompose(t)
	services := digMap(compose, "services")
	tempo, tg := digMap(services, "tempo"), digMap(services, "tracegate")
	if tempo == nil || tg == nil {
		t.Fatal("compose.yaml: services tempo and tracegate required")
	}
	image := digString(tempo, "image")
	repo, tag, _ := strings.Cut(image, ":")
	major, _, _ := strings.Cut(tag, ".")
	if n, err := strconv.Atoi(major); repo != "grafana/tempo" || err != nil || n < 2 {
		t.Errorf("tempo image %q: want grafana/tempo with a pinned 2.x or later version tag", image)
	}
	if dig(tempo, "read_only") != true || !nonRootUser(digString(tempo, "user")) {
		t.Errorf("tempo: want read_only and a numeric non-root user, got %v and %q", dig(tempo, "read_only"), digString(tempo, "user"))
	}

	// The config file Tempo is started with is the one next to compose.yaml.
	var configPath string
	for _, arg := range digList(tempo, "command") {
		if p, ok := strings.CutPrefix(fmt.Sprint(arg), "-config.file="); ok {
			configPath = p
		}
	}
	var hostConfig string
	for _, v := range digList(tempo, "volumes") {
		parts := strings.Split(fmt.Sprint(v), ":")
		if len(parts) >= 2 && parts[1] == configPath {
			hostConfig = filepath.Join(filepath.Dir(composeFile), parts[0])
		}
	}
	if configPath == "" || hostConfig == "" {
		t.Fatalf("tempo: no -config.file mounted from the host (command %v, volumes %v)", dig(tempo, "command"), dig(tempo, "volumes"))
	}
	docs := yamlDocs(t, hostConfig)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", hostConfig, len(docs))
	}
	cfg := docs[0]
	if dig(cfg, "multitenancy_enabled") != true {
		t.Errorf("%s: multitenancy_enabled must be true", hostConfig)
	}
	if digString(cfg, "storage", "trace", "backend") != "local" {
		t.Errorf("%s: want local storage", hostConfig)
	}
	if dig(cfg, "distributor", "receivers", "otlp", "protocols") == nil {
		t.Errorf("%s: no OTLP receivers", hostConfig)
	}
	if dig(cfg, "stream_over_http_enabled") == true {
		t.Errorf("%s: stream_over_http_enabled opens gRPC streaming on the query port", hostConfig)
	}
	env := composeEnvironment(t, tg)
	federation := env[envPrefix+"ALLOW_FEDERATION"] == "true"
	if mt, ok := dig(cfg, "query_frontend", "multi_tenant_queries_enabled").(bool); !ok || mt != federation {
		t.Errorf("%s: query_frontend.multi_tenant_queries_enabled = %v, want %v (as TRACEGATE_ALLOW_FEDERATION)", hostConfig, dig(cfg, "query_frontend", "multi_tenant_queries_enabled"), federation)
	}

	// tracegate reaches Tempo's query port by service name.
	u, err := url.Parse(env[envPrefix+"TEMPO_URL"])
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "tempo" || u.Port() != fmt.Sprint(dig(cfg, "server", "http_listen_port")) {
		t.Errorf("TRACEGATE_TEMPO_URL %q: want host tempo and port %v (server.http_listen_port)", u, dig(cfg, "server", "http_listen_port"))
	}

	// Tempo is only on internal networks, one of them shared with tracegate.
	tempoNets, tgNets := digList(tempo, "networks"), digList(tg, "networks")
	if len(tempoNets) == 0 {
		t.Fatal("tempo: list its networks explicitly (the default network is not internal)")
	}
	shared := false
	for _, n := range tempoNets {
		if dig(compose, "networks", n, "internal") != true {
			t.Errorf("tempo is on network %v, which is not internal", n)
		}
		shared = shared || slices.Contains(tgNets, n)
	}
	if !shared {
		t.Errorf("tempo (%v) and tracegate (%v) share no network", tempoNets, tgNets)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
