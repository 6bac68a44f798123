package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tracegate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key))
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: must(x509.MarshalECPrivateKey(key))}))
	pool = x509.NewCertPool()
	pool.AddCert(must(x509.ParseCertificate(der)))
	return certFile, keyFile, pool
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Hosted Tempo: TLS with a private CA and basic auth from a file; tracegate
// itself serving HTTPS.
func TestTLSAndTempoCredentials(t *testing.T) {
	dir := t.TempDir()
	tempoPlain, _ := newTempo(t)
	var mu sync.Mutex
	var seenAuth []string
	tempoTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seenAuth = append(seenAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		if user, pass, ok := r.BasicAuth(); !ok || user != "tracegate" || pass != "s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		tempoPlain.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(tempoTLS.Close)
	caFile := filepath.Join(dir, "tempo-ca.pem")
	writeFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tempoTLS.Certificate().Raw}))
	passwordFile := filepath.Join(dir, "password")
	writeFile(t, passwordFile, []byte("s3cret\n"))
	certFile, keyFile, pool := selfSigned(t, dir)

	iss, jwksURL := newIssuer(t)
	base, logs := startTracegate(t, map[string]string{
		"TRACEGATE_LISTEN_ADDR":                    "127.0.0.1:0",
		"TRACEGATE_TLS_CERT_FILE":                  certFile,
		"TRACEGATE_TLS_KEY_FILE":                   keyFile,
		"TRACEGATE_TEMPO_URL":                      tempoTLS.URL,
		"TRACEGATE_TEMPO_CA_FILE":                  caFile,
		"TRACEGATE_TEMPO_BASIC_AUTH_USER":          "tracegate",
		"TRACEGATE_TEMPO_BASIC_AUTH_PASSWORD_FILE": passwordFile,
		"TRACEGATE_JWKS_URL":                       jwksURL,
	})
	httpsBase := strings.Replace(base, "http://", "https://", 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	tok := must(iss.Token("u", time.Hour, map[string]any{"tenant_id": "acme"}))
	req, _ := http.NewRequest(http.MethodGet, httpsBase+"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range seenAuth {
		if !strings.HasPrefix(a, "Basic ") || strings.Contains(a, tok) {
			t.Errorf("Tempo got Authorization %q: want tracegate's own basic credentials, never the caller's token", a)
		}
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the Tempo password reached the log")
	}
	// Plain HTTP is not served on the TLS port.
	if resp, err := http.Get(base + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("plain HTTP answered on the TLS listener")
	}
}
