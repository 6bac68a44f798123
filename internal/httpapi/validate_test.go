package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"

	"github.com/tracegate/tracegate/gen/api"
)

// The map-based route lookup answers every request exactly as the
// validator's own gorilla/mux lookup does.
func TestRequestValidatorSameAsGorilla(t *testing.T) {
	t.Parallel()
	spec, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	opts := func() *oapimw.Options {
		return &oapimw.Options{
			Options:               openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			ErrorHandler:          validationError(emptyLastParams(spec)),
			SilenceServersWarning: true,
		}
	}
	fast, err := requestValidator(spec, opts())
	if err != nil {
		t.Fatal(err)
	}
	slow := oapimw.OapiRequestValidatorWithOptions(spec, opts())
	serve := func(mw echo.MiddlewareFunc, target string) (int, string) {
		e := echo.New()
		e.HTTPErrorHandler = func(err error, c echo.Context) {
			if he, ok := err.(*echo.HTTPError); ok { //nolint:errorlint // the handler's own type
				_ = c.JSON(he.Code, he.Message)
				return
			}
			_ = c.String(http.StatusTeapot, err.Error())
		}
		e.Use(mw)
		ok := func(c echo.Context) error { return c.String(http.StatusOK, "valid") }
		for path, item := range spec.Paths.Map() {
			for method := range item.Operations() {
				e.Add(method, echoPath(path), ok)
			}
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec.Code, rec.Body.String()
	}
	fastUsed := 0
	for _, target := range []string{
		"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736",
		"/api/v1/traces/4BF9",
		"/api/v1/traces/xyz",
		"/api/v1/traces/0123456789abcdef0123456789abcdef0",
		"/api/v1/traces/%34bf9",
		"/api/v1/traces/",
		"/api/v1/traces/abc?start=1&end=2",
		"/api/v1/traces/abc?start=x",
		"/api/v1/traces?q=%7B%7D&limit=5",
		"/api/v1/traces?limit=-1",
		"/api/v1/traces?limit=abc&spss=2",
		"/api/v1/tags?scope=resource",
		"/api/v1/tags?scope=nope",
		"/api/v1/tags/service.name/values",
		"/api/v1/nothing",
		"/healthz",
	} {
		fc, fb := serve(fast, target)
		sc, sb := serve(slow, target)
		if fc != sc || fb != sb {
			t.Errorf("%s: map lookup answers %d %s, gorilla/mux %d %s", target, fc, fb, sc, sb)
		}
		if fc == http.StatusOK {
			fastUsed++
		}
	}
	if fastUsed < 3 {
		t.Errorf("only %d valid requests: the comparison proves little", fastUsed)
	}
}
