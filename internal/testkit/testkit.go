// Package testkit holds what tracegate's tests in several packages share: a
// log buffer safe for concurrent writes, the recorded Tempo answers and the
// traces ingested into the real Tempo they were recorded from
// (testdata/tempo), and a dev issuer with its JWKS served over HTTP. Only
// _test.go files import it (.golangci.yml, depguard rule "testkit").
package testkit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracegate/tracegate/internal/devauth"
)

// Buffer collects log output while a test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Path returns the path of elem below the repository root, wherever the test
// runs from.
func Path(elem ...string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: no caller information")
	}
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, elem...)...)
}

// Fixture is one recorded request to real Tempo and its answer
// (testdata/tempo/fixtures/README.md).
type Fixture struct {
	Request struct {
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
	} `json:"request"`
	Response struct {
		Status     int               `json:"status"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
		BodyBase64 string            `json:"body_base64"` // binary answers (protobuf)
	} `json:"response"`
}

// LoadFixture reads testdata/tempo/fixtures/name.json.
func LoadFixture(t testing.TB, name string) Fixture {
	t.Helper()
	b, err := os.ReadFile(Path("testdata", "tempo", "fixtures", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f Fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// FixtureNames returns the names of the recorded fixtures matching pattern
// (a filepath.Match pattern without ".json", e.g. "trace-*").
func FixtureNames(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(Path("testdata", "tempo", "fixtures", pattern+".json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures match %s: %v", pattern, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".json")
	}
	return names
}

// Body returns Tempo's answer as it was sent.
func (f Fixture) Body(t testing.TB) []byte {
	t.Helper()
	if f.Response.BodyBase64 == "" {
		return []byte(f.Response.Body)
	}
	b, err := base64.StdEncoding.DecodeString(f.Response.BodyBase64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Ingested reads testdata/tempo/ingested/name.json, an OTLP/JSON file that
// was ingested into the real Tempo (tenant = the name's prefix before "-").
func Ingested(t testing.TB, name string) ptrace.Traces {
	t.Helper()
	b, err := os.ReadFile(Path("testdata", "tempo", "ingested", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return td
}

// IngestedNames returns the names of every ingested trace file.
func IngestedNames(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(Path("testdata", "tempo", "ingested", "*-*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ingested traces: %v", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".json")
	}
	return names
}

// NewIssuer returns a dev issuer (real ES256 keys, really signed tokens) and
// the URL of its JWKS, served over HTTP until the test ends.
func NewIssuer(t testing.TB, issuer, audience string) (*devauth.Issuer, string) {
	t.Helper()
	iss, err := devauth.NewIssuer(issuer, audience)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(iss.JWKS())
	t.Cleanup(jwks.Close)
	return iss, jwks.URL
}
