package auth

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"github.com/tracegate/tracegate/internal/tenant"
)

func TestSelectTenants(t *testing.T) {
	t.Parallel()
	one := []tenant.ID{tenant.MustParse("acme")}
	several := []tenant.ID{tenant.MustParse("acme"), tenant.MustParse("globex"), tenant.MustParse("initech")}
	long := strings.Repeat("a", tenant.MaxLength)

	// fed: which AllowFederation settings the case runs with.
	const (
		off = 1 << iota
		on
		both = off | on
	)
	tests := []struct {
		name      string
		granted   []tenant.ID
		values    []string // X-Tenant header lines; nil: no header
		fed       int
		wantOrgID string // on success
		wantCode  int    // 0: success
		wantMsg   string
	}{
		// No header.
		{"one granted, no header", one, nil, both, "acme", 0, ""},
		{"several granted, no header", several, nil, both, "", 400, msgChooseTenant},
		{"none granted", nil, nil, both, "", 403, msgNoUsableTenant},
		{"none granted, with header", []tenant.ID{}, []string{"acme"}, both, "", 403, msgNoUsableTenant},

		// One tenant.
		{"one granted, names it", one, []string{"acme"}, both, "acme", 0, ""},
		{"one granted, names another", one, []string{"globex"}, both, "", 403, msgNotGranted},
		{"several granted, names one", several, []string{"globex"}, both, "globex", 0, ""},
		{"spaces and tabs around", several, []string{" \tinitech\t "}, both, "initech", 0, ""},
		{"150-byte id granted", []tenant.ID{tenant.MustParse("acme"), tenant.MustParse(long)}, []string{long}, both, long, 0, ""},
		{"not granted", several, []string{"umbrella"}, both, "", 403, msgNotGranted},
		{"case differs", several, []string{"ACME"}, both, "", 403, msgNotGranted},
		{"prefix of a granted id", several, []string{"acm"}, both, "", 403, msgNotGranted},
		{"empty", several, []string{""}, both, "", 400, msgEmptyHeader},
		{"blank", several, []string{"  \t "}, both, "", 400, msgEmptyHeader},
		{"empty with one granted", one, []string{""}, both, "", 400, msgEmptyHeader},

		// Values that are no tenant id cannot be granted.
		{"pipe", several, []string{"acme|globex"}, both, "", 403, msgNotGranted},
		{"pipe with one granted", one, []string{"acme|acme"}, both, "", 403, msgNotGranted},
		{"leading pipe", several, []string{"|acme"}, both, "", 403, msgNotGranted},
		{"colon", several, []string{"acme:x"}, both, "", 403, msgNotGranted},
		{"dotdot", several, []string{".."}, both, "", 403, msgNotGranted},
		{"non-ASCII", several, []string{"acmé"}, both, "", 403, msgNotGranted},
		{"non-breaking space", several, []string{"acme\u00a0"}, both, "", 403, msgNotGranted},
		{"inner space", several, []string{"ac me"}, both, "", 403, msgNotGranted},
		{"151 bytes", several, []string{long + "a"}, both, "", 403, msgNotGranted},

		// Header lines and size.
		{"two header lines", several, []string{"acme", "globex"}, both, "", 400, msgSeveralHeaders},
		{"two equal header lines", several, []string{"acme", "acme"}, both, "", 400, msgSeveralHeaders},
		{"two lines with one granted", one, []string{"acme", "acme"}, both, "", 400, msgSeveralHeaders},
		{"two lines, one empty", several, []string{"acme", ""}, both, "", 400, msgSeveralHeaders},
		{"too long", several, []string{strings.Repeat("acme,", MaxTenantHeaderSize/5) + "acme"}, both, "", 400, msgHeaderTooLong},

		// Federation off.
		{"list without federation", several, []string{"acme,globex"}, off, "", 403, msgNoFederation},
		{"duplicate list without federation", one, []string{"acme,acme"}, off, "", 403, msgNoFederation},
		{"list of ungranted without federation", several, []string{"acme,umbrella"}, off, "", 403, msgNoFederation},

		// Federation on.
		{"list", several, []string{"globex,acme"}, on, "acme|globex", 0, ""},
		{"list with spaces", several, []string{" initech , acme\t,globex "}, on, "acme|globex|initech", 0, ""},
		{"list with duplicates", several, []string{"globex,acme,globex"}, on, "acme|globex", 0, ""},
		{"duplicates of one", one, []string{"acme, acme"}, on, "acme", 0, ""},
		{"list with an ungranted entry", several, []string{"acme,umbrella"}, on, "", 403, msgNotGranted},
		{"list with an ungranted first entry", several, []string{"umbrella,acme"}, on, "", 403, msgNotGranted},
		{"list with a pipe entry", several, []string{"acme,acme|globex"}, on, "", 403, msgNotGranted},
		{"list with an invalid entry", several, []string{"acme,.."}, on, "", 403, msgNotGranted},

		// Empty entries are malformed, whatever the federation setting.
		{"empty middle entry", several, []string{"acme,,globex"}, both, "", 400, msgEmptyEntry},
		{"trailing comma", several, []string{"acme,"}, both, "", 400, msgEmptyEntry},
		{"leading comma", several, []string{",acme"}, both, "", 400, msgEmptyEntry},
		{"blank entry", several, []string{"acme, ,globex"}, both, "", 400, msgEmptyEntry},
		{"comma only", several, []string{","}, both, "", 400, msgEmptyEntry},
	}
	for _, tc := range tests {
		for _, fed := range []bool{false, true} {
			if fed && tc.fed&on == 0 || !fed && tc.fed&off == 0 {
				continue
			}
			name := tc.name + "/federation off"
			if fed {
				name = tc.name + "/federation on"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				granted := slices.Clone(tc.granted)
				got, err := selectTenants(tc.granted, tc.values, fed)
				if diff := cmp.Diff(granted, tc.granted); diff != "" {
					t.Errorf("granted modified:\n%s", diff)
				}

				if tc.wantCode == 0 {
					if err != nil {
						t.Fatalf("selectTenants error: %v", err)
					}
					if got.OrgID() != tc.wantOrgID || got.Len() == 0 {
						t.Errorf("selected %q; want %q", got, tc.wantOrgID)
					}
					return
				}

				if got.Len() != 0 {
					t.Errorf("selected %q with an error", got)
				}
				he, ok := err.(*echo.HTTPError) //nolint:errorlint // deliberately not errors.As: it must be bare
				if !ok {
					t.Fatalf("error is %T (%v); want a bare *echo.HTTPError", err, err)
				}
				if diff := cmp.Diff([]any{tc.wantCode, tc.wantMsg}, []any{he.Code, he.Message}); diff != "" {
					t.Errorf("code, message mismatch (-want +got):\n%s", diff)
				}
				wantCause := ErrForbidden
				if tc.wantCode == http.StatusBadRequest {
					wantCause = ErrTenantSelection
				}
				if !errors.Is(he.Internal, wantCause) {
					t.Errorf("Internal = %v; want it to wrap %v", he.Internal, wantCause)
				}
				// The message names no tenant, granted or asked for.
				for _, id := range slices.Concat(tc.granted, []tenant.ID{tenant.MustParse("umbrella")}) {
					if msg, _ := he.Message.(string); strings.Contains(msg, id.String()) {
						t.Errorf("message %q names tenant %q", msg, id)
					}
				}
			})
		}
	}
}
