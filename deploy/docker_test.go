package deploy_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"go.yaml.in/yaml/v3"
	"mvdan.cc/sh/v3/shell"
)

// --- Dockerfile ---------------------------------------------------------------

type dockerInstruction struct {
	cmd  string // upper case
	args string
}

// dockerStages parses the Dockerfile into stages of instructions (comments
// dropped, continuation lines joined): the little of Dockerfile syntax it
// uses (no heredocs, no parser directives but the syntax line).
func dockerStages() ([][]dockerInstruction, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("Dockerfile: %s before FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		return nil, fmt.Errorf("Dockerfile: %d stages, want a build and a final stage", len(stages))
	}
	return stages, nil
}

func jsonArray(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Errorf("%q is not an exec-form JSON array: %v", s, err)
	}
	return out
}

// shellWords splits a shell command line into words, as the RUN's shell would.
func shellWords(s string) ([]string, error) {
	return shell.Fields(s, func(string) string { return "" })
}

// dockerBuildCommand returns the arguments of the build stage's "go build"
// and the environment it runs with (ENV of the stage and inline assignments).
func dockerBuildCommand(stage []dockerInstruction) (args []string, env map[string]string, err error) {
	env = map[string]string{}
	for _, in := range stage {
		if in.cmd != "ENV" && (in.cmd != "RUN" || !strings.Contains(in.args, "go build")) {
			continue
		}
		words, err := shellWords(in.args)
		if err != nil {
			return nil, nil, fmt.Errorf("Dockerfile: %s %s: %w", in.cmd, in.args, err)
		}
		if in.cmd == "ENV" {
			for _, w := range words {
				if k, v, ok := strings.Cut(w, "="); ok {
					env[k] = v
				}
			}
			continue
		}
		for i := range len(words) - 1 {
			if words[i] != "go" || words[i+1] != "build" {
				continue
			}
			for _, w := range words[:i] { // inline VAR=value before the command
				if k, v, ok := strings.Cut(w, "="); ok && !strings.HasPrefix(k, "-") {
					env[k] = v
				}
			}
			return words[i+2:], env, nil
		}
		return nil, nil, fmt.Errorf("Dockerfile: cannot find go build in %q", in.args)
	}
	return nil, nil, fmt.Errorf("Dockerfile: no RUN go build in the build stage")
}

func TestDeployDockerfile(t *testing.T) {
	t.Parallel()
	stages, err := dockerStages()
	if err != nil {
		t.Fatal(err)
	}
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
	args, env, err := dockerBuildCommand(build)
	if err != nil {
		t.Fatal(err)
	}
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

// dockerIgnore reads .dockerignore with Docker's own rules (moby/patternmatcher).
func dockerIgnore() (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return patternmatcher.New(patterns)
}

// dockerContext returns the files of the build context (slash paths from
// the repository root), as Docker would send them: it walks the tree like
// Docker's archiver, skipping an excluded directory unless an exclusion
// ("!") pattern could include something inside it.
func dockerContext() ([]string, error) {
	pm, err := dockerIgnore()
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		skip, err := pm.MatchesOrParentMatches(rel)
		if err != nil || !skip {
			if err == nil && !d.IsDir() {
				files = append(files, rel)
			}
			return err
		}
		if d.IsDir() && !slices.ContainsFunc(pm.Patterns(), func(p *patternmatcher.Pattern) bool {
			return p.Exclusion() && strings.HasPrefix(p.String()+"/", rel+"/")
		}) {
			return filepath.SkipDir
		}
		return nil
	})
	return files, err
}

func TestDeployDockerignore(t *testing.T) {
	t.Parallel()
	pm, err := dockerIgnore()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		".git/config": true, "node_modules/x/package.json": true, "internal/x/node_modules/y": true,
		"dist/ts/client.js": true, "bin/tracegate": true, "tracegate": true, ".env": true, "deploy/compose/.env": true,
		"deploy/compose/compose.yaml": true, "testdata/tempo/ingested/acme-big.json": true,
		"internal/standin/testdata/x.json": true, "docs/security.md": true, "README.md": true,
		"cmd/tracegate/main.go": false, "cmd/tracegate/tracegate": false, "go.mod": false, "go.sum": false,
		"assets.go": false, "openapi.yaml": false, "docs/api/index.html": false, "docs/api/csp.txt": false,
		"gen/api/api.gen.go": false, "internal/auth/auth.go": false,
	} {
		if got, err := pm.MatchesOrParentMatches(name); err != nil || got != want {
			t.Errorf("ignored(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}

// TestDeployDockerContext checks the build context and the binary built
// from it (buildBinary): its size, that nothing it must not hold is in it,
// and that the binary runs the commands the image and Compose call.
func TestDeployDockerContext(t *testing.T) {
	t.Parallel()
	files, err := dockerContext()
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, f := range files {
		if info, err := os.Lstat(filepath.Join(repoRoot, filepath.FromSlash(f))); err == nil && info.Mode().IsRegular() {
			size += info.Size()
		}
		for _, banned := range []string{".git/", "node_modules/", "deploy/", "testdata/"} {
			if strings.HasPrefix(f, banned) || strings.Contains(f, "/"+banned) {
				t.Errorf("build context contains %s", f)
			}
		}
	}
	if size > 32<<20 {
		t.Errorf("build context is %d MiB: .dockerignore lets too much through", size>>20)
	}
	if !slices.Contains(files, "cmd/tracegate/main.go") || !slices.Contains(files, "go.sum") {
		t.Fatalf("build context lacks the sources (%d files)", len(files))
	}

	// The version is openapi.yaml's.
	var spec struct {
		Info struct{ Version string } `yaml:"info"`
	}
	b, err := os.ReadFile(filepath.Join(repoRoot, "openapi.yaml"))
	if err == nil {
		err = yaml.Unmarshal(b, &spec)
	}
	if err != nil || spec.Info.Version == "" {
		t.Fatalf("openapi.yaml info.version: %q, %v", spec.Info.Version, err)
	}
	out, err := runTracegate(t.Context(), nil, "version")
	if want := "tracegate " + spec.Info.Version; err != nil || strings.TrimSpace(out) != want {
		t.Errorf("built binary: version = %q, %v; want %q", out, err, want)
	}

	// The image's HEALTHCHECK runs "/tracegate healthcheck" without
	// arguments: it probes /readyz on the port of TRACEGATE_LISTEN_ADDR.
	readyz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ready","checks":[]}`)
	}))
	defer readyz.Close()
	_, port, _ := net.SplitHostPort(readyz.Listener.Addr().String())
	out, err = runTracegate(t.Context(), map[string]string{envPrefix + "LISTEN_ADDR": ":" + port}, "healthcheck")
	if err != nil || !strings.Contains(out, "answered 200") {
		t.Errorf("built binary: healthcheck = %q, %v", out, err)
	}
	out, err = runTracegate(t.Context(), map[string]string{envPrefix + "LISTEN_ADDR": ":" + port}, "healthcheck", "--url", readyz.URL+"/nothing")
	if err == nil {
		t.Errorf("built binary: healthcheck of a 404 succeeded: %q", out)
	}
}
