package main

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tracegate/tracegate/internal/auth"
)

var operationsDoc = filepath.Join(repoRoot, "docs", "operations.md")

func readDoc(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envNamePattern finds names in tracegate's prefix in any text.
var envNamePattern = regexp.MustCompile(`\bTRACEGATE_[A-Z0-9_]*[A-Z0-9]\b`)

// repoRoot is the repository root, seen from this package's directory.
var repoRoot = filepath.Join("..", "..")

// settingsByName returns settings(), the list "tracegate config --list" prints, by name.
func settingsByName(t *testing.T) map[string]setting {
	t.Helper()
	all, err := settings()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]setting{}
	for _, s := range all {
		byName[s.Name] = s
	}
	return byName
}

// TestDocsConfigReference keeps docs/operations.md's configuration reference
// in step with the config struct: every setting is documented in a table row
// of its own with its default, and no name is documented that tracegate
// does not read.
func TestDocsConfigReference(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, operationsDoc)
	vars := settingsByName(t)

	mentioned := map[string]bool{}
	for _, name := range envNamePattern.FindAllString(doc, -1) {
		mentioned[name] = true
		if _, ok := vars[name]; !ok {
			t.Errorf("docs/operations.md names %s, which is not a setting (tracegate config --list does not list it)", name)
		}
	}

	_, section, ok := strings.Cut(doc, "\n## Configuration reference\n")
	if !ok {
		t.Fatal("docs/operations.md: no section \"## Configuration reference\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string][]string{} // name -> cells of its reference row
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `"+envPrefix) {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		name := strings.Trim(cells[0], "`")
		if _, dup := rows[name]; dup {
			t.Errorf("docs/operations.md: two reference rows for %s", name)
		}
		rows[name] = cells
	}
	names := slices.Sorted(maps.Keys(vars))
	for _, name := range names {
		v := vars[name]
		cells, ok := rows[name]
		switch {
		case !mentioned[name]:
			t.Errorf("docs/operations.md does not document %s", name)
			continue
		case !ok:
			t.Errorf("docs/operations.md: no row starting with | `%s` | in the configuration reference", name)
			continue
		case len(cells) < 3 || strings.TrimSpace(cells[2]) == "":
			t.Errorf("docs/operations.md: the row of %s needs a default and a meaning: %q", name, cells)
			continue
		}
		def := cells[1]
		switch {
		case v.Required && !strings.Contains(def, "required"):
			t.Errorf("docs/operations.md: %s is required, the default column says %q", name, def)
		case v.HasDefault && !strings.Contains(def, "`"+v.Default+"`"):
			t.Errorf("docs/operations.md: %s defaults to %q, the default column says %q", name, v.Default, def)
		}
	}
}

// TestDocsReadmeSettings checks that the README names every setting, names
// none that does not exist, and points operators to "tracegate config --list".
func TestDocsReadmeSettings(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, filepath.Join(repoRoot, "README.md"))
	vars := settingsByName(t)
	mentioned := map[string]bool{}
	for _, name := range envNamePattern.FindAllString(doc, -1) {
		mentioned[name] = true
		if _, ok := vars[name]; !ok {
			t.Errorf("README.md names %s, which is not a setting (tracegate config --list does not list it)", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if !mentioned[name] {
			t.Errorf("README.md does not mention %s", name)
		}
	}
	if !strings.Contains(doc, "tracegate config --list") {
		t.Error("README.md does not mention tracegate config --list")
	}
}

// metricName finds the names of tracegate's own metrics where they are
// declared (prometheus.*Opts{Name: "tracegate_..."}).
var metricName = regexp.MustCompile(`\bName:\s*"(tracegate_[a-z0-9_]+)"`)

// declaredMetrics returns the tracegate_* metric names declared in the
// module's non-test Go files.
func declaredMetrics(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "gen", "testdata", "dist":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range metricName.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestDocsMetricsReference checks that docs/operations.md has a subsection
// for every metric tracegate declares and a row for every reason code of
// tracegate_auth_decisions_total.
func TestDocsMetricsReference(t *testing.T) {
	t.Parallel()
	doc := readDoc(t, operationsDoc)
	metrics := declaredMetrics(t)
	for _, want := range []string{"tracegate_auth_decisions_total", "tracegate_keys_age_seconds"} {
		if !slices.Contains(metrics, want) {
			t.Errorf("metric %s not found in the sources: is the Name: \"...\" pattern still how metrics are declared?", want)
		}
	}
	for _, metric := range metrics {
		if !strings.Contains(doc, "### `"+metric+"`") && !strings.Contains(doc, "### `"+metric+"{") {
			t.Errorf("docs/operations.md: no subsection \"### `%s...`\" in the metrics reference", metric)
		}
	}
	for _, reason := range auth.Reasons() {
		if !strings.Contains(doc, "| `"+reason+"` |") {
			t.Errorf("docs/operations.md: the deny reason %s has no row in the metrics reference", reason)
		}
	}
}

var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsLinks checks that the relative links of the operations and
// deployment pages point at files that exist.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	for _, file := range []string{operationsDoc, filepath.Join(repoRoot, "deploy", "README.md")} {
		for _, m := range markdownLink.FindAllStringSubmatch(readDoc(t, file), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(file), target)); err != nil {
				t.Errorf("%s: broken link %s", file, m[1])
			}
		}
	}
}

// Every package under internal/ is on docs/architecture.md's map and has a
// depguard rule of its own in .golangci.yml (dependencies point inward
// only where a rule says so).
func TestDocsArchitectureCoversEveryPackage(t *testing.T) {
	arch := readDoc(t, filepath.Join(repoRoot, "docs", "architecture.md"))
	lint := readDoc(t, filepath.Join(repoRoot, ".golangci.yml"))
	dirs, err := os.ReadDir(filepath.Join(repoRoot, "internal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		if !strings.Contains(arch, "internal/"+d.Name()+"/") {
			t.Errorf("docs/architecture.md does not name internal/%s/", d.Name())
		}
		if !strings.Contains(lint, `"**/internal/`+d.Name()+`/**"`) {
			t.Errorf(".golangci.yml has no depguard rule for internal/%s", d.Name())
		}
	}
	if n < 10 {
		t.Fatalf("only %d packages under internal/: wrong directory?", n)
	}
}
