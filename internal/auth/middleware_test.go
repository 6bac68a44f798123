package auth_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"github.com/tracegate/tracegate/internal/auth"
	"github.com/tracegate/tracegate/internal/principal"
	"github.com/tracegate/tracegate/internal/tenant"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	v, _ := newVerifier(t, p, baseConfig(p))

	valid := sign(t, k.rsa, "RS256", validClaims(), nil)
	forbidden := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": "acme|globex"}), nil)
	forbiddenArray := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": []string{"acme", "acme|globex"}}), nil)
	several := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": []string{"acme", "globex"}}), nil)
	arrayOfOne := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": []string{"acme"}}), nil)
	expired := sign(t, k.rsa, "RS256", claims(map[string]any{
		"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(),
	}), nil)
	const (
		noErrorCode  = `Bearer realm="tracegate"`
		invalidToken = `Bearer realm="tracegate", error="invalid_token"`
	)

	tests := []struct {
		name          string
		authorization []string
		wantCode      int // 0: the handler runs
		wantMessage   string
		wantChallenge string
		wantCause     error
	}{
		{"no header", nil, 401, "missing bearer token", noErrorCode, auth.ErrInvalidToken},
		{"bad token", []string{"Bearer not-a-jwt"}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"expired token", []string{"Bearer " + expired}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"basic scheme", []string{"Basic YWxpY2U6c2VjcmV0"}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"token without scheme", []string{valid}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"scheme only", []string{"Bearer"}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"empty token", []string{"Bearer   "}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"empty header", []string{""}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, 401, "invalid bearer token", invalidToken, auth.ErrInvalidToken},
		{"forbidden tenant", []string{"Bearer " + forbidden}, 403, "token grants no usable tenant", "", auth.ErrForbidden},
		{"forbidden tenant in an array", []string{"Bearer " + forbiddenArray}, 403, "token grants no usable tenant", "", auth.ErrForbidden},
		{"several tenants, no X-Tenant", []string{"Bearer " + several}, 400,
			"token grants several tenants; choose one with the X-Tenant header", "", auth.ErrTenantSelection},
		{"array of one tenant", []string{"Bearer " + arrayOfOne}, 0, "", "", nil},
		{"bearer", []string{"Bearer " + valid}, 0, "", "", nil},
		{"lower-case bearer", []string{"bearer " + valid}, 0, "", "", nil},
		{"upper-case bearer", []string{"BEARER " + valid}, 0, "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := echo.New()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/traces/abc", nil)
			for _, a := range tc.authorization {
				req.Header.Add(echo.HeaderAuthorization, a)
			}
			rec := httptest.NewRecorder()
			c := e.NewContext(req, rec)

			var ran bool
			var gotP principal.Principal
			var gotPOK, gotTenantOK bool
			var gotTenant tenant.Set
			handler := func(c echo.Context) error {
				ran = true
				gotP, gotPOK = principal.FromContext(c.Request().Context())
				gotTenant, gotTenantOK = tenant.FromContext(c.Request().Context())
				return c.NoContent(http.StatusNoContent)
			}
			err := v.Middleware()(handler)(c)

			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("middleware error: %v", err)
				}
				if !ran || !gotPOK || !gotTenantOK {
					t.Fatalf("handler ran=%v, principal present=%v, tenant present=%v; want all true", ran, gotPOK, gotTenantOK)
				}
				if gotP.Subject != "alice" || gotP.Tenants.OrgID() != "acme" || gotTenant.OrgID() != "acme" {
					t.Errorf("principal = %+v, tenant = %q; want alice in acme", gotP, gotTenant)
				}
				if h := rec.Header().Get(echo.HeaderWWWAuthenticate); h != "" {
					t.Errorf("WWW-Authenticate = %q on success", h)
				}
				return
			}

			if ran {
				t.Fatal("handler ran although the middleware rejected the request")
			}
			he, ok := err.(*echo.HTTPError) //nolint:errorlint // deliberately not errors.As: it must be bare
			if !ok {
				t.Fatalf("error is %T (%v); want a bare *echo.HTTPError", err, err)
			}
			if diff := cmp.Diff(
				[]any{tc.wantCode, tc.wantMessage, tc.wantChallenge},
				[]any{he.Code, he.Message, rec.Header().Get(echo.HeaderWWWAuthenticate)},
			); diff != "" {
				t.Errorf("code, message, WWW-Authenticate mismatch (-want +got):\n%s", diff)
			}
			if !errors.Is(he.Internal, tc.wantCause) {
				t.Errorf("Internal = %v; want it to wrap %v", he.Internal, tc.wantCause)
			}
			for _, a := range tc.authorization {
				if tok := strings.TrimSpace(strings.TrimPrefix(a, "Bearer")); len(tok) > 20 {
					assertNoLeak(t, he.Error(), tok)
				}
			}
		})
	}
}

// TestMiddlewareThroughEcho checks the status codes echo's error handler
// derives from the middleware's errors.
func TestMiddlewareThroughEcho(t *testing.T) {
	t.Parallel()
	p := newIDP(t, allKeys()...)
	v, _ := newVerifier(t, p, baseConfig(p))
	e := echo.New()
	e.Use(v.Middleware())
	e.GET("/api/v1/ping", func(c echo.Context) error {
		id, ok := tenant.FromContext(c.Request().Context())
		if !ok {
			return c.NoContent(http.StatusInternalServerError)
		}
		return c.String(http.StatusOK, id.String())
	})

	tests := []struct {
		name          string
		authorization string
		wantCode      int
		wantBody      string
	}{
		{"no token", "", 401, ""},
		{"bad token", "Bearer x.y.z", 401, ""},
		{"forbidden", "Bearer " + sign(t, keys().rsa, "RS256", claims(map[string]any{"tenant_id": nil}), nil), 403, ""},
		{"several tenants, no X-Tenant", "Bearer " + sign(t, keys().rsa, "RS256", claims(map[string]any{"tenant_id": []string{"acme", "globex"}}), nil), 400, ""},
		{"ok", "Bearer " + sign(t, keys().ec, "ES256", validClaims(), nil), 200, "acme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/ping", nil)
			if tc.authorization != "" {
				req.Header.Set(echo.HeaderAuthorization, tc.authorization)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("status = %d; want %d (body %s)", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantBody != "" && rec.Body.String() != tc.wantBody {
				t.Errorf("body = %q; want %q", rec.Body, tc.wantBody)
			}
		})
	}
}

// TestMiddlewareTenantSelection runs X-Tenant through echo, with federation
// off and on, and shows the tenants the handler sees.
func TestMiddlewareTenantSelection(t *testing.T) {
	t.Parallel()
	k := keys()
	p := newIDP(t, allKeys()...)
	cfg := baseConfig(p)
	vOff, _ := newVerifier(t, p, cfg)
	cfg.AllowFederation = true
	vOn, _ := newVerifier(t, p, cfg)

	single := sign(t, k.rsa, "RS256", validClaims(), nil) // acme
	several := sign(t, k.ec, "ES256", claims(map[string]any{
		"tenant_id": []string{"initech", "acme", "globex", "acme"},
	}), nil)
	badArray := sign(t, k.rsa, "RS256", claims(map[string]any{"tenant_id": []any{"acme", 1}}), nil)

	const (
		choose     = "token grants several tenants; choose one with the X-Tenant header"
		notGranted = "tenant not granted by the token"
		noFed      = "federation is not enabled"
	)
	type outcome struct {
		code  int    // 200: the handler ran
		orgID string // the handler's principal.Tenants, when it ran
		msg   string // the error message, when it did not
	}
	ok := func(orgID string) outcome { return outcome{200, orgID, ""} }

	tests := []struct {
		name    string
		token   string
		xTenant []string // header lines; nil: none
		off, on outcome  // with AllowFederation off and on
	}{
		{"single, no header", single, nil, ok("acme"), ok("acme")},
		{"single, names its tenant", single, []string{"acme"}, ok("acme"), ok("acme")},
		{"single, names another", single, []string{"globex"}, outcome{403, "", notGranted}, outcome{403, "", notGranted}},
		{"single, duplicate list", single, []string{"acme,acme"}, outcome{403, "", noFed}, ok("acme")},
		{"several, no header", several, nil, outcome{400, "", choose}, outcome{400, "", choose}},
		{"several, names one", several, []string{"globex"}, ok("globex"), ok("globex")},
		{"several, spaces", several, []string{" initech "}, ok("initech"), ok("initech")},
		{"several, not granted", several, []string{"umbrella"}, outcome{403, "", notGranted}, outcome{403, "", notGranted}},
		{"several, pipe", several, []string{"acme|globex"}, outcome{403, "", notGranted}, outcome{403, "", notGranted}},
		{"several, empty", several, []string{""}, outcome{400, "", "X-Tenant header is empty"}, outcome{400, "", "X-Tenant header is empty"}},
		{"several, two lines", several, []string{"acme", "globex"},
			outcome{400, "", "send at most one X-Tenant header"}, outcome{400, "", "send at most one X-Tenant header"}},
		{"several, list", several, []string{"globex, acme"}, outcome{403, "", noFed}, ok("acme|globex")},
		{"several, list of all with duplicates", several, []string{"initech,acme,globex,acme"},
			outcome{403, "", noFed}, ok("acme|globex|initech")},
		{"several, list with ungranted", several, []string{"acme,umbrella"}, outcome{403, "", noFed}, outcome{403, "", notGranted}},
		{"several, list with pipe", several, []string{"acme,globex|initech"}, outcome{403, "", noFed}, outcome{403, "", notGranted}},
		{"several, empty entry", several, []string{"acme,,globex"},
			outcome{400, "", "X-Tenant header has an empty entry"}, outcome{400, "", "X-Tenant header has an empty entry"}},
		{"several, trailing comma", several, []string{"acme,"},
			outcome{400, "", "X-Tenant header has an empty entry"}, outcome{400, "", "X-Tenant header has an empty entry"}},
		{"invalid array, names a tenant", badArray, []string{"acme"},
			outcome{403, "", "token grants no usable tenant"}, outcome{403, "", "token grants no usable tenant"}},
	}
	for _, tc := range tests {
		for _, fed := range []bool{false, true} {
			v, want, name := vOff, tc.off, tc.name+"/federation off"
			if fed {
				v, want, name = vOn, tc.on, tc.name+"/federation on"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var ran bool
				var gotP principal.Principal
				var gotTenants tenant.Set
				var gotTenantsOK bool
				e := echo.New()
				e.Use(v.Middleware())
				e.GET("/api/v1/whoami", func(c echo.Context) error {
					ran = true
					gotP, _ = principal.FromContext(c.Request().Context())
					gotTenants, gotTenantsOK = tenant.FromContext(c.Request().Context())
					return c.String(http.StatusOK, gotTenants.OrgID())
				})
				req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
				req.Header.Set(echo.HeaderAuthorization, "Bearer "+tc.token)
				for _, x := range tc.xTenant {
					req.Header.Add(auth.TenantHeader, x)
				}
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)

				if rec.Code != want.code {
					t.Fatalf("status = %d; want %d (body %s)", rec.Code, want.code, rec.Body)
				}
				if want.code != http.StatusOK {
					if ran {
						t.Fatal("handler ran although the middleware rejected the request")
					}
					var body struct{ Message string }
					must(t, json.Unmarshal(rec.Body.Bytes(), &body))
					if body.Message != want.msg {
						t.Errorf("message = %q; want %q", body.Message, want.msg)
					}
					if h := rec.Header().Get(echo.HeaderWWWAuthenticate); h != "" {
						t.Errorf("WWW-Authenticate = %q on %d", h, rec.Code)
					}
					return
				}
				if !ran || !gotTenantsOK {
					t.Fatalf("handler ran=%v, tenants present=%v; want both", ran, gotTenantsOK)
				}
				if gotP.Tenants.OrgID() != want.orgID || gotTenants.OrgID() != want.orgID || rec.Body.String() != want.orgID {
					t.Errorf("principal tenants %q, context tenants %q, body %q; want %q",
						gotP.Tenants, gotTenants, rec.Body, want.orgID)
				}
				if tc.token == several {
					if diff := cmp.Diff([]tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex"), tenant.MustParse("initech")}, gotP.Granted); diff != "" {
						t.Errorf("Granted mismatch (-want +got):\n%s", diff)
					}
				}
			})
		}
	}
}

// TestMiddlewareSelectionErrorsAreBare checks the error values themselves:
// bare *echo.HTTPError values whose Internal wraps the documented sentinel.
func TestMiddlewareSelectionErrorsAreBare(t *testing.T) {
	t.Parallel()
	p := newIDP(t, allKeys()...)
	v, _ := newVerifier(t, p, baseConfig(p))
	several := sign(t, keys().rsa, "RS256", claims(map[string]any{"tenant_id": []string{"acme", "globex"}}), nil)

	tests := []struct {
		name      string
		xTenant   []string
		wantCode  int
		wantCause error
	}{
		{"no X-Tenant", nil, 400, auth.ErrTenantSelection},
		{"two X-Tenant", []string{"acme", "acme"}, 400, auth.ErrTenantSelection},
		{"not granted", []string{"umbrella"}, 403, auth.ErrForbidden},
		{"federation off", []string{"acme,globex"}, 403, auth.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
			req.Header.Set(echo.HeaderAuthorization, "Bearer "+several)
			for _, x := range tc.xTenant {
				req.Header.Add(auth.TenantHeader, x)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			var ran bool
			err := v.Middleware()(func(echo.Context) error { ran = true; return nil })(c)
			if ran {
				t.Fatal("handler ran although the middleware rejected the request")
			}
			he, ok := err.(*echo.HTTPError) //nolint:errorlint // deliberately not errors.As: it must be bare
			if !ok {
				t.Fatalf("error is %T (%v); want a bare *echo.HTTPError", err, err)
			}
			if he.Code != tc.wantCode || !errors.Is(he.Internal, tc.wantCause) {
				t.Errorf("code %d, Internal %v; want %d wrapping %v", he.Code, he.Internal, tc.wantCode, tc.wantCause)
			}
			// Who asked is kept for the audit, but no tenant is selected:
			// nothing downstream can read as anyone.
			if _, ok := tenant.FromContext(c.Request().Context()); ok {
				t.Error("a tenant is in the request context on failure")
			}
			if p, ok := principal.FromContext(c.Request().Context()); ok && p.Tenants.Len() != 0 {
				t.Errorf("principal with tenants %v stored on failure", p.Tenants)
			}
			assertNoLeak(t, he.Error(), several)
		})
	}
}
