package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/tracegate/tracegate/internal/tenant"
)

// claimPath is a parsed Config.TenantClaim: reference tokens from the
// top-level claim inward. It is never empty and has no empty token.
type claimPath []string

// parseClaimPath parses the syntax documented on Config.TenantClaim: a JSON
// Pointer, a claim name, or the deprecated dot-and-bracket path.
func parseClaimPath(s string) (claimPath, error) {
	if s == "" {
		return nil, errors.New("empty claim path")
	}
	if strings.HasPrefix(s, "/") {
		return parsePointer(s)
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return claimPath{s}, nil
	}
	var path claimPath
	for i := 0; ; {
		var name string
		if s[i] == '[' {
			n, end, err := bracketed(s, i)
			if err != nil {
				return nil, err
			}
			name, i = n, end
		} else {
			end := i
			for end < len(s) && s[end] != '.' && s[end] != '[' {
				if s[end] == ']' || s[end] == '"' {
					return nil, fmt.Errorf(`claim path %.100q: %q outside ["..."] at byte %d`, s, s[end], end)
				}
				end++
			}
			if end == i {
				return nil, fmt.Errorf("claim path %.100q: empty name at byte %d", s, i)
			}
			name, i = s[i:end], end
		}
		path = append(path, name)
		switch {
		case i == len(s):
			return path, nil
		case s[i] == '.':
			i++
			if i == len(s) {
				return nil, fmt.Errorf("claim path %.100q ends with '.'", s)
			}
		case s[i] == '[':
		default:
			return nil, fmt.Errorf("claim path %.100q: expected '.' or '[' at byte %d", s, i)
		}
	}
}

// parsePointer parses an RFC 6901 JSON Pointer ("/realm_access/roles"; "~1"
// stands for '/' and "~0" for '~' in a token). An empty token (such as in
// "/a//b" or "/") is refused: no identity provider names a claim "".
func parsePointer(s string) (claimPath, error) {
	var path claimPath
	for i, tok := range strings.Split(s[1:], "/") {
		if tok == "" {
			return nil, fmt.Errorf("JSON Pointer %.100q: empty reference token %d", s, i+1)
		}
		for j := 0; j < len(tok); j++ {
			if tok[j] != '~' {
				continue
			}
			if j+1 == len(tok) || (tok[j+1] != '0' && tok[j+1] != '1') {
				return nil, fmt.Errorf(`JSON Pointer %.100q: '~' must be followed by 0 or 1 (~0 is '~', ~1 is '/') in token %d`, s, i+1)
			}
			j++
		}
		path = append(path, pointerUnescaper.Replace(tok))
	}
	return path, nil
}

var (
	pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")
	pointerEscaper   = strings.NewReplacer("~", "~0", "/", "~1")
)

// pointer returns p as a JSON Pointer.
func (p claimPath) pointer() string {
	var b strings.Builder
	for _, tok := range p {
		b.WriteString("/" + pointerEscaper.Replace(tok))
	}
	return b.String()
}

// deprecatedSyntax reports whether s, which parsed to p, uses the
// dot-and-bracket path syntax: neither a JSON Pointer nor one claim name.
func deprecatedSyntax(s string, p claimPath) bool {
	return !strings.HasPrefix(s, "/") && (len(p) > 1 || p[0] != s)
}

// bracketed parses `["name"]` at s[i:], where name is a JSON string. It
// returns the name and the index after the ']'.
func bracketed(s string, i int) (string, int, error) {
	if !strings.HasPrefix(s[i:], `["`) {
		return "", 0, fmt.Errorf(`claim path %.100q: '[' at byte %d must start ["name"]`, s, i)
	}
	j := i + 2
	for j < len(s) && s[j] != '"' {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(s) {
		return "", 0, fmt.Errorf("claim path %.100q: unterminated string at byte %d", s, i+1)
	}
	var name string
	if err := json.Unmarshal([]byte(s[i+1:j+1]), &name); err != nil {
		return "", 0, fmt.Errorf("claim path %.100q: bad string at byte %d: %w", s, i+1, err)
	}
	if name == "" {
		return "", 0, fmt.Errorf("claim path %.100q: empty name at byte %d", s, i+1)
	}
	if j+1 >= len(s) || s[j+1] != ']' {
		return "", 0, fmt.Errorf(`claim path %.100q: missing ']' at byte %d`, s, j+1)
	}
	return name, j + 2, nil
}

// lookup returns the value at path in tok, or false when any level is
// missing or null, or leads through something that is neither an object
// nor an array (indexed by a decimal without leading zeros, RFC 6901).
func (p claimPath) lookup(tok jwt.Token) (any, bool) {
	var v any
	if tok.Get(p[0], &v) != nil {
		return nil, false
	}
	for _, name := range p[1:] {
		var ok bool
		switch c := v.(type) {
		case map[string]any:
			v, ok = c[name]
		case []any:
			var i int
			if i, ok = arrayIndex(name, len(c)); ok {
				v = c[i]
			}
		case []string: // registered claims such as aud decode so
			var i int
			if i, ok = arrayIndex(name, len(c)); ok {
				v = c[i]
			}
		}
		if !ok {
			return nil, false
		}
	}
	return v, v != nil
}

// arrayIndex parses an RFC 6901 array index of an array of length n.
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "" || len(tok) > 9 || (tok[0] == '0' && len(tok) > 1) || strings.Trim(tok, "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil && i < n
}

// tenantsOf returns the tenants the claim at path grants, sorted and without
// duplicates, never none. Without prefix any unusable part of the claim
// refuses the whole claim; with a prefix only the string entries starting
// with it count (see Config.TenantClaimPrefix), and those must all be valid.
// The error is a *Denial wrapping ErrForbidden, with reason no_tenant when
// the claim (or, with a prefix, every prefixed entry) is missing and
// invalid_tenant otherwise. name is the path as configured, for error texts.
func tenantsOf(tok jwt.Token, path claimPath, name, prefix string) ([]tenant.ID, error) {
	claim, ok := path.lookup(tok)
	if !ok {
		return nil, deny(reasonNoTenant, fmt.Errorf("%w: no %q claim", ErrForbidden, name))
	}
	invalid := func(format string, args ...any) error {
		return deny(reasonInvalidTenant, fmt.Errorf("%w: claim %q: "+format, append([]any{ErrForbidden, name}, args...)...))
	}
	var entries []any
	switch c := claim.(type) {
	case string:
		entries = []any{c}
	case []string: // registered claims such as aud decode so
		for _, s := range c {
			entries = append(entries, s)
		}
	case []any:
		entries = c
	default:
		return nil, invalid("neither a string nor an array of strings")
	}
	if len(entries) == 0 {
		return nil, invalid("empty array")
	}
	ids := make([]tenant.ID, 0, len(entries))
	for i, e := range entries {
		s, ok := e.(string)
		if prefix != "" {
			if !ok || !strings.HasPrefix(s, prefix) {
				continue // another group: not ours to judge
			}
			s = s[len(prefix):]
		} else if !ok {
			return nil, invalid("entry %d is not a string", i)
		}
		id, err := tenant.Parse(s)
		if err != nil {
			if _, single := claim.(string); single {
				return nil, invalid("%w", err)
			}
			return nil, invalid("entry %d: %w", i, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, deny(reasonNoTenant, fmt.Errorf("%w: no entry of claim %q starts with %q", ErrForbidden, name, prefix))
	}
	slices.SortFunc(ids, tenant.Compare)
	return slices.Compact(ids), nil
}

// scopesOf reads "scope" (RFC 8693) or, failing that, "scp" (Entra, Okta);
// both appear as a space-separated string or as an array.
func scopesOf(tok jwt.Token) ([]string, error) {
	for _, name := range []string{"scope", "scp"} {
		var claim any
		if tok.Get(name, &claim) != nil {
			continue
		}
		switch c := claim.(type) {
		case string:
			return strings.Fields(c), nil
		case []any:
			scopes := make([]string, 0, len(c))
			for _, e := range c {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("claim %q has a non-string entry", name)
				}
				scopes = append(scopes, s)
			}
			return scopes, nil
		default:
			return nil, fmt.Errorf("claim %q is neither a string nor an array", name)
		}
	}
	return nil, nil
}

// clientOf returns the token's "azp" or, when it has none, its "client_id".
// ok is false when the claim it reads is absent or not a string.
func clientOf(tok jwt.Token) (id string, ok bool) {
	for _, name := range []string{"azp", "client_id"} {
		var claim any
		if tok.Get(name, &claim) != nil {
			continue
		}
		id, ok = claim.(string)
		return id, ok
	}
	return "", false
}

// normalizeType maps a "typ" value or Config.Type to the form compared:
// lower case without the optional "application/" prefix (RFC 7515 §4.1.9).
func normalizeType(t string) string {
	return strings.TrimPrefix(strings.ToLower(t), "application/")
}

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ). Such a value is safe inside a quoted
// WWW-Authenticate parameter.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
