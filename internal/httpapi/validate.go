package httpapi

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"
)

// requestValidator is oapi-codegen's OpenAPI request validator with a
// cheaper route lookup: a request Echo routed to an operation of the spec
// is validated against that operation, found by Echo's route key in a map,
// instead of by the validator's gorilla/mux regular expressions. Anything
// else (no Echo route, a path with escapes or an empty parameter, where the
// two routers could read the request differently) still goes through
// gorilla/mux. The checks
// themselves (openapi3filter.ValidateRequest) and the errors are the same.
func requestValidator(spec *openapi3.T, opts *oapimw.Options) (echo.MiddlewareFunc, error) {
	fallback, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, err
	}
	routes := map[string]*routers.Route{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			routes[method+" "+echoPath(path)] = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			router := fallback
			if route, ok := routes[c.Request().Method+" "+c.Path()]; ok && c.Request().URL.RawPath == "" && filled(c) {
				router = echoRoute{route: route, c: c}
			}
			if err := oapimw.ValidateRequestFromContext(c, router, opts); err != nil {
				return opts.ErrorHandler(c, err)
			}
			return next(c)
		}
	}, nil
}

// filled reports whether every path parameter Echo matched is non-empty
// (gorilla/mux does not match an empty segment: such requests keep its
// answer).
func filled(c echo.Context) bool {
	values := c.ParamValues()
	for i := range c.ParamNames() {
		if values[i] == "" {
			return false
		}
	}
	return true
}

// echoRoute is the route Echo matched, as a routers.Router.
type echoRoute struct {
	route *routers.Route
	c     echo.Context
}

func (r echoRoute) FindRoute(*http.Request) (*routers.Route, map[string]string, error) {
	names, values := r.c.ParamNames(), r.c.ParamValues()
	params := make(map[string]string, len(names))
	for i, name := range names {
		params[name] = values[i]
	}
	return r.route, params, nil
}
