package tempo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/tracegate/tracegate/internal/tenant"
	"github.com/tracegate/tracegate/internal/traces"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientCert writes a self-signed client certificate and its key to dir.
func clientCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tracegate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

// A hosted Tempo: TLS with a private CA, a client certificate, and basic or
// bearer credentials from files; gzip only when asked for.
func TestNewTransport(t *testing.T) {
	t.Parallel()
	type seen struct {
		authorization, acceptEncoding string
		clientCerts                   int
	}
	got := make(chan seen, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("Accept-Encoding"), len(r.TLS.PeerCertificates)}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	passwordFile, tokenFile := filepath.Join(dir, "password"), filepath.Join(dir, "token")
	writeFile(t, passwordFile, []byte("s3cret\n"))
	writeFile(t, tokenFile, []byte("t0ken"))
	certFile, keyFile := clientCert(t, dir)

	for _, tc := range []struct {
		name string
		cfg  TransportConfig
		want seen
	}{
		{"basic auth", TransportConfig{CAFile: caFile, BasicAuthUser: "tracegate", BasicAuthPasswordFile: passwordFile},
			seen{authorization: "Basic dHJhY2VnYXRlOnMzY3JldA=="}}, // tracegate:s3cret
		{"bearer token", TransportConfig{CAFile: caFile, BearerTokenFile: tokenFile}, seen{authorization: "Bearer t0ken"}},
		{"client certificate", TransportConfig{CAFile: caFile, ClientCertFile: certFile, ClientKeyFile: keyFile}, seen{clientCerts: 1}},
		{"compression", TransportConfig{CAFile: caFile, Compression: true}, seen{acceptEncoding: "gzip"}},
	} {
		rt, err := NewTransport(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if s := <-got; s != tc.want {
			t.Errorf("%s: Tempo saw %+v, want %+v", tc.name, s, tc.want)
		}
	}
	// Without the CA, Tempo's certificate is not trusted.
	rt, err := NewTransport(TransportConfig{})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if resp, err := rt.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Error("Tempo's certificate was trusted without its CA")
	}
}

func TestNewTransportErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	twoLines := filepath.Join(dir, "two")
	writeFile(t, twoLines, []byte("a\nb\n"))
	notPEM := filepath.Join(dir, "ca")
	writeFile(t, notPEM, []byte("hello"))
	for name, cfg := range map[string]TransportConfig{
		"password file with two lines": {BasicAuthUser: "u", BasicAuthPasswordFile: twoLines},
		"no password file":             {BasicAuthUser: "u"},
		"missing token file":           {BearerTokenFile: filepath.Join(dir, "nope")},
		"CA file without PEM":          {CAFile: notPEM},
		"missing client key":           {ClientCertFile: notPEM, ClientKeyFile: filepath.Join(dir, "nope")},
	} {
		if _, err := NewTransport(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "a\nb") || strings.Contains(err.Error(), "hello") {
			t.Errorf("%s: the file's contents are in the error: %v", name, err)
		}
	}
}

// Every Tempo path tracegate calls is one it built: a redirect is Tempo's
// answer (an error), never followed, whatever the http.Client given says.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	c, mock := newTestClient(t, time.Second, 1<<20)
	mock.RegisterResponder(http.MethodGet, tempoURL+"/api/v2/traces/"+checkoutID.String(), func(*http.Request) (*http.Response, error) {
		resp := httpmock.NewStringResponse(http.StatusFound, "")
		resp.Header.Set("Location", tempoURL+"/elsewhere")
		return resp, nil
	})
	mock.RegisterResponder(http.MethodGet, tempoURL+"/elsewhere", httpmock.NewStringResponder(http.StatusOK, "followed"))
	err := c.WithTrace(context.Background(), tenant.MustSet("acme"), checkoutID, traces.TimeRange{}, func(traces.Trace) error { return nil })
	if !errors.Is(err, traces.ErrUpstream) {
		t.Errorf("a redirect: %v, want ErrUpstream", err)
	}
	if n := mock.GetCallCountInfo()["GET "+tempoURL+"/elsewhere"]; n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}
