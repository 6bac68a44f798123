package main

// Checks of the deployment files (Dockerfile, .dockerignore, deploy/): none
// of them can be run here (no Docker engine, no cluster), so these tests
// check what can be checked without one: every file parses, every
// TRACEGATE_* name exists, the settings pass tracegate's own configuration
// parser, the Kubernetes objects are wired to each other (selectors, ports,
// probes, NetworkPolicies), and the Docker build context builds the binary.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository root, seen from this package's directory.
var repoRoot = filepath.Join("..", "..")

// envVar is one setting of config as caarlos0/env reads it.
type envVar struct {
	Name       string // with the TRACEGATE_ prefix
	Default    string
	HasDefault bool
	Required   bool
}

// configEnvVars returns every environment variable config reads, by
// reflection over its env tags (env:"NAME,opts", envDefault, envPrefix on
// nested structs), so that no list here can drift from config.go.
func configEnvVars(t *testing.T) map[string]envVar {
	t.Helper()
	vars := map[string]envVar{}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, ok := f.Tag.Lookup("env")
			if !ok {
				if p, nested := f.Tag.Lookup("envPrefix"); nested && f.Type.Kind() == reflect.Struct {
					walk(f.Type, prefix+p)
				}
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				t.Fatalf("config.%s: env tag %q without a name", f.Name, tag)
			}
			v := envVar{Name: prefix + name}
			v.Required = slices.Contains(strings.Split(opts, ","), "required")
			v.Default, v.HasDefault = f.Tag.Lookup("envDefault")
			vars[v.Name] = v
		}
	}
	walk(reflect.TypeFor[config](), envPrefix)
	if len(vars) < 10 {
		t.Fatalf("found only %d env tags on config: has the struct changed shape?", len(vars))
	}
	return vars
}

// envNamePattern finds names in tracegate's prefix in any text.
var envNamePattern = regexp.MustCompile(`\bTRACEGATE_[A-Z0-9_]*[A-Z0-9]\b`)

// listenPort returns the port of TRACEGATE_LISTEN_ADDR in environ, or of its default.
func listenPort(t *testing.T, environ map[string]string) int {
	t.Helper()
	addr, ok := environ[envPrefix+"LISTEN_ADDR"]
	if !ok {
		addr = configEnvVars(t)[envPrefix+"LISTEN_ADDR"].Default
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return n
}

// --- YAML helpers ---------------------------------------------------------

// yamlDocs parses every document of a (multi-document) YAML file.
func yamlDocs(t *testing.T, file string) []map[string]any {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if doc != nil { // an empty document (e.g. a trailing ---)
			docs = append(docs, doc)
		}
	}
}

// dig walks maps (string keys) and lists (int indexes); nil when absent.
func dig(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func digString(v any, keys ...any) string { s, _ := dig(v, keys...).(string); return s }
func digList(v any, keys ...any) []any    { l, _ := dig(v, keys...).([]any); return l }
func digMap(v any, keys ...any) map[string]any {
	m, _ := dig(v, keys...).(map[string]any)
	return m
}

// deployFiles returns every file under deploy/, as paths from the repository root.
func deployFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "deploy"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files under deploy/")
	}
	return files
}

func isYAML(file string) bool {
	ext := filepath.Ext(file)
	return ext == ".yaml" || ext == ".yml"
}

// --- Compose --------------------------------------------------------------

var composeFile = filepath.Join(repoRoot, "deploy", "compose", "compose.yaml")

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

// nonRootUser reports whether a "uid[:gid]" user is numeric and not root.
func nonRootUser(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	return err == nil && n > 0
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
	if _, err := parseConfig(environ); err != nil {
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

// --- Names ----------------------------------------------------------------

// TestDeployEnvNames checks every TRACEGATE_* name under deploy/ against the
// config struct: the structured ones (Compose environment keys, ConfigMap
// data keys, container env names) and any other mention, comments and
// README included.
func TestDeployEnvNames(t *testing.T) {
	t.Parallel()
	known := configEnvVars(t)
	structured := 0
	check := func(where, name string) {
		if _, ok := known[name]; !ok {
			t.Errorf("%s: %s is not a tracegate setting (config has no env tag %q)", where, name, strings.TrimPrefix(name, envPrefix))
		}
	}
	for _, file := range deployFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range envNamePattern.FindAllString(string(b), -1) {
			check(file, name)
		}
		if !isYAML(file) {
			continue
		}
		for _, doc := range yamlDocs(t, file) {
			var names []string
			for _, svc := range digMap(doc, "services") { // Compose
				if m, ok := svc.(map[string]any); ok {
					for k := range composeEnvironment(t, m) {
						names = append(names, k)
					}
				}
			}
			if digString(doc, "kind") == "ConfigMap" {
				for k := range digMap(doc, "data") {
					names = append(names, k)
				}
			}
			for _, c := range podContainers(doc) {
				for _, e := range digList(c, "env") {
					names = append(names, digString(e, "name"))
				}
			}
			for _, name := range names {
				if strings.HasPrefix(name, envPrefix) {
					structured++
					check(file, name)
				}
			}
		}
	}
	if structured < 5 {
		t.Errorf("found only %d TRACEGATE_* settings in deploy/: the parsing above missed them", structured)
	}
}

// --- Kubernetes -------------------------------------------------------------

type k8sObject struct {
	file string
	doc  map[string]any
}

func (o k8sObject) kind() string      { return digString(o.doc, "kind") }
func (o k8sObject) name() string      { return digString(o.doc, "metadata", "name") }
func (o k8sObject) namespace() string { return digString(o.doc, "metadata", "namespace") }
func (o k8sObject) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.kind(), o.namespace(), o.name(), o.file)
}

func loadManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "deploy", "kubernetes", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			objs = append(objs, k8sObject{file: filepath.Base(f), doc: doc})
		}
	}
	return objs
}

func byKind(objs []k8sObject, kind string) []k8sObject {
	var out []k8sObject
	for _, o := range objs {
		if o.kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// podContainers returns the containers of a Deployment-like object.
func podContainers(doc map[string]any) []any {
	return digList(doc, "spec", "template", "spec", "containers")
}

// matchLabels returns a label selector's matchLabels; it fails on
// matchExpressions, which these tests cannot evaluate.
func matchLabels(t *testing.T, where string, selector any) map[string]string {
	t.Helper()
	if dig(selector, "matchExpressions") != nil {
		t.Errorf("%s: matchExpressions are not checked by these tests; use matchLabels", where)
	}
	out := map[string]string{}
	for k, v := range digMap(selector, "matchLabels") {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// labelsMatch reports whether selector (matchLabels) selects labels.
func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	for k, x := range digMap(v) {
		out[k] = fmt.Sprint(x)
	}
	return out
}

// tracegateDeployment returns the Deployment, its pod labels, its selector,
// the tracegate container and the environment it gets (ConfigMaps by
// envFrom plus literal env values).
type deploymentView struct {
	obj       k8sObject
	podLabels map[string]string
	selector  map[string]string
	container map[string]any
	environ   map[string]string
}

func tracegateDeployment(t *testing.T, objs []k8sObject) deploymentView {
	t.Helper()
	deps := byKind(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("want exactly one Deployment, got %d", len(deps))
	}
	d := deploymentView{obj: deps[0]}
	d.podLabels = stringMap(dig(d.obj.doc, "spec", "template", "metadata", "labels"))
	d.selector = matchLabels(t, d.obj.String(), dig(d.obj.doc, "spec", "selector"))
	cs := podContainers(d.obj.doc)
	if len(cs) != 1 {
		t.Fatalf("%s: want one container, got %d", d.obj, len(cs))
	}
	d.container = digMap(cs[0])
	d.environ = map[string]string{}
	for _, ef := range digList(d.container, "envFrom") {
		name := digString(ef, "configMapRef", "name")
		if name == "" {
			t.Errorf("%s: envFrom %v: only configMapRef is checked", d.obj, ef)
			continue
		}
		found := false
		for _, cm := range byKind(objs, "ConfigMap") {
			if cm.name() == name && cm.namespace() == d.obj.namespace() {
				found = true
				for k, v := range digMap(cm.doc, "data") {
					s, ok := v.(string)
					if !ok {
						t.Errorf("%s: data %s is a YAML %T; ConfigMap values must be strings (quote it)", cm, k, v)
					}
					d.environ[k] = s
				}
			}
		}
		if !found {
			t.Errorf("%s: envFrom ConfigMap %q is not among the manifests (namespace %s)", d.obj, name, d.obj.namespace())
		}
	}
	for _, e := range digList(d.container, "env") {
		if v, ok := dig(e, "value").(string); ok {
			d.environ[digString(e, "name")] = v
		}
	}
	return d
}

func TestDeployKubernetesObjects(t *testing.T) {
	t.Parallel()
	objs := loadManifests(t)
	for _, o := range objs {
		if digString(o.doc, "apiVersion") == "" || o.kind() == "" || o.name() == "" {
			t.Errorf("%s: a document without apiVersion, kind or metadata.name: %v", o.file, o.doc)
		}
		if o.kind() != "Namespace" && o.namespace() == "" {
			t.Errorf("%s: no metadata.namespace (the manifests are applied without kustomize or -n)", o)
		}
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy"} {
		if len(byKind(objs, kind)) == 0 {
			t.Errorf("no %s among the manifests", kind)
		}
	}
	// Every namespace tracegate's objects use is created here (Tempo's is not ours).
	d := tracegateDeployment(t, objs)
	if !slices.ContainsFunc(byKind(objs, "Namespace"), func(o k8sObject) bool { return o.name() == d.obj.namespace() }) {
		t.Errorf("namespace %s of the Deployment is not created by the manifests", d.obj.namespace())
	}
}

func TestDeployKubernetesDeployment(t *testing.T) {
	t.Parallel()
	objs := loadManifests(t)
	d := tracegateDeployment(t, objs)
	spec := digMap(d.obj.doc, "spec")
	pod := digMap(spec, "template", "spec")
	c := d.container

	if replicas, _ := spec["replicas"].(int); replicas < 2 {
		t.Errorf("%s: replicas %v, want at least 2", d.obj, spec["replicas"])
	}
	if len(d.selector) == 0 || !labelsMatch(d.selector, d.podLabels) {
		t.Errorf("%s: selector %v does not select the pod labels %v", d.obj, d.selector, d.podLabels)
	}
	cfg, err := parseConfig(d.environ)
	if err != nil {
		t.Errorf("%s: the environment from its ConfigMap is not a valid configuration: %v", d.obj, err)
	}

	// Security context: pod or container level.
	sc := func(key string) any {
		if v := dig(c, "securityContext", key); v != nil {
			return v
		}
		return dig(pod, "securityContext", key)
	}
	if sc("runAsNonRoot") != true {
		t.Errorf("%s: runAsNonRoot must be true", d.obj)
	}
	if uid, ok := sc("runAsUser").(int); ok && uid == 0 {
		t.Errorf("%s: runAsUser 0", d.obj)
	}
	if dig(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Errorf("%s: readOnlyRootFilesystem must be true", d.obj)
	}
	if dig(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("%s: allowPrivilegeEscalation must be false", d.obj)
	}
	if !slices.Contains(digList(c, "securityContext", "capabilities", "drop"), any("ALL")) {
		t.Errorf("%s: capabilities must drop ALL", d.obj)
	}
	if digString(sc("seccompProfile"), "type") != "RuntimeDefault" {
		t.Errorf("%s: seccompProfile RuntimeDefault expected (restricted Pod Security Standard)", d.obj)
	}
	if pod["enableServiceLinks"] != false {
		t.Errorf("%s: enableServiceLinks must be false: service variables of a Service named tracegate fall in the %s prefix", d.obj, envPrefix)
	}
	if pod["automountServiceAccountToken"] != false {
		t.Errorf("%s: automountServiceAccountToken must be false: tracegate does not call the Kubernetes API", d.obj)
	}
	for _, r := range []string{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory"} {
		kind, res, _ := strings.Cut(r, ".")
		if dig(c, "resources", kind, res) == nil {
			t.Errorf("%s: resources.%s missing", d.obj, r)
		}
	}

	// Probes: the right paths, on the port tracegate serves them on (the
	// admin listener when there is one).
	port := listenPort(t, d.environ)
	portNames := map[string]bool{}
	for _, p := range digList(c, "ports") {
		if dig(p, "containerPort") == port {
			portNames[digString(p, "name")] = true
		}
	}
	if len(portNames) == 0 {
		t.Fatalf("%s: no containerPort %d (TRACEGATE_LISTEN_ADDR)", d.obj, port)
	}
	probePort, probePortNames := port, portNames
	if admin := d.environ[envPrefix+"ADMIN_LISTEN_ADDR"]; admin != "" {
		probePort = listenPort(t, map[string]string{envPrefix + "LISTEN_ADDR": admin})
		probePortNames = map[string]bool{}
		for _, p := range digList(c, "ports") {
			if dig(p, "containerPort") == probePort {
				probePortNames[digString(p, "name")] = true
			}
		}
		if len(probePortNames) == 0 {
			t.Fatalf("%s: no containerPort %d (TRACEGATE_ADMIN_LISTEN_ADDR)", d.obj, probePort)
		}
		if scrape := digString(d.obj.doc, "spec", "template", "metadata", "annotations", "prometheus.io/port"); scrape != "" && scrape != strconv.Itoa(probePort) {
			t.Errorf("%s: prometheus.io/port %s, but /metrics is on %d", d.obj, scrape, probePort)
		}
	}
	for probe, want := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := digString(c, probe, "httpGet", "path"); got != want {
			t.Errorf("%s: %s path %q, want %q", d.obj, probe, got, want)
		}
		scheme := digString(c, probe, "httpGet", "scheme")
		if tls := d.environ[envPrefix+"TLS_CERT_FILE"] != ""; tls != (scheme == "HTTPS") {
			t.Errorf("%s: %s scheme %q, but tracegate serves TLS: %v (TRACEGATE_TLS_CERT_FILE)", d.obj, probe, scheme, tls)
		}
		switch p := dig(c, probe, "httpGet", "port").(type) {
		case int:
			if p != probePort {
				t.Errorf("%s: %s port %d, tracegate serves %s on %d", d.obj, probe, p, want, probePort)
			}
		case string:
			if !probePortNames[p] {
				t.Errorf("%s: %s port %q is not the name of containerPort %d", d.obj, probe, p, probePort)
			}
		default:
			t.Errorf("%s: %s has no httpGet port", d.obj, probe)
		}
	}

	// Graceful shutdown fits in the grace period.
	grace, _ := pod["terminationGracePeriodSeconds"].(int)
	if grace == 0 {
		grace = 30 // Kubernetes' default
	}
	preStop, _ := dig(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if need := time.Duration(preStop)*time.Second + cfg.ShutdownTimeout; time.Duration(grace)*time.Second <= need {
		t.Errorf("%s: terminationGracePeriodSeconds %d must exceed preStop sleep + TRACEGATE_SHUTDOWN_TIMEOUT (%s)", d.obj, grace, need)
	}

	// Service and PodDisruptionBudget select these pods.
	for _, svc := range byKind(objs, "Service") {
		sel := stringMap(dig(svc.doc, "spec", "selector"))
		if len(sel) == 0 || !labelsMatch(sel, d.podLabels) {
			t.Errorf("%s: selector %v does not select tracegate's pods %v", svc, sel, d.podLabels)
		}
		if svc.namespace() != d.obj.namespace() {
			t.Errorf("%s: not in tracegate's namespace %s", svc, d.obj.namespace())
		}
		for _, p := range digList(svc.doc, "spec", "ports") {
			switch tp := dig(p, "targetPort").(type) {
			case string:
				if !portNames[tp] {
					t.Errorf("%s: targetPort %q is not the name of containerPort %d", svc, tp, port)
				}
			case int:
				if tp != port {
					t.Errorf("%s: targetPort %d, tracegate listens on %d", svc, tp, port)
				}
			}
		}
	}
	for _, pdb := range byKind(objs, "PodDisruptionBudget") {
		sel := matchLabels(t, pdb.String(), dig(pdb.doc, "spec", "selector"))
		if len(sel) == 0 || !labelsMatch(sel, d.podLabels) {
			t.Errorf("%s: selector %v does not select tracegate's pods %v", pdb, sel, d.podLabels)
		}
		if pdb.namespace() != d.obj.namespace() {
			t.Errorf("%s: not in tracegate's namespace %s", pdb, d.obj.namespace())
		}
		if min, ok := dig(pdb.doc, "spec", "minAvailable").(int); ok {
			if replicas, _ := spec["replicas"].(int); min >= replicas {
				t.Errorf("%s: minAvailable %d with %d replicas blocks every node drain", pdb, min, replicas)
			}
		}
	}
}

// tempoTarget is where TRACEGATE_TEMPO_URL points: a Service in a namespace, a port.
type tempoTarget struct {
	service, namespace string
	port               int
}

func tempoURLTarget(t *testing.T, d deploymentView) tempoTarget {
	t.Helper()
	raw := d.environ[envPrefix+"TEMPO_URL"]
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TRACEGATE_TEMPO_URL %q: %v", raw, err)
	}
	labels := strings.Split(u.Hostname(), ".")
	port, err := strconv.Atoi(u.Port())
	if len(labels) < 3 || labels[2] != "svc" || err != nil {
		t.Fatalf("TRACEGATE_TEMPO_URL %q: want http://<service>.<namespace>.svc[.cluster.local]:<port>", raw)
	}
	return tempoTarget{service: labels[0], namespace: labels[1], port: port}
}

// rulePorts reports whether a NetworkPolicy rule's ports admit port/protocol
// (no ports = every port). Named ports cannot be resolved here: an error.
func rulePorts(t *testing.T, where string, rule any, port int, protocol string) bool {
	t.Helper()
	ports := digList(rule, "ports")
	if ports == nil {
		return true
	}
	for _, p := range ports {
		proto := digString(p, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		if proto != protocol {
			continue
		}
		switch n := dig(p, "port").(type) {
		case nil:
			return true // every port of that protocol
		case int:
			end, ok := dig(p, "endPort").(int)
			if n == port || (ok && n <= port && port <= end) {
				return true
			}
		default:
			t.Errorf("%s: port %v: named ports are not checked by these tests; use numbers", where, n)
		}
	}
	return false
}

// TestDeployTempoNetworkPolicy checks that Tempo's query port admits only
// tracegate's pods: every ingress rule of every NetworkPolicy in Tempo's
// namespace that admits the port must name, as its only peers, tracegate's
// pods (by the Deployment's own selector labels) in tracegate's namespace.
func TestDeployTempoNetworkPolicy(t *testing.T) {
	t.Parallel()
	objs := loadManifests(t)
	d := tracegateDeployment(t, objs)
	target := tempoURLTarget(t, d)

	guarding := 0
	var tempoSelectors []map[string]string
	for _, np := range byKind(objs, "NetworkPolicy") {
		if np.namespace() != target.namespace {
			continue
		}
		types := digList(np.doc, "spec", "policyTypes")
		if types != nil && !slices.Contains(types, any("Ingress")) {
			continue
		}
		for i, rule := range digList(np.doc, "spec", "ingress") {
			where := fmt.Sprintf("%s ingress[%d]", np, i)
			if !rulePorts(t, where, rule, target.port, "TCP") {
				continue
			}
			guarding++
			from := digList(rule, "from")
			if len(from) == 0 {
				t.Errorf("%s: admits port %d from everywhere", where, target.port)
			}
			for j, peer := range from {
				pw := fmt.Sprintf("%s from[%d]", where, j)
				if dig(peer, "ipBlock") != nil {
					t.Errorf("%s: an ipBlock admits more than tracegate's pods", pw)
				}
				ps, present := digMap(peer)["podSelector"]
				pods := matchLabels(t, pw, ps)
				if !present || len(pods) == 0 {
					t.Errorf("%s: no podSelector (or an empty one): admits every pod", pw)
				} else if !labelsMatch(d.selector, pods) || !labelsMatch(pods, d.podLabels) {
					t.Errorf("%s: podSelector %v must contain the Deployment's selector %v and select its pods %v", pw, pods, d.selector, d.podLabels)
				}
				nsSel, hasNS := digMap(peer)["namespaceSelector"]
				switch {
				case hasNS:
					ns := matchLabels(t, pw, nsSel)
					if ns["kubernetes.io/metadata.name"] != d.obj.namespace() {
						t.Errorf("%s: namespaceSelector %v must select tracegate's namespace %s by kubernetes.io/metadata.name", pw, ns, d.obj.namespace())
					}
				case np.namespace() != d.obj.namespace():
					t.Errorf("%s: without a namespaceSelector the podSelector selects pods of %s, not tracegate's namespace %s", pw, np.namespace(), d.obj.namespace())
				}
			}
		}
		tempoSelectors = append(tempoSelectors, matchLabels(t, np.String(), dig(np.doc, "spec", "podSelector")))
	}
	if guarding == 0 {
		t.Fatalf("no NetworkPolicy in namespace %s restricts ingress to port %d (TRACEGATE_TEMPO_URL)", target.namespace, target.port)
	}

	// tracegate's own policy lets it out to exactly those Tempo pods, to DNS,
	// and in on its port.
	var own []k8sObject
	for _, np := range byKind(objs, "NetworkPolicy") {
		if np.namespace() == d.obj.namespace() && labelsMatch(matchLabels(t, np.String(), dig(np.doc, "spec", "podSelector")), d.podLabels) {
			own = append(own, np)
		}
	}
	if len(own) == 0 {
		t.Fatal("no NetworkPolicy selects tracegate's pods")
	}
	var toTempo, toDNS, in bool
	for _, np := range own {
		for _, rule := range digList(np.doc, "spec", "egress") {
			if rulePorts(t, np.String(), rule, 53, "UDP") && len(digList(rule, "to")) > 0 {
				toDNS = true
			}
			if !rulePorts(t, np.String(), rule, target.port, "TCP") {
				continue
			}
			for _, peer := range digList(rule, "to") {
				ns := matchLabels(t, np.String(), dig(peer, "namespaceSelector"))
				pods := matchLabels(t, np.String(), dig(peer, "podSelector"))
				if ns["kubernetes.io/metadata.name"] == target.namespace &&
					slices.ContainsFunc(tempoSelectors, func(s map[string]string) bool { return reflect.DeepEqual(s, pods) }) {
					toTempo = true
				}
			}
		}
		for _, rule := range digList(np.doc, "spec", "ingress") {
			if rulePorts(t, np.String(), rule, listenPort(t, d.environ), "TCP") {
				in = true
			}
		}
	}
	if !toTempo {
		t.Errorf("tracegate's NetworkPolicy has no egress rule to the Tempo pods the Tempo policy guards (namespace %s, port %d)", target.namespace, target.port)
	}
	if !toDNS {
		t.Error("tracegate's NetworkPolicy has no egress rule for DNS (UDP 53)")
	}
	if !in {
		t.Error("tracegate's NetworkPolicy admits no ingress on tracegate's port")
	}
}

// --- Dockerfile ---------------------------------------------------------------

type dockerInstruction struct {
	cmd  string // upper case
	args string
}

// dockerStages parses a Dockerfile into stages of instructions (comments
// dropped, continuation lines joined).
func dockerStages(t *testing.T) [][]dockerInstruction {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]dockerInstruction
	var line string
	for _, raw := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && line == "") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			line += s + " "
			continue
		}
		line += trimmed
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		in := dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build and a final stage", len(stages))
	}
	return stages
}

func jsonArray(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Errorf("%q is not an exec-form JSON array: %v", s, err)
	}
	return out
}

// dockerBuildCommand returns the arguments of the build stage's "go build"
// and the environment it runs with (ENV of the stage and inline assignments).
func dockerBuildCommand(t *testing.T, stage []dockerInstruction) (args []string, env map[string]string) {
	t.Helper()
	env = map[string]string{}
	for _, in := range stage {
		if in.cmd == "ENV" {
			for _, w := range shellWords(t, in.args) {
				if k, v, ok := strings.Cut(w, "="); ok {
					env[k] = v
				}
			}
		}
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		words := shellWords(t, in.args)
		for i := range len(words) - 1 {
			if words[i] != "go" || words[i+1] != "build" {
				continue
			}
			for _, w := range words[:i] { // inline VAR=value before the command
				if k, v, ok := strings.Cut(w, "="); ok && !strings.HasPrefix(k, "-") {
					env[k] = v
				}
			}
			return words[i+2:], env
		}
		t.Fatalf("Dockerfile: cannot find go build in %q", in.args)
	}
	t.Fatal("Dockerfile: no RUN go build in the build stage")
	return nil, nil
}

// shellWords splits a shell command line into words (quotes removed).
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func TestDeployDockerfile(t *testing.T) {
	t.Parallel()
	stages := dockerStages(t)
	build, final := stages[0], stages[len(stages)-1]

	// The build stage uses the Go of go.mod.
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod: no go line")
	}
	from := strings.Fields(build[0].args)
	if len(from) != 3 || !strings.HasPrefix(from[0], "golang:"+string(m[1])) || !strings.EqualFold(from[1], "AS") {
		t.Errorf("build stage FROM %q: want golang:%s... AS <name>", build[0].args, m[1])
	}
	args, env := dockerBuildCommand(t, build)
	if env["CGO_ENABLED"] != "0" {
		t.Errorf("go build runs with CGO_ENABLED=%q, want 0 (a static binary for distroless/static)", env["CGO_ENABLED"])
	}
	if got, want := strings.Join(args, " "), "-trimpath -ldflags=-s -w -o /out/tracegate ./cmd/tracegate"; got != want {
		t.Errorf("go build %s, want %s", got, want)
	}

	if got := final[0].args; got != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %q, want gcr.io/distroless/static-debian12:nonroot", got)
	}
	found := map[string]string{}
	for _, in := range final {
		found[in.cmd] = in.args // the last one counts, as in Docker
	}
	buildName := strings.Fields(build[0].args)[2]
	if got, want := found["COPY"], "--from="+buildName+" /out/tracegate /tracegate"; got != want {
		t.Errorf("final COPY %q, want %q", got, want)
	}
	if !nonRootUser(found["USER"]) {
		t.Errorf("final USER %q: want a numeric non-root uid (Kubernetes' runAsNonRoot cannot verify names)", found["USER"])
	}
	if got, want := found["EXPOSE"], fmt.Sprint(listenPort(t, nil)); got != want && got != want+"/tcp" {
		t.Errorf("EXPOSE %q, want %s (the default of TRACEGATE_LISTEN_ADDR)", got, want)
	}
	if got := jsonArray(t, found["ENTRYPOINT"]); !slices.Equal(got, []string{"/tracegate"}) {
		t.Errorf("ENTRYPOINT %v, want [/tracegate]", got)
	}
	if got := jsonArray(t, found["CMD"]); !slices.Equal(got, []string{"serve"}) {
		t.Errorf("CMD %v, want [serve]", got)
	}
	_, probe, ok := strings.Cut(found["HEALTHCHECK"], "CMD ")
	if got := jsonArray(t, probe); !ok || !slices.Equal(got, []string{"/tracegate", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q, want ... CMD [\"/tracegate\", \"healthcheck\"]", found["HEALTHCHECK"])
	}
}

// --- .dockerignore and the build context -------------------------------------

type ignorePattern struct {
	text      string
	exclusion bool // a "!" pattern: include again
	re        *regexp.Regexp
}

// dockerIgnore parses .dockerignore with Docker's rules: paths relative to
// the context root, "*" and "?" within one path element, "**" across any
// number of them, a pattern that matches a directory matches everything in
// it, "!" includes again, and the last matching pattern wins.
func dockerIgnore(t *testing.T) []ignorePattern {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var out []ignorePattern
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.exclusion, line = true, strings.TrimSpace(rest)
		}
		p.text = path.Clean(strings.TrimPrefix(filepath.ToSlash(line), "/"))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(p.text); i++ {
			switch c := p.text[i]; {
			case strings.HasPrefix(p.text[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(p.text[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		p.re = regexp.MustCompile(re.String())
		out = append(out, p)
	}
	return out
}

// matchesOrParent reports whether p matches name or one of its parent directories.
func (p ignorePattern) matchesOrParent(name string) bool {
	for n := name; n != "." && n != "/" && n != ""; n = path.Dir(n) {
		if p.re.MatchString(n) {
			return true
		}
	}
	return false
}

func ignored(patterns []ignorePattern, name string) bool {
	out := false
	for _, p := range patterns {
		if p.matchesOrParent(name) {
			out = !p.exclusion
		}
	}
	return out
}

// dockerContext returns the files of the build context (slash paths from
// the repository root), as Docker would send them.
func dockerContext(t *testing.T) []string {
	t.Helper()
	patterns := dockerIgnore(t)
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if ignored(patterns, rel) && !slices.ContainsFunc(patterns, func(x ignorePattern) bool {
				return x.exclusion && (strings.HasPrefix(x.text, rel+"/") || strings.HasPrefix(x.text, "**"))
			}) {
				return filepath.SkipDir
			}
			return nil
		}
		if !ignored(patterns, rel) {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDeployDockerignore(t *testing.T) {
	t.Parallel()
	patterns := dockerIgnore(t)
	for name, want := range map[string]bool{
		".git/config": true, "node_modules/x/package.json": true, "internal/x/node_modules/y": true,
		"dist/ts/client.js": true, "bin/tracegate": true, "tracegate": true, ".env": true, "deploy/compose/.env": true,
		"deploy/compose/compose.yaml": true, "testdata/tempo/ingested/acme-big.json": true,
		"internal/standin/testdata/x.json": true, "docs/security.md": true, "README.md": true,
		"cmd/tracegate/main.go": false, "cmd/tracegate/tracegate": false, "go.mod": false, "go.sum": false,
		"assets.go": false, "openapi.yaml": false, "docs/api/index.html": false, "docs/api/csp.txt": false,
		"gen/api/api.gen.go": false, "internal/auth/auth.go": false,
	} {
		if got := ignored(patterns, name); got != want {
			t.Errorf("ignored(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDeployDockerContext builds the binary from exactly the files
// .dockerignore lets into the build context, with the Dockerfile's own go
// build command, and runs it: what `docker build` would do, minus Docker.
func TestDeployDockerContext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	files := dockerContext(t)
	ctxDir := t.TempDir()
	var size int64
	for _, f := range files {
		src := filepath.Join(repoRoot, filepath.FromSlash(f))
		info, err := os.Lstat(src)
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		size += info.Size()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(ctxDir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if size > 32<<20 {
		t.Errorf("build context is %d MiB: .dockerignore lets too much through", size>>20)
	}
	for _, f := range files {
		for _, banned := range []string{".git/", "node_modules/", "deploy/", "testdata/"} {
			if strings.HasPrefix(f, banned) || strings.Contains(f, "/"+banned) {
				t.Errorf("build context contains %s", f)
			}
		}
	}

	args, env := dockerBuildCommand(t, dockerStages(t)[0])
	bin := filepath.Join(t.TempDir(), "tracegate")
	if i := slices.Index(args, "-o"); i >= 0 && i+1 < len(args) {
		args[i+1] = bin
	} else {
		t.Fatalf("go build %v: no -o", args)
	}
	cmd := exec.CommandContext(t.Context(), goBin, append([]string{"build"}, args...)...)
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in the Docker build context: %v\n%s", err, out)
	}

	out, err := exec.CommandContext(t.Context(), bin, "version").CombinedOutput()
	if want := "tracegate " + version(); err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("built binary: version = %q, %v; want %q", out, err, want)
	}

	// The image's HEALTHCHECK runs "/tracegate healthcheck".
	t.Run("healthcheck", func(t *testing.T) {
		srv := readyzServer(t, http.StatusOK, "application/json", `{"status":"ready","checks":[]}`)
		out, err := exec.CommandContext(t.Context(), bin, "healthcheck", "--url", srv.URL+"/readyz").CombinedOutput()
		if bytes.Contains(out, []byte(`unknown command "healthcheck"`)) {
			t.Skip(`run() does not dispatch "healthcheck" yet: the image's HEALTHCHECK would always fail`)
		}
		if err != nil || !bytes.Contains(out, []byte("answered 200")) {
			t.Errorf("built binary: healthcheck = %q, %v", out, err)
		}
	})
}

// TestHealthcheckIsACommand checks that run() dispatches "healthcheck", which
// the image's HEALTHCHECK and the Compose health check call.
func TestHealthcheckIsACommand(t *testing.T) {
	t.Parallel()
	srv := readyzServer(t, http.StatusOK, "application/json", `{"status":"ready","checks":[]}`)
	var out strings.Builder
	err := run(t.Context(), []string{"healthcheck", "--url", srv.URL + "/readyz"}, nil, &out)
	if err != nil && strings.Contains(err.Error(), `unknown command "healthcheck"`) {
		t.Skip(`run() does not dispatch "healthcheck" yet`)
	}
	if err != nil || !strings.Contains(out.String(), "answered 200 (ready)") {
		t.Errorf("run healthcheck: %v, output %q", err, out.String())
	}
}
