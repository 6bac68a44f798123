package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readyzServer answers /readyz with status and body, and 404 elsewhere.
func readyzServer(t *testing.T, status int, contentType, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHealthcheckAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     []string // substrings of the error; nil = healthy
		wantOut     string
	}{
		{
			name: "ready", status: http.StatusOK, contentType: "application/json",
			body:    `{"status":"ready","checks":[{"name":"keys","ok":true,"detail":"1 key"},{"name":"tempo","ok":true,"detail":"ready"}]}`,
			wantOut: "answered 200 (ready)",
		},
		{
			name: "degraded is still healthy", status: http.StatusOK, contentType: "application/json",
			body:    `{"status":"degraded","checks":[{"name":"keys","ok":true,"detail":"1 key, 20m old; last refresh failed: timeout"}]}`,
			wantOut: "answered 200 (degraded)",
		},
		{
			name: "not JSON but 200", status: http.StatusOK, contentType: "text/plain", body: "ok\n",
			wantOut: "answered 200 (ok)",
		},
		{
			name: "not ready: the problem's detail, on one line", status: http.StatusServiceUnavailable,
			contentType: "application/problem+json",
			body:        `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"not ready: tempo: dial tcp 10.0.0.7:3200:\nconnection refused","instance":"abc"}`,
			wantErr:     []string{"answered 503", "not ready: tempo: dial tcp 10.0.0.7:3200: connection refused"},
		},
		{
			name: "plain text error", status: http.StatusBadGateway, contentType: "text/plain", body: "bad gateway\n",
			wantErr: []string{"answered 502", "bad gateway"},
		},
		{
			name: "long body is cut", status: http.StatusInternalServerError, contentType: "text/plain", body: strings.Repeat("x", 5000),
			wantErr: []string{"answered 500", strings.Repeat("x", 300) + "..."},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := readyzServer(t, tc.status, tc.contentType, tc.body)
			var out strings.Builder
			err := healthcheck(t.Context(), []string{"--url", srv.URL + "/readyz"}, nil, &out)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("healthcheck: %v", err)
				}
				if !strings.Contains(out.String(), tc.wantOut) || strings.Count(out.String(), "\n") != 1 {
					t.Errorf("output %q: want one line containing %q", out.String(), tc.wantOut)
				}
				return
			}
			if err == nil {
				t.Fatalf("healthcheck succeeded (output %q), want an error", out.String())
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 {
				t.Errorf("error is not one short line: %q", err)
			}
		})
	}
}

// TestHealthcheckPortFromListenAddr checks that without --url the probe
// goes to 127.0.0.1 on the port of TRACEGATE_LISTEN_ADDR.
func TestHealthcheckPortFromListenAddr(t *testing.T) {
	t.Parallel()
	srv := readyzServer(t, http.StatusOK, "application/json", `{"status":"ready","checks":[]}`)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{":" + port, "0.0.0.0:" + port, "127.0.0.1:" + port} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if err := healthcheck(t.Context(), nil, map[string]string{"TRACEGATE_LISTEN_ADDR": addr}, &out); err != nil {
				t.Fatalf("healthcheck: %v", err)
			}
			if want := "http://127.0.0.1:" + port + "/readyz answered 200 (ready)"; !strings.Contains(out.String(), want) {
				t.Errorf("output %q does not contain %q", out.String(), want)
			}
		})
	}
}

func TestHealthcheckProbeURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listenAddr string
		want       string // "" = error
	}{
		{"", "http://127.0.0.1:8080/readyz"},
		{":8080", "http://127.0.0.1:8080/readyz"},
		{":9090", "http://127.0.0.1:9090/readyz"},
		{"0.0.0.0:9090", "http://127.0.0.1:9090/readyz"},
		{"[::]:9090", "http://127.0.0.1:9090/readyz"},
		{"127.0.0.1:9090", "http://127.0.0.1:9090/readyz"},
		{"[::1]:9090", "http://[::1]:9090/readyz"},
		{"10.1.2.3:9090", "http://10.1.2.3:9090/readyz"},
		{"localhost:9090", "http://localhost:9090/readyz"},
		{"8080", ""},
		{":0", ""},
		{":not-a-port", ""},
		{"127.0.0.1:99999", ""},
	}
	for _, tc := range tests {
		got, err := probeURL(t.Context(), tc.listenAddr)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("probeURL(%q) = %q, want an error", tc.listenAddr, got)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("probeURL(%q) = %q, %v; want %q", tc.listenAddr, got, err, tc.want)
		}
	}
}

func TestHealthcheckUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	err = healthcheck(t.Context(), nil, map[string]string{"TRACEGATE_LISTEN_ADDR": addr}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "http://"+addr+"/readyz") || strings.Contains(err.Error(), "\n") {
		t.Errorf("healthcheck of a closed port: %v; want one line naming the URL", err)
	}
}

// TestHealthcheckTimeout checks the 3s bound against a server that never answers.
func TestHealthcheckTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	start := time.Now()
	err := healthcheck(t.Context(), []string{"--url", srv.URL + "/readyz"}, nil, &strings.Builder{})
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer within 3s") {
		t.Errorf("healthcheck of a silent server: %v; want a timeout", err)
	}
	if elapsed < healthcheckTimeout-100*time.Millisecond || elapsed > healthcheckTimeout+2*time.Second {
		t.Errorf("healthcheck gave up after %s, want about %s", elapsed, healthcheckTimeout)
	}
}

func TestHealthcheckDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target := readyzServer(t, http.StatusOK, "application/json", `{"status":"ready"}`)
	srv := httptest.NewServer(http.RedirectHandler(target.URL+"/readyz", http.StatusFound))
	t.Cleanup(srv.Close)
	err := healthcheck(t.Context(), []string{"--url", srv.URL + "/readyz"}, nil, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "answered 302") {
		t.Errorf("healthcheck through a redirect: %v; want the 302 as a failure", err)
	}
}

func TestHealthcheckArguments(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, args := range [][]string{
		{"--url", "ftp://127.0.0.1/readyz"},
		{"--url", "/readyz"},
		{"--url"},
		{"--nope"},
		{"extra"},
	} {
		if err := healthcheck(ctx, args, nil, &strings.Builder{}); err == nil {
			t.Errorf("healthcheck %q succeeded, want an error", args)
		}
	}
	var out strings.Builder
	if err := healthcheck(ctx, []string{"-h"}, nil, &out); err != nil || !strings.Contains(out.String(), "usage: tracegate healthcheck") {
		t.Errorf("healthcheck -h: %v, output %q", err, out.String())
	}
}

// writeCertPEM writes a DER certificate to a PEM file, after a private key
// block (as a combined key+chain file might hold), and returns its path.
func writeCertPEM(t *testing.T, der []byte) string {
	t.Helper()
	var b []byte
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")})...)
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	file := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestHealthcheckTLS checks that with TRACEGATE_TLS_CERT_FILE the probe
// speaks HTTPS to 127.0.0.1 and accepts exactly that certificate.
func TestHealthcheckTLS(t *testing.T) {
	t.Parallel()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready","checks":[]}`))
	})
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	otherCert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{"TRACEGATE_LISTEN_ADDR": ":" + port, "TRACEGATE_TLS_CERT_FILE": writeCertPEM(t, srv.Certificate().Raw)}

	var out strings.Builder
	if err := healthcheck(t.Context(), nil, environ, &out); err != nil {
		t.Fatalf("healthcheck over TLS: %v", err)
	}
	if want := "https://127.0.0.1:" + port + "/readyz answered 200 (ready)"; !strings.Contains(out.String(), want) {
		t.Errorf("output %q does not contain %q", out.String(), want)
	}

	environ["TRACEGATE_TLS_CERT_FILE"] = writeCertPEM(t, otherCert)
	err = healthcheck(t.Context(), nil, environ, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "not the one in TRACEGATE_TLS_CERT_FILE") {
		t.Errorf("healthcheck against another certificate: %v; want a certificate mismatch", err)
	}

	environ["TRACEGATE_TLS_CERT_FILE"] = filepath.Join(t.TempDir(), "missing.pem")
	if err := healthcheck(t.Context(), nil, environ, &strings.Builder{}); err == nil {
		t.Error("healthcheck with a missing certificate file succeeded")
	}

	// Plain HTTP to a TLS port fails, and --url is verified the usual way
	// (the test server's certificate is not trusted by the system).
	delete(environ, "TRACEGATE_TLS_CERT_FILE")
	if err := healthcheck(t.Context(), nil, environ, &strings.Builder{}); err == nil {
		t.Error("healthcheck over plain HTTP to a TLS server succeeded")
	}
	if err := healthcheck(t.Context(), []string{"--url", srv.URL + "/readyz"}, nil, &strings.Builder{}); err == nil {
		t.Error("healthcheck --url accepted an untrusted certificate")
	}
}
