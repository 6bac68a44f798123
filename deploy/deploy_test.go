// Package deploy_test checks the deployment files (the Dockerfile and
// .dockerignore at the repository root, compose/ and kubernetes/ here).
// None of them can be run here (no Docker engine, no cluster), so these
// tests check what can be checked without one: every file parses, the
// Docker build context builds the binary, and that binary — as the image
// would run it — knows every TRACEGATE_* name used here ("tracegate config
// --list"), accepts the Compose and Kubernetes environments ("tracegate
// config --check") and answers its HEALTHCHECK; the Kubernetes objects are
// wired to each other (selectors, ports, probes, NetworkPolicies).
//
// A test-only package: it imports nothing of tracegate and talks to it only
// through the binary, like an operator.
package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = ".."

const envPrefix = "TRACEGATE_"

// envNamePattern finds names in tracegate's prefix in any text.
var envNamePattern = regexp.MustCompile(`\bTRACEGATE_[A-Z0-9_]*[A-Z0-9]\b`)

// binDir holds the binary built from the Docker build context.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tracegate-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary builds tracegate once, from exactly the files .dockerignore
// lets into the build context and with the Dockerfile's own go build
// command: what `docker build` does, minus Docker.
var buildBinary = sync.OnceValues(func() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build the image's binary: %w", err)
	}
	files, err := dockerContext()
	if err != nil {
		return "", err
	}
	ctxDir := filepath.Join(binDir, "context")
	for _, f := range files {
		if err := copyFile(filepath.Join(repoRoot, filepath.FromSlash(f)), filepath.Join(ctxDir, filepath.FromSlash(f))); err != nil {
			return "", err
		}
	}
	stages, err := dockerStages()
	if err != nil {
		return "", err
	}
	args, env, err := dockerBuildCommand(stages[0])
	if err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, "tracegate")
	i := slices.Index(args, "-o")
	if i < 0 || i+1 >= len(args) {
		return "", fmt.Errorf("go build %v: no -o", args)
	}
	args[i+1] = bin
	cmd := exec.Command(goBin, append([]string{"build"}, args...)...)
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in the Docker build context: %w\n%s", err, out)
	}
	return bin, nil
})

func copyFile(src, dst string) error {
	info, err := os.Lstat(src)
	if err != nil || !info.Mode().IsRegular() {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, info.Mode().Perm())
}

// runTracegate runs the built binary with args and exactly environ as its
// environment, and returns what it printed (stdout and stderr).
func runTracegate(ctx context.Context, environ map[string]string, args ...string) (string, error) {
	bin, err := buildBinary()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{}
	for k, v := range environ {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tracegate %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// checkConfig runs "tracegate config --check" on environ: nil when
// tracegate would accept it.
func checkConfig(t *testing.T, environ map[string]string) error {
	t.Helper()
	_, err := runTracegate(t.Context(), environ, "config", "--check")
	return err
}

// setting is one setting of "tracegate config --list".
type setting struct {
	Default  string
	Required bool
}

// listedSetting matches one setting of "tracegate config --list": its
// description line, then #NAME=default.
var listedSetting = regexp.MustCompile(`(?m)^# (required: )?.+\n#(TRACEGATE_[A-Z0-9_]+)=(.*)$`)

var listSettings = sync.OnceValues(func() (map[string]setting, error) {
	out, err := runTracegate(context.Background(), nil, "config", "--list")
	if err != nil {
		return nil, err
	}
	vars := map[string]setting{}
	for _, m := range listedSetting.FindAllStringSubmatch(out, -1) {
		vars[m[2]] = setting{Required: m[1] != "", Default: m[3]}
	}
	if len(vars) < 10 {
		return nil, fmt.Errorf("tracegate config --list: only %d settings found in\n%s", len(vars), out)
	}
	return vars, nil
})

// settings returns every setting tracegate reads, by name, as
// "tracegate config --list" prints them.
func settings(t *testing.T) map[string]setting {
	t.Helper()
	vars, err := listSettings()
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

// envDuration returns the duration setting name of environ, or its default.
func envDuration(t *testing.T, environ map[string]string, name string) time.Duration {
	t.Helper()
	s, ok := environ[name]
	if !ok {
		s = settings(t)[name].Default
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s %q: %v", name, s, err)
	}
	return d
}

// listenPort returns the port of TRACEGATE_LISTEN_ADDR in environ, or of its default.
func listenPort(t *testing.T, environ map[string]string) int {
	t.Helper()
	addr, ok := environ[envPrefix+"LISTEN_ADDR"]
	if !ok {
		addr = settings(t)[envPrefix+"LISTEN_ADDR"].Default
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

// --- YAML -------------------------------------------------------------------

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

// nonRootUser reports whether a "uid[:gid]" user is numeric and not root.
func nonRootUser(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	return err == nil && n > 0
}

// --- Names ------------------------------------------------------------------

// TestDeployEnvNames checks every TRACEGATE_* name under deploy/ against
// "tracegate config --list": the structured ones (Compose environment keys,
// ConfigMap data keys, container env names) and any other mention,
// comments and README included.
func TestDeployEnvNames(t *testing.T) {
	t.Parallel()
	known := settings(t)
	structured := 0
	check := func(where, name string) {
		if _, ok := known[name]; !ok {
			t.Errorf("%s: %s is not a tracegate setting (tracegate config --list does not list it)", where, name)
		}
	}
	err := filepath.WalkDir(".", func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(file, ".go") {
			return err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		for _, name := range envNamePattern.FindAllString(string(b), -1) {
			check(file, name)
		}
		if ext := filepath.Ext(file); ext != ".yaml" && ext != ".yml" {
			return nil
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
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if structured < 5 {
		t.Errorf("found only %d TRACEGATE_* settings in deploy/: the parsing above missed them", structured)
	}
}
