package tempo

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// TransportConfig says how to reach Tempo beyond its URL. Every field is
// optional; secrets are read from files, never taken as values.
type TransportConfig struct {
	// Compression asks Tempo for gzip (off: Tempo is usually near, and gzip
	// costs both sides more CPU than it saves; see docs/performance.md).
	Compression bool
	// CAFile is a PEM bundle of the CAs that sign Tempo's certificate
	// (default: the system's).
	CAFile string
	// ClientCertFile and ClientKeyFile are a client certificate for mutual
	// TLS (both or neither).
	ClientCertFile, ClientKeyFile string
	// BasicAuthUser and the one-line BasicAuthPasswordFile, or the one-line
	// BearerTokenFile: tracegate's own credentials, added to every request.
	BasicAuthUser, BasicAuthPasswordFile string
	BearerTokenFile                      string
}

// NewTransport builds the transport toward Tempo: a connection pool sized
// for a gateway, gzip only when asked for, a custom CA and a client
// certificate when configured, and basic or bearer credentials read from
// files added to every request (a caller's own Authorization never reaches
// Tempo: requests are built fresh). Errors name the file, never its
// contents.
func NewTransport(cfg TransportConfig) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Keep connections for the concurrency a gateway sees (Go's default is 2
	// idle per host, which means a new connection for most requests).
	base.MaxIdleConnsPerHost = 100
	base.DisableCompression = !cfg.Compression
	if cfg.CAFile != "" || cfg.ClientCertFile != "" {
		tc, err := clientTLS(cfg)
		if err != nil {
			return nil, err
		}
		base.TLSClientConfig = tc
	}
	authorization, err := authorization(cfg)
	if err != nil || authorization == "" {
		return base, err
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", authorization)
		return base.RoundTrip(r)
	}), nil
}

func clientTLS(cfg TransportConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tempo CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tempo CA file: no PEM certificate in %s", cfg.CAFile)
		}
	}
	if cfg.ClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, cfg.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tempo client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// authorization is the Authorization header of cfg's credentials ("" for none).
func authorization(cfg TransportConfig) (string, error) {
	switch {
	case cfg.BasicAuthUser != "":
		password, err := readSecret(cfg.BasicAuthPasswordFile, "tempo basic auth password file")
		if err != nil {
			return "", err
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.BasicAuthUser+":"+password)), nil
	case cfg.BearerTokenFile != "":
		token, err := readSecret(cfg.BearerTokenFile, "tempo bearer token file")
		if err != nil {
			return "", err
		}
		return "Bearer " + token, nil
	}
	return "", nil
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// readSecret reads a one-line secret from a file; the error never holds it.
func readSecret(path, what string) (string, error) {
	if path == "" {
		return "", errors.New(what + ": required by the chosen Tempo authentication")
	}
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names this file
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return "", errors.New(what + ": the file must hold exactly one non-empty line")
	}
	return s, nil
}
