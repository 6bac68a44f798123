package main

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

// tempoTransport builds the transport toward Tempo: a connection pool sized
// for a gateway, gzip only when asked for, a custom CA and a client
// certificate when configured, and basic or bearer credentials read from
// files (never from plain environment values) added to every request.
func tempoTransport(cfg config) (http.RoundTripper, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Keep connections for the concurrency a gateway sees (Go's default is 2
	// idle per host, which means a new connection for most requests).
	base.MaxIdleConnsPerHost = 100
	// Tempo is usually near: gzip costs it and us more CPU than it saves
	// (measured in docs/performance.md). Opt in for slow links.
	base.DisableCompression = !cfg.TempoCompression
	if cfg.TempoCAFile != "" || cfg.TempoClientCertFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TempoCAFile != "" {
			pem, err := os.ReadFile(cfg.TempoCAFile)
			if err != nil {
				return nil, fmt.Errorf("%sTEMPO_CA_FILE: %w", envPrefix, err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%sTEMPO_CA_FILE: no PEM certificate in %s", envPrefix, cfg.TempoCAFile)
			}
		}
		if cfg.TempoClientCertFile != "" {
			cert, err := tls.LoadX509KeyPair(cfg.TempoClientCertFile, cfg.TempoClientKeyFile)
			if err != nil {
				return nil, fmt.Errorf("%sTEMPO_CLIENT_CERT_FILE/%sTEMPO_CLIENT_KEY_FILE: %w", envPrefix, envPrefix, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		base.TLSClientConfig = tc
	}

	var authorization string
	switch {
	case cfg.TempoBasicAuthUser != "":
		password, err := readSecret(cfg.TempoBasicAuthPasswordFile, "TEMPO_BASIC_AUTH_PASSWORD_FILE")
		if err != nil {
			return nil, err
		}
		authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.TempoBasicAuthUser+":"+password))
	case cfg.TempoBearerTokenFile != "":
		token, err := readSecret(cfg.TempoBearerTokenFile, "TEMPO_BEARER_TOKEN_FILE")
		if err != nil {
			return nil, err
		}
		authorization = "Bearer " + token
	}
	if authorization == "" {
		return base, nil
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", authorization)
		return base.RoundTrip(r)
	}), nil
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// readSecret reads a one-line secret from a file; the error never holds it.
func readSecret(path, setting string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s%s: required by the chosen Tempo authentication", envPrefix, setting)
	}
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names this file
	if err != nil {
		return "", fmt.Errorf("%s%s: %w", envPrefix, setting, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return "", errors.New(envPrefix + setting + ": the file must hold exactly one non-empty line")
	}
	return s, nil
}

// serverTLS returns the TLS configuration for serving, or nil for plain HTTP.
func serverTLS(cfg config) (*tls.Config, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%sTLS_CERT_FILE/%sTLS_KEY_FILE: %w", envPrefix, envPrefix, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
