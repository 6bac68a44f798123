package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
// from TRACEGATE_LISTEN_ADDR in environ (default :8080); --url replaces the
// whole URL. It prints one line and returns nil when the answer is 200
// (also when the status is "degraded"), and an error of one line otherwise.
func healthcheck(ctx context.Context, args []string, environ map[string]string, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, "usage: tracegate healthcheck [--url URL]\n\n"+
			"Exits 0 when tracegate's /readyz answers 200 within 3s (also when degraded), 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	target := fs.String("url", "", "URL to probe (default http://127.0.0.1:<port of "+envPrefix+"LISTEN_ADDR>/readyz)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected arguments %q", fs.Args())
	}
	probe := *target
	if probe == "" {
		var err error
		if probe, err = probeURL(environ[envPrefix+"LISTEN_ADDR"]); err != nil {
			return err
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
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
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

// probeURL returns the readiness URL of a tracegate listening on
// listenAddr (empty means the default, :8080). A wildcard or empty host is
// probed on 127.0.0.1; a specific host is probed as given.
func probeURL(listenAddr string) (string, error) {
	if listenAddr == "" {
		listenAddr = ":8080"
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("healthcheck: %sLISTEN_ADDR %q: %w", envPrefix, listenAddr, err)
	}
	n, err := net.LookupPort("tcp", port)
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

// probeErrorText names a timeout plainly instead of Go's nested transport error.
func probeErrorText(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", healthcheckTimeout)
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
