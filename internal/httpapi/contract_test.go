package httpapi_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/tracegate/tracegate/gen/api"
)

// contract checks every response the tests produce against openapi.yaml, and
// records which (operation, status) pairs were exercised.
type contract struct {
	spec   *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // "operationId status"
}

var spec = mustContract()

func mustContract() *contract {
	// Documents tracegate serves about itself, and Tempo's protobuf answers
	// on the /tempo mount, are opaque to the contract.
	for _, ct := range []string{"text/html", "application/yaml", "application/protobuf"} {
		openapi3filter.RegisterBodyDecoder(ct, func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
	}
	s, err := api.GetSpec()
	if err != nil {
		panic(err)
	}
	r, err := gorillamux.NewRouter(s)
	if err != nil {
		panic(err)
	}
	return &contract{spec: s, router: r, seen: map[string]bool{}}
}

// check validates rec (the answer to req) against the spec: its status must be
// documented for the operation, and its content type, headers and body must
// match. A response to a path that is no operation must be a problem.
func (c *contract) check(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	if req.Method == http.MethodOptions {
		return // CORS preflight, answered by the CORS middleware
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s (no operation): content type %q, want application/problem+json", req.Method, req.URL, ct)
		}
		return
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, rec.Code)] = true
	c.mu.Unlock()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: rec.Code,
		Header: rec.Header(),
		Body:   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status fails
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.yaml: %v\nbody: %.500s", req.Method, req.URL, rec.Code, err, rec.Body.String())
	}
}

// notYetCaused lists documented (operation, status) pairs that no test can
// produce yet, each with the reason. Everything else must be exercised.
var notYetCaused = map[string]string{}

// TestMain fails the run when a documented (operation, status) pair was never
// exercised (only for complete runs, not for -run filters).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if missing := spec.unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: documented responses never produced by a test:\n  %s\n", strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

func (c *contract) unexercised() []string {
	var missing []string
	for _, item := range c.spec.Paths.Map() {
		for _, op := range item.Operations() {
			for status := range op.Responses.Map() {
				key := op.OperationID + " " + status
				if !c.seen[key] && notYetCaused[key] == "" {
					missing = append(missing, key)
				}
			}
		}
	}
	slices.Sort(missing)
	return missing
}
