package auth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/tracegate/tracegate/internal/tenant"
)

// Safe texts of the selection errors; they never repeat the header.
const (
	msgChooseTenant      = "token grants several tenants; choose one with the X-Tenant header"
	msgSeveralHeaders    = "send at most one X-Tenant header"
	msgEmptyHeader       = "X-Tenant header is empty"
	msgEmptyEntry        = "X-Tenant header has an empty entry"
	msgHeaderTooLong     = "X-Tenant header is too long"
	msgNotGranted        = "tenant not granted by the token"
	msgNoFederation      = "federation is not enabled"
	msgNoUsableTenant    = "token grants no usable tenant"
	tenantHeaderOWS      = " \t" // RFC 9110 optional whitespace around entries
	tenantHeaderEntrySep = ","
)

// selectTenants decides which of the granted tenants one request reads, from
// the values of its X-Tenant header lines. It is pure: granted comes from a
// verified token (Principal.Granted), values from the request.
//
//   - No header: the single granted tenant; 400 when several are granted.
//   - "a": a, which must be granted (403 otherwise, also when a is not a
//     valid tenant id, e.g. contains '|'); an empty value is 400.
//   - "a, b": only with allowFederation (403 otherwise); every entry must be
//     granted (403); an empty entry is 400; duplicates collapse.
//   - Several header lines, or a value over MaxTenantHeaderSize bytes: 400.
//
// The error is always a bare *echo.HTTPError with Code 400 (Internal wraps
// ErrTenantSelection) or 403 (Internal wraps ErrForbidden), whose Internal is
// a *Denial with the audit reason, and a Message that is safe to show: it
// names no tenant. Malformed headers (400) are
// reported before authorization failures (403). On error the Set is empty.
func selectTenants(granted []tenant.ID, values []string, allowFederation bool) (tenant.Set, error) {
	if len(granted) == 0 {
		// Verify never grants nothing; fail closed should that change.
		return tenant.Set{}, forbidden(reasonNoTenant, msgNoUsableTenant, "token grants no tenant")
	}
	switch {
	case len(values) > 1:
		return tenant.Set{}, badSelection(reasonDuplicateHeader, msgSeveralHeaders, fmt.Sprintf("%d X-Tenant headers", len(values)))
	case len(values) == 0 && len(granted) == 1:
		return tenant.NewSet(granted[0]), nil
	case len(values) == 0:
		return tenant.Set{}, badSelection(reasonChooseTenant, msgChooseTenant, fmt.Sprintf("token grants %d tenants and no X-Tenant header chose", len(granted)))
	case len(values[0]) > MaxTenantHeaderSize:
		return tenant.Set{}, badSelection(reasonInvalidTenant, msgHeaderTooLong, fmt.Sprintf("X-Tenant is longer than %d bytes", MaxTenantHeaderSize))
	}

	entries := strings.Split(values[0], tenantHeaderEntrySep)
	for i, e := range entries {
		entries[i] = strings.Trim(e, tenantHeaderOWS)
		if entries[i] != "" {
			continue
		}
		if len(entries) == 1 {
			return tenant.Set{}, badSelection(reasonInvalidTenant, msgEmptyHeader, "empty X-Tenant header")
		}
		return tenant.Set{}, badSelection(reasonInvalidTenant, msgEmptyEntry, fmt.Sprintf("X-Tenant entry %d is empty", i))
	}
	if len(entries) > 1 && !allowFederation {
		return tenant.Set{}, forbidden(reasonFederationDisabled, msgNoFederation, fmt.Sprintf("X-Tenant names %d tenants and federation is off", len(entries)))
	}

	grantedSet := make(map[tenant.ID]bool, len(granted))
	for _, id := range granted {
		grantedSet[id] = true
	}
	ids := make([]tenant.ID, 0, len(entries))
	for i, e := range entries {
		id, err := tenant.Parse(e)
		if err != nil {
			return tenant.Set{}, &echo.HTTPError{
				Code:     http.StatusForbidden,
				Message:  msgNotGranted,
				Internal: deny(reasonInvalidTenant, fmt.Errorf("%w: X-Tenant entry %d: %w", ErrForbidden, i, err)),
			}
		}
		if !grantedSet[id] {
			// id passed Parse: bounded and free of control characters.
			return tenant.Set{}, forbidden(reasonTenantNotGranted, msgNotGranted, fmt.Sprintf("X-Tenant entry %d %q is not granted", i, id))
		}
		ids = append(ids, id)
	}
	return tenant.NewSet(ids...), nil
}

func badSelection(reason, msg, cause string) *echo.HTTPError {
	return &echo.HTTPError{
		Code:     http.StatusBadRequest,
		Message:  msg,
		Internal: deny(reason, fmt.Errorf("%w: %s", ErrTenantSelection, cause)),
	}
}

func forbidden(reason, msg, cause string) *echo.HTTPError {
	return &echo.HTTPError{
		Code:     http.StatusForbidden,
		Message:  msg,
		Internal: deny(reason, fmt.Errorf("%w: %s", ErrForbidden, cause)),
	}
}
