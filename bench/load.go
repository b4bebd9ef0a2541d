package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadSpec says how hard and how long to drive one HTTP target.
type loadSpec struct {
	URL         string
	Connections int
	Duration    time.Duration
	// Paths, when set, are the request paths: each request of the go
	// loader picks one uniformly at random, wrk's go through them in turn
	// (a Lua script); URL then gives only the host.
	Paths []string
}

// loadResult is what one load run measured.
type loadResult struct {
	Loader   string        // "wrk" or "go"
	Requests int64         // completed requests, whatever their status
	Errors   int64         // connection, read or timeout errors
	Non2xx   int64         // completed requests whose status was not 2xx or 3xx
	Statuses map[int]int64 // requests by status code (go loader only)
	Elapsed  time.Duration
	P50, P99 time.Duration
	Mean     time.Duration
}

// rps is the rate of successful answers (2xx or 3xx): a target that
// answers fast with 429s or 503s under the load is not credited for them.
func (r loadResult) rps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Non2xx) / r.Elapsed.Seconds()
}

// loader generates closed-loop load against a URL: each connection sends its
// next request as soon as the previous answer arrives.
type loader interface {
	name() string
	run(ctx context.Context, spec loadSpec) (loadResult, error)
}

// goLoader is the built-in load generator, used when wrk is not installed
// and by the tests. It writes raw HTTP/1.1 requests on keep-alive
// connections and parses answers with net/http, so per-request overhead is
// a single write and a buffered read.
type goLoader struct{}

func (goLoader) name() string { return "go" }

func (goLoader) run(ctx context.Context, spec loadSpec) (loadResult, error) {
	u, err := url.Parse(spec.URL)
	if err != nil {
		return loadResult{}, fmt.Errorf("go loader: parse %q: %w", spec.URL, err)
	}
	if spec.Connections < 1 {
		return loadResult{}, fmt.Errorf("go loader: %d connections, want at least 1", spec.Connections)
	}
	paths := spec.Paths
	if len(paths) == 0 {
		paths = []string{u.RequestURI()}
	}
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		reqs[i] = []byte("GET " + p + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: strata-bench\r\n\r\n")
	}

	type connResult struct {
		hist            *histogram
		requests, non2x int64
		errs            int64
		statuses        map[int]int64
	}
	results := make([]connResult, spec.Connections)
	start := time.Now()
	deadline := start.Add(spec.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var wg sync.WaitGroup
	for i := range results {
		res := &results[i]
		res.hist = newHistogram()
		res.statuses = map[int]int64{}
		// A generator per connection, seeded apart, so picking a path
		// takes no lock.
		rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
		wg.Go(func() {
			var d net.Dialer
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for runCtx.Err() == nil {
				if conn == nil {
					c, err := d.DialContext(runCtx, "tcp", u.Host)
					if err != nil {
						if runCtx.Err() == nil {
							res.errs++
							// Back off briefly so a refused port does not spin.
							time.Sleep(10 * time.Millisecond)
						}
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 16<<10)
					// Unblock a read stuck past the end of the run.
					_ = conn.SetDeadline(deadline.Add(2 * time.Second))
				}
				t0 := time.Now()
				reqBytes := reqs[0]
				if len(reqs) > 1 {
					reqBytes = reqs[rng.IntN(len(reqs))]
				}
				status, keepAlive, err := roundTrip(conn, br, reqBytes)
				if err != nil {
					if runCtx.Err() == nil && time.Now().Before(deadline) {
						res.errs++
					}
					conn.Close()
					conn = nil
					continue
				}
				if time.Now().After(deadline) {
					// Answers that arrive after the end do not count, as in wrk.
					break
				}
				res.hist.record(time.Since(t0))
				res.requests++
				res.statuses[status]++
				if status < 200 || status >= 400 {
					res.non2x++
				}
				if !keepAlive {
					conn.Close()
					conn = nil
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return loadResult{}, fmt.Errorf("go loader: %w", context.Cause(ctx))
	}

	total := newHistogram()
	out := loadResult{Loader: "go", Elapsed: min(elapsed, spec.Duration), Statuses: map[int]int64{}}
	for _, r := range results {
		total.merge(r.hist)
		for code, n := range r.statuses {
			out.Statuses[code] += n
		}
		out.Requests += r.requests
		out.Non2xx += r.non2x
		out.Errors += r.errs
	}
	out.P50, out.P99, out.Mean = total.quantile(0.50), total.quantile(0.99), total.mean()
	return out, nil
}

// roundTrip writes one request and reads its whole answer.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (status int, keepAlive bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
}

// wrkLoader drives load with wrk (https://github.com/wg/wrk), the tool the
// peer figures in FACTS.md were measured with. wrk is written in C with an
// event loop, so it takes less of the shared CPU than the Go loader.
type wrkLoader struct {
	path string
}

func (w wrkLoader) name() string { return "wrk" }

func (w wrkLoader) run(ctx context.Context, spec loadSpec) (loadResult, error) {
	// wrk takes whole seconds; round a shorter run up rather than fail.
	secs := max(int(math.Ceil(spec.Duration.Seconds())), 1)
	threads := min(2, spec.Connections)
	args := []string{
		"-t" + strconv.Itoa(threads),
		"-c" + strconv.Itoa(spec.Connections),
		"-d" + strconv.Itoa(secs) + "s",
		"--latency",
	}
	if len(spec.Paths) > 0 {
		script, err := wrkPathsScript(spec.Paths)
		if err != nil {
			return loadResult{}, err
		}
		defer os.Remove(script)
		args = append(args, "-s", script)
	}
	args = append(args, spec.URL)
	cmd := exec.CommandContext(ctx, w.path, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return res, nil
}

var (
	wrkTotal   = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m|h),`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$`)
	wrkMean    = regexp.MustCompile(`(?m)^\s+Latency\s+([\d.]+)(us|ms|s|m|h)\s`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads the summary wrk prints with --latency.
func parseWrk(out string) (loadResult, error) {
	res := loadResult{Loader: "wrk"}
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return res, errors.New("no request total in output")
	}
	res.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	var err error
	if res.Elapsed, err = wrkDuration(m[2], m[3]); err != nil {
		return res, err
	}
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		d, err := wrkDuration(p[2], p[3])
		if err != nil {
			return res, err
		}
		if p[1] == "50" {
			res.P50 = d
		} else {
			res.P99 = d
		}
	}
	if res.Requests > 0 && (res.P50 == 0 || res.P99 == 0) {
		return res, errors.New("no latency distribution in output")
	}
	if m := wrkMean.FindStringSubmatch(out); m != nil {
		res.Mean, _ = wrkDuration(m[1], m[2])
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		res.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			res.Errors += n
		}
	}
	return res, nil
}

func wrkDuration(num, unit string) (time.Duration, error) {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("parse wrk duration %s%s: %w", num, unit, err)
	}
	scale := map[string]time.Duration{
		"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"m": time.Minute, "h": time.Hour,
	}[unit]
	return time.Duration(math.Round(f * float64(scale))), nil
}

// wrkPathsScript writes a wrk Lua script that sends each request to the
// next of paths in turn (per wrk thread), as the go loader does, and
// returns its file name.
func wrkPathsScript(paths []string) (string, error) {
	var b strings.Builder
	b.WriteString("local paths = {\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %q,\n", p)
	}
	b.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n")
	f, err := os.CreateTemp("", "strata-wrk-*.lua")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return "", err
	}
	return f.Name(), f.Close()
}
