package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux architecture Go supports for userland).
const clockTick = 10 * time.Millisecond

// cpuTime returns the CPU time of pid ("self" for this process): the sum
// over its threads of the nanoseconds on a CPU from /proc/<pid>/task/*/schedstat
// (a Go program's threads live as long as it does), else utime+stime of
// /proc/<pid>/stat in 10 ms ticks.
func cpuTime(pid string) (time.Duration, error) {
	tasks, err := filepath.Glob(filepath.Join("/proc", pid, "task", "*", "schedstat"))
	if err == nil && len(tasks) > 0 {
		var sum time.Duration
		for _, task := range tasks {
			b, err := os.ReadFile(task) //nolint:gosec // G304: a /proc file of a pid this program started
			if err != nil {
				continue // the thread has just exited
			}
			f := strings.Fields(string(b))
			if len(f) == 0 {
				return 0, fmt.Errorf("%s: empty", task)
			}
			ns, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			sum += time.Duration(ns)
		}
		return sum, nil
	}
	return statCPUTime(pid)
}

// statCPUTime returns utime+stime of pid, all threads, in clock ticks.
func statCPUTime(pid string) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat")) //nolint:gosec // G304: a /proc file of a pid this program started
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: fields start after ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// statusKB returns a "kB" line of /proc/<pid>/status, e.g. VmHWM or VmRSS.
func statusKB(pid, key string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "status")) //nolint:gosec // G304: a /proc file of a pid this program started
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%s/status: no %s", pid, key)
}

// tracegateProc is a running `tracegate serve`.
type tracegateProc struct {
	cmd  *exec.Cmd
	pid  string
	base string // http://127.0.0.1:port
	log  string // its stdout and stderr
	perf *exec.Cmd
}

// buildTracegate builds the real binary into dir.
func buildTracegate(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tracegate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tracegate") //nolint:gosec // G204: our own temporary directory
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tracegate (run the bench from the module root): %w", err)
	}
	return bin, nil
}

// buildBaseline builds tracegate as of the git ref into dir (from git
// archive, so the working tree is not touched).
func buildBaseline(ctx context.Context, dir, ref string) (string, error) {
	src := filepath.Join(dir, "baseline-src")
	if err := os.MkdirAll(src, 0o750); err != nil {
		return "", err
	}
	archive := exec.CommandContext(ctx, "git", "archive", "--format=tar", ref) //nolint:gosec // G204: the operator's own ref
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)                  //nolint:gosec // G204: our own temporary directory
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return "", err
	}
	untar.Stdin, archive.Stderr, untar.Stderr = pipe, os.Stderr, os.Stderr
	if err := untar.Start(); err != nil {
		return "", err
	}
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", ref, err)
	}
	if err := untar.Wait(); err != nil {
		return "", fmt.Errorf("unpacking %s: %w", ref, err)
	}
	bin := filepath.Join(dir, "tracegate-baseline")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tracegate") //nolint:gosec // G204: our own temporary directory
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build of %s: %w", ref, err)
	}
	return bin, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort(ctx context.Context) (int, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startTracegate runs `bin serve` configured by env (TRACEGATE_LISTEN_ADDR is
// added) with its output in dir/name.log, and waits for /readyz.
func startTracegate(ctx context.Context, bin, dir, name string, env map[string]string) (*tracegateProc, error) {
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath) //nolint:gosec // G304: in our own temporary directory
	if err != nil {
		return nil, err
	}
	defer logFile.Close()                         // the child keeps its own descriptor
	cmd := exec.CommandContext(ctx, bin, "serve") //nolint:gosec // G204: the binary we just built
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	// This environment without TRACEGATE_* settings, then the bench's (the
	// later value of a name wins), then the address.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRACEGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "TRACEGATE_LISTEN_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &tracegateProc{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), base: "http://" + addr, log: logPath}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if status, err := get(ctx, http.DefaultClient, p.base+"/readyz"); err == nil && status == http.StatusOK {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("tracegate not ready after 20s; see %s", logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPerf attaches `perf record` to the process (and, by inheritance, to
// threads it creates later).
func (p *tracegateProc) startPerf(ctx context.Context, out string) error {
	p.perf = exec.CommandContext(ctx, "perf", "record", "-F", "499", "-g", "-o", out, "-p", p.pid) //nolint:gosec // G204: the -perf file the user asked for
	p.perf.Stdout, p.perf.Stderr = io.Discard, os.Stderr
	if err := p.perf.Start(); err != nil {
		p.perf = nil
		return fmt.Errorf("perf record: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // let it attach
	return nil
}

func (p *tracegateProc) stopPerf() {
	if p.perf == nil {
		return
	}
	_ = p.perf.Process.Signal(syscall.SIGINT)
	_ = p.perf.Wait()
	p.perf = nil
}

func (p *tracegateProc) stop() {
	p.stopPerf()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// mallocs reads go_memstats_mallocs_total from tracegate's /metrics.
func (p *tracegateProc) mallocs(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("/metrics has no go_memstats_mallocs_total")
}

// scrapeCost is the number of allocations one /metrics scrape itself causes
// in tracegate (the median of a few), subtracted from each measurement.
func (p *tracegateProc) scrapeCost(ctx context.Context) (float64, error) {
	var deltas []float64
	prev, err := p.mallocs(ctx)
	if err != nil {
		return 0, err
	}
	for range 7 {
		cur, err := p.mallocs(ctx)
		if err != nil {
			return 0, err
		}
		deltas = append(deltas, cur-prev)
		prev = cur
	}
	return median(deltas), nil
}

func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
