package auth_test

import (
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
