package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// healthcheckTimeout bounds one probe: connect, request and answer.
const healthcheckTimeout = 3 * time.Second

// maxHealthcheckBody caps how much of the answer the probe reads.
const maxHealthcheckBody = 64 << 10

// healthcheck probes the readiness endpoint of a tracegate running on this
// host, for container health checks: the distroless image has no shell and
// no curl. By default it asks http://127.0.0.1:<port>/readyz, the port taken
// from TRACEGATE_ADMIN_LISTEN_ADDR in environ when set, else from
// TRACEGATE_LISTEN_ADDR (default :8080); when
// TRACEGATE_TLS_CERT_FILE is set it asks https:// instead and accepts
// exactly the certificate in that file (the name 127.0.0.1 is not on it).
// --url replaces the whole URL, verified the usual way. It prints one line
// and returns nil when the answer is 200 (also when the status is
// "degraded"), and an error of one line otherwise.
func healthcheck(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, "usage: tracegate healthcheck [--url URL]\n\n"+
			"Exits 0 when tracegate's /readyz answers 200 within 3s (also when degraded), 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	target := fs.String("url", "", "URL to probe (default http[s]://127.0.0.1:<port of "+envPrefix+"ADMIN_LISTEN_ADDR or else "+envPrefix+"LISTEN_ADDR>/readyz, https with "+envPrefix+"TLS_CERT_FILE)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected arguments %q", fs.Args())
	}
	transport := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	probe := *target
	if probe == "" {
		var err error
		addr := environ[envPrefix+"LISTEN_ADDR"]
		if admin := environ[envPrefix+"ADMIN_LISTEN_ADDR"]; admin != "" {
			addr = admin // /readyz is served there only
		}
		if probe, err = probeURL(ctx, addr); err != nil {
			return err
		}
		if certFile := environ[envPrefix+"TLS_CERT_FILE"]; certFile != "" {
			probe = "https" + strings.TrimPrefix(probe, "http")
			if transport.TLSClientConfig, err = pinnedTLS(certFile); err != nil {
				return err
			}
		}
	} else if u, err := url.Parse(probe); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("healthcheck: --url %q is not an absolute http(s) URL", probe)
	}

	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	client := &http.Client{
		// A probe of this host goes direct: never through HTTP(S)_PROXY, never
		// kept alive, never redirected elsewhere.
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %s", probe, probeLine(probeErrorText(ctx, err)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthcheckBody))
	if err != nil {
		return fmt.Errorf("healthcheck: %s: reading the answer: %s", probe, probeLine(probeErrorText(ctx, err)))
	}
	// /readyz answers {"status":"ready"|"degraded",...} or a problem with a detail.
	var answer struct {
		Status any    `json:"status"`
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(body, &answer) // best effort: the status code decides
	if resp.StatusCode != http.StatusOK {
		why := answer.Detail
		if why == "" {
			why = string(body)
		}
		msg := fmt.Sprintf("healthcheck: %s answered %d", probe, resp.StatusCode)
		if why = probeLine(why); why != "" {
			msg += ": " + why
		}
		return errors.New(msg)
	}
	status, _ := answer.Status.(string)
	if status == "" {
		status = "ok"
	}
	_, err = fmt.Fprintf(stdout, "healthcheck: %s answered 200 (%s)\n", probe, probeLine(status))
	return err
}

// pinnedTLS returns a client configuration that accepts exactly the server
// certificate in certFile (its first PEM certificate, the one tracegate
// serves). The probe connects to 127.0.0.1, a name the certificate need not
// carry, so the usual name and chain checks are replaced by this comparison.
func pinnedTLS(certFile string) (*tls.Config, error) {
	b, err := os.ReadFile(certFile) //nolint:gosec // G304: the operator's own setting, read as tracegate serve reads it
	if err != nil {
		return nil, fmt.Errorf("healthcheck: %sTLS_CERT_FILE: %w", envPrefix, err)
	}
	var block *pem.Block
	for rest := b; ; {
		if block, rest = pem.Decode(rest); block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("healthcheck: %sTLS_CERT_FILE: no PEM certificate in %s", envPrefix, certFile)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("healthcheck: %sTLS_CERT_FILE: %w", envPrefix, err)
	}
	want := block.Bytes
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // G402: replaced by the exact-certificate check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("the server's certificate is not the one in " + envPrefix + "TLS_CERT_FILE")
			}
			return nil
		},
	}, nil
}

// probeURL returns the readiness URL of a tracegate listening on
// listenAddr (empty means the default, :8080). A wildcard or empty host is
// probed on 127.0.0.1; a specific host is probed as given.
func probeURL(ctx context.Context, listenAddr string) (string, error) {
	if listenAddr == "" {
		listenAddr = ":8080"
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: %sLISTEN_ADDR %q: %w", envPrefix, listenAddr, err)
	}
	n, err := net.DefaultResolver.LookupPort(ctx, "tcp", port)
	if err != nil {
		return "", fmt.Errorf("healthcheck: %sLISTEN_ADDR %q: %w", envPrefix, listenAddr, err)
	}
	if n == 0 {
		return "", fmt.Errorf("healthcheck: %sLISTEN_ADDR %q has no fixed port; use --url", envPrefix, listenAddr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, fmt.Sprint(n)), Path: "/readyz"}).String(), nil
}

// probeErrorText names a timeout plainly, and drops the URL Go's client
// error repeats.
func probeErrorText(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", healthcheckTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) { // the URL is already in the message
		err = ue.Err
	}
	return err.Error()
}

// probeLine folds s into one line of at most 300 bytes, for probe logs.
func probeLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "..."
	}
	return s
}
