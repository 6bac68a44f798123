package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The attack suite: every case is a request an attacker could send. None may
// be answered 2xx (except the marked controls) and none may reach Tempo.

const (
	atkIssuer   = "https://idp.attack.test/"
	atkAudience = "tracegate"
	ownTrace    = "4bf92f3577b34da6a3ce929d0e0e4736" // acme's
	globexTrace = "5b8efff798038103d269b633813fc700"
)

var b64 = base64.RawURLEncoding

// craft builds a compact JWS from header and claims, signed by sign (nil
// leaves the signature empty).
func craft(t *testing.T, header, claims map[string]any, sign func([]byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

func es256(key *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		sum := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func rs256(key *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func hs256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	point := must(pub.Bytes()) // 0x04 || X || Y
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:])}
}

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any { // no "alg", as Entra publishes keys
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig",
		"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

// jwksServer serves keys and counts how often it was asked.
func jwksServer(t *testing.T, keys ...map[string]any) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	body, _ := json.Marshal(map[string]any{"keys": keys})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// rawGet sends a hand-written request (for header bytes Go's client refuses
// to send) and returns the status code.
func rawGet(t *testing.T, base, path string, headerLines ...string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: tracegate\r\nConnection: close\r\n" + strings.Join(headerLines, "\r\n") + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAttackSuite(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	attackerEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, jwksHits := jwksServer(t, ecJWK("es", &ecKey.PublicKey), rsaJWK("rs", &rsaKey.PublicKey))
	attackerJWKS, attackerHits := jwksServer(t, ecJWK("es", &attackerEC.PublicKey))

	tempoSrv, rt := newTempo(t)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":      "127.0.0.1:0",
		"TRACEGATE_TEMPO_URL":        tempoSrv.URL,
		"TRACEGATE_JWKS_URL":         jwks.URL,
		"TRACEGATE_JWT_ISSUER":       atkIssuer,
		"TRACEGATE_JWT_AUDIENCE":     atkAudience,
		"TRACEGATE_TENANT_ATTRIBUTE": "tenant.id",
	})

	now := time.Now().Unix()
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"iss": atkIssuer, "aud": atkAudience, "sub": "mallory", "exp": now + 3600, "iat": now, "tenant_id": "acme"}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	es := func(over map[string]any) string {
		return craft(t, map[string]any{"alg": "ES256", "typ": "JWT", "kid": "es"}, claims(over), es256(ecKey))
	}
	withHeader := func(h map[string]any, over map[string]any, sign func([]byte) []byte) string {
		hdr := map[string]any{"alg": "ES256", "typ": "JWT", "kid": "es"}
		for k, v := range h {
			hdr[k] = v
		}
		return craft(t, hdr, claims(over), sign)
	}
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey))})
	ecPubDER := must(x509.MarshalPKIXPublicKey(&ecKey.PublicKey))
	valid := es(nil)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64.EncodeToString(must(json.Marshal(claims(map[string]any{"tenant_id": "globex"})))) + "." + parts[2]

	type attack struct {
		name    string
		path    string
		auth    []string          // Authorization header values
		headers map[string]string // other headers
		want    int
	}
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	trace := "/api/v1/traces/" + ownTrace
	attacks := []attack{
		{"no token", trace, nil, nil, 401},
		{"alg none", trace, bearer(craft(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil)), nil, 401},
		{"alg None", trace, bearer(craft(t, map[string]any{"alg": "None"}, claims(nil), nil)), nil, 401},
		{"alg NONE", trace, bearer(craft(t, map[string]any{"alg": "NONE"}, claims(nil), nil)), nil, 401},
		{"alg nOnE with a signature", trace, bearer(craft(t, map[string]any{"alg": "nOnE", "kid": "es"}, claims(nil), es256(ecKey))), nil, 401},
		{"HS256 keyed with the RSA public key (PEM)", trace, bearer(withHeader(map[string]any{"alg": "HS256", "kid": "rs"}, nil, hs256(rsaPubPEM))), nil, 401},
		{"HS256 keyed with the EC public key (DER)", trace, bearer(withHeader(map[string]any{"alg": "HS256"}, nil, hs256(ecPubDER))), nil, 401},
		{"RS256 header on the EC key", trace, bearer(withHeader(map[string]any{"alg": "RS256"}, nil, rs256(rsaKey))), nil, 401},
		{"unknown key with a known kid", trace, bearer(withHeader(nil, nil, es256(attackerEC))), nil, 401},
		{"kid path injection", trace, bearer(withHeader(map[string]any{"kid": "../../../../etc/passwd"}, nil, es256(ecKey))), nil, 401},
		{"kid SQL injection", trace, bearer(withHeader(map[string]any{"kid": "' OR '1'='1' --"}, nil, es256(ecKey))), nil, 401},
		{"kid header injection", trace, bearer(withHeader(map[string]any{"kid": "es\r\nX-Scope-OrgID: globex"}, nil, es256(ecKey))), nil, 401},
		{"jku to the attacker's JWKS", trace, bearer(withHeader(map[string]any{"jku": attackerJWKS.URL}, nil, es256(attackerEC))), nil, 401},
		{"x5u to the attacker", trace, bearer(withHeader(map[string]any{"x5u": attackerJWKS.URL}, nil, es256(attackerEC))), nil, 401},
		{"embedded jwk of the attacker", trace, bearer(withHeader(map[string]any{"jwk": ecJWK("es", &attackerEC.PublicKey)}, nil, es256(attackerEC))), nil, 401},
		{"expired", trace, bearer(es(map[string]any{"exp": now - 3600})), nil, 401},
		{"nbf in the future", trace, bearer(es(map[string]any{"nbf": now + 3600})), nil, 401},
		{"iat in the future", trace, bearer(es(map[string]any{"iat": now + 3600})), nil, 401},
		{"missing exp", trace, bearer(es(map[string]any{"exp": nil})), nil, 401},
		{"wrong iss", trace, bearer(es(map[string]any{"iss": "https://evil.test/"})), nil, 401},
		{"iss with a trailing difference", trace, bearer(es(map[string]any{"iss": strings.TrimSuffix(atkIssuer, "/")})), nil, 401},
		{"wrong aud", trace, bearer(es(map[string]any{"aud": "other-service"})), nil, 401},
		{"aud array without ours", trace, bearer(es(map[string]any{"aud": []string{"a", "b"}})), nil, 401},
		{"missing aud", trace, bearer(es(map[string]any{"aud": nil})), nil, 401},
		{"stripped signature", trace, bearer(parts[0] + "." + parts[1] + "."), nil, 401},
		{"no signature segment", trace, bearer(parts[0] + "." + parts[1]), nil, 401},
		{"truncated signature", trace, bearer(parts[0] + "." + parts[1] + "." + parts[2][:20]), nil, 401},
		{"payload swapped to globex", trace, bearer(tampered), nil, 401},
		{"two tokens in one header", trace, []string{"Bearer " + valid + " " + valid}, nil, 401},
		{"two tokens comma-separated", trace, []string{"Bearer " + valid + ", Bearer " + valid}, nil, 401},
		{"two Authorization headers", trace, []string{"Bearer " + valid, "Bearer " + valid}, nil, 401},
		{"Basic scheme", trace, []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("acme:secret"))}, nil, 401},
		{"unknown scheme", trace, []string{"Token " + valid}, nil, 401},
		{"token without scheme", trace, []string{valid}, nil, 401},
		{"non-ASCII in the token", trace, bearer(valid[:10] + "é" + valid[10:]), nil, 401},
		{"token just over 16 KiB", trace, bearer(es(map[string]any{"pad": strings.Repeat("x", 17<<10)})), nil, 401},
		{"1 MiB token", trace, bearer(strings.Repeat("a", 1<<20)), nil, http.StatusRequestHeaderFieldsTooLarge},
		{"tenant with |", trace, bearer(es(map[string]any{"tenant_id": "acme|globex"})), nil, 403},
		{"tenant with :", trace, bearer(es(map[string]any{"tenant_id": "acme:globex"})), nil, 403},
		{"tenant ..", trace, bearer(es(map[string]any{"tenant_id": ".."})), nil, 403},
		{"tenant empty", trace, bearer(es(map[string]any{"tenant_id": ""})), nil, 403},
		{"tenant a number", trace, bearer(es(map[string]any{"tenant_id": 7})), nil, 403},
		{"tenant missing", trace, bearer(es(map[string]any{"tenant_id": nil})), nil, 403},
		{"tenant array with a forbidden id", trace, bearer(es(map[string]any{"tenant_id": []string{"acme", "globex|acme"}})), nil, 403},
		{"tenant array with a non-string", trace, bearer(es(map[string]any{"tenant_id": []any{"acme", 1}})), nil, 403},
		{"X-Tenant not granted", trace, bearer(valid), map[string]string{"X-Tenant": "globex"}, 403},
		{"X-Tenant with Tempo's separator", trace, bearer(valid), map[string]string{"X-Tenant": "acme|globex"}, 403},
		{"X-Tenant federation while disabled", trace, bearer(es(map[string]any{"tenant_id": []string{"acme", "globex"}})), map[string]string{"X-Tenant": "acme,globex"}, 403},
		{"several tenants, none chosen", trace, bearer(es(map[string]any{"tenant_id": []string{"acme", "globex"}})), nil, 400},
		{"encoded dot-dot in the trace id", "/api/v1/traces/..%2F..%2Fapi%2Fecho", bearer(valid), nil, 400},
		{"encoded dot-dot in a tag", "/api/v1/tags/..%2F..%2Fstatus%2Fconfig/values", bearer(valid), nil, 400},
		{"dot-dot segments in a tag", "/api/v1/tags/resource..tenant/values", bearer(valid), nil, 400},
		{"double slash", "/api/v1//traces/" + ownTrace, bearer(valid), nil, 404},
		{"trailing slash", "/api/v1/whoami/", bearer(valid), nil, 404},
		{"POST to the API", trace, bearer(valid), map[string]string{"X-Method": "POST"}, 405},
		{"Tempo's own path through tracegate", "/api/v2/traces/" + ownTrace, bearer(valid), nil, 404},
		{"Tempo's status page through tracegate", "/status/config", bearer(valid), nil, 404},
		// The Tempo-compatible mount: the same authentication, and nothing
		// unlisted or unconfinable reaches Tempo.
		{"mount: no token", "/tempo/api/v2/traces/" + ownTrace, nil, nil, 401},
		{"mount: echo without a token", "/tempo/api/echo", nil, nil, 401},
		{"mount: alg none", "/tempo/api/search", bearer(craft(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil)), nil, 401},
		{"mount: expired", "/tempo/api/search/tags", bearer(es(map[string]any{"exp": now - 3600})), nil, 401},
		{"mount: wrong aud", "/tempo/api/metrics/query_range?q=%7B%7D%7Crate()", bearer(es(map[string]any{"aud": "grafana"})), nil, 401},
		{"mount: tenant with |", "/tempo/api/search", bearer(es(map[string]any{"tenant_id": "acme|globex"})), nil, 403},
		{"mount: X-Tenant not granted", "/tempo/api/search", bearer(valid), map[string]string{"X-Tenant": "globex"}, 403},
		{"mount: Tempo's push path", "/tempo/api/push", bearer(valid), map[string]string{"X-Method": "POST"}, 404},
		{"mount: OTLP ingest", "/tempo/v1/traces", bearer(valid), map[string]string{"X-Method": "POST"}, 404},
		{"mount: trace diff", "/tempo/api/v2/traces/diff", bearer(valid), map[string]string{"X-Method": "POST"}, 404},
		{"mount: flush", "/tempo/flush", bearer(valid), nil, 404},
		{"mount: shutdown", "/tempo/shutdown", bearer(valid), nil, 404},
		{"mount: overrides", "/tempo/api/overrides", bearer(valid), nil, 404},
		{"mount: status/config", "/tempo/status/config", bearer(valid), nil, 404},
		{"mount: querier path", "/tempo/querier/api/search", bearer(valid), nil, 404},
		{"mount: encoded dot-dot in the trace id", "/tempo/api/traces/..%2F..%2Fstatus%2Fconfig", bearer(valid), nil, 400},
		{"mount: encoded dot-dot in a tag", "/tempo/api/v2/search/tag/..%2F..%2Fstatus%2Fconfig/values", bearer(valid), nil, 400},
		{"mount: span filtering of a mixed trace", "/tempo/api/v2/traces/" + ownTrace + "?q=%7B%7D&keep_hierarchy=true", bearer(valid), nil, 400},
		{"mount: trace-duration filter", "/tempo/api/search?tags=service.name%3Dshop&minDuration=1s", bearer(valid), nil, 400},
		{"mount: q and tags at once", "/tempo/api/search?q=%7B%7D&tags=a%3Db", bearer(valid), nil, 400},
		{"mount: repeated q", "/tempo/api/search?q=%7B%7D&q=%7B%20true%20%7D", bearer(valid), nil, 400},
		{"mount: metrics over the descendant operator", "/tempo/api/metrics/query?q=%7B%7D%20%3E%3E%20%7B%7D%20%7C%20rate()", bearer(valid), nil, 400},
		{"mount: trace-level metrics", "/tempo/api/metrics/query?q=%7B%20trace%3ArootService%20%3D%20%22x%22%20%7D%7Crate()", bearer(valid), nil, 400},
		{"mount: values of a trace-level tag", "/tempo/api/v2/search/tag/trace:rootService/values", bearer(valid), nil, 400},
	}
	if len(attacks) < 30 {
		t.Fatalf("only %d attacks", len(attacks))
	}

	before := rt.count()
	for _, a := range attacks {
		method := http.MethodGet
		if m := a.headers["X-Method"]; m != "" {
			method = m
		}
		req, err := http.NewRequest(method, base+a.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range a.auth {
			req.Header.Add("Authorization", v)
		}
		for k, v := range a.headers {
			if k != "X-Method" {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", a.name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != a.want {
			t.Errorf("%s: status %d, want %d", a.name, resp.StatusCode, a.want)
		}
		if n := rt.count(); n != before {
			t.Errorf("%s: reached Tempo (%d requests)", a.name, n-before)
			before = n
		}
	}

	// Header bytes Go's client will not send: control characters.
	for name, line := range map[string]string{
		"control character in the token":     "Authorization: Bearer " + valid[:10] + "\x01" + valid[10:],
		"NUL in the token":                   "Authorization: Bearer " + valid[:10] + "\x00" + valid[10:],
		"bare CR in the Authorization value": "Authorization: Bearer " + valid + "\rX-Scope-OrgID: globex",
	} {
		if status := rawGet(t, base, trace, line); status < 400 || status > 499 {
			t.Errorf("%s: status %d, want 4xx", name, status)
		}
	}
	if n := rt.count(); n != before {
		t.Errorf("raw attacks reached Tempo (%d requests)", n-before)
	}
	if attackerHits.Load() != 0 {
		t.Errorf("the attacker's JWKS was fetched %d times", attackerHits.Load())
	}
	if jwksHits.Load() > 3 {
		t.Errorf("the real JWKS was fetched %d times: unknown kids must not cause a refetch each", jwksHits.Load())
	}

	// Controls: the same harness does answer a valid token, and a client's
	// X-Scope-OrgID changes nothing (answered as if absent).
	for _, c := range []struct {
		name    string
		path    string
		auth    string
		headers map[string]string
		want    int
	}{
		{"control: valid token", trace, "Bearer " + valid, nil, 200},
		{"control: lower-case scheme", trace, "bearer " + valid, nil, 200},
		{"X-Scope-OrgID on acme's own trace", trace, "Bearer " + valid, map[string]string{"X-Scope-OrgID": "globex"}, 200},
		{"X-Scope-OrgID asking for globex's trace", "/api/v1/traces/" + globexTrace, "Bearer " + valid, map[string]string{"X-Scope-OrgID": "globex"}, 404},
		{"X-Scope-OrgID federation asking for globex's trace", "/api/v1/traces/" + globexTrace, "Bearer " + valid, map[string]string{"X-Scope-OrgID": "acme|globex"}, 404},
		{"control: the mount with a valid token", "/tempo/api/v2/traces/" + ownTrace, "Bearer " + valid, nil, 200},
		{"control: echo with a valid token", "/tempo/api/echo", "Bearer " + valid, nil, 200},
		{"X-Scope-OrgID on the mount asking for globex's trace", "/tempo/api/traces/" + globexTrace, "Bearer " + valid, map[string]string{"X-Scope-OrgID": "globex"}, 404},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
		req.Header.Set("Authorization", c.auth)
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
	rt.mu.Lock()
	for _, r := range rt.requests {
		if r.URL.Path == "/api/echo" { // Tempo's echo reads no tenant: none is sent
			continue
		}
		if got := r.Header.Get("X-Scope-OrgID"); got != "acme" {
			t.Errorf("Tempo was asked as %q", got)
		}
	}
	rt.mu.Unlock()
	if strings.Contains(logs.String(), valid) || strings.Contains(logs.String(), parts[2]) {
		t.Error("a token reached the log")
	}
}
