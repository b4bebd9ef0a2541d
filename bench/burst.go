package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// burstFunction is the function of the burst project, served at GET /work.
const burstFunction = "work"

// burstMaxConcurrency is the function's max_concurrency in the burst runs.
const burstMaxConcurrency = 64

// burstResult is one burst of concurrent requests on a fresh `strata dev`.
type burstResult struct {
	Round          int              `json:"round"`
	Provisioned    int              `json:"provisioned"`
	MaxConcurrency int              `json:"max_concurrency"`
	SleepMS        int              `json:"sleep_ms"`
	Requests       int              `json:"requests"`
	OK             int64            `json:"ok"`
	Throttled      int64            `json:"throttled_429"`
	OtherStatus    int64            `json:"other_status"`
	Errors         int64            `json:"errors"` // connection or read errors
	Statuses       map[string]int64 `json:"statuses,omitempty"`
	P50us          float64          `json:"p50_us"`
	P99us          float64          `json:"p99_us"`
	MaxUS          float64          `json:"max_us"`
	WallMS         float64          `json:"wall_ms"` // first request sent → last answer
	// From the server's usage records (strata usage --json), the burst only.
	ColdStarts  int64  `json:"cold_starts"`
	Invocations int64  `json:"invocations"`
	Throttles   int64  `json:"usage_throttles"`
	Note        string `json:"note,omitempty"`
	Error       string `json:"error,omitempty"`
}

// burstManifest is the burst project's strata.yaml.
func burstManifest(provisioned, sleepMS int) string {
	return fmt.Sprintf(`project: burst
functions:
  %s:
    source: ./%s
    timeout: 10s
    max_concurrency: %d
    provisioned: %d
    env: { SLEEP_MS: "%d" }
    routes:
      - GET /work
`, burstFunction, burstFunction, burstMaxConcurrency, provisioned, sleepMS)
}

// burstSettle is how long the harness leaves a freshly deployed server
// alone before the burst, so instances it keeps provisioned can start.
const burstSettle = 2 * time.Second

// runBurst sends one burst of concurrent requests to a function with
// provisioned: 8 and then to the same function with provisioned: 0, each
// on its own fresh `strata dev` that served no request before, and repeats
// that -burst-rounds times: one burst on two shared CPUs is at the mercy of
// whatever else runs, so the rounds alternate and every one is reported.
func (h *harness) runBurst(ctx context.Context, rep *report) {
	for r := 1; r <= h.opts.BurstRounds; r++ {
		for _, prov := range []int{8, 0} {
			if ctx.Err() != nil {
				return
			}
			res := h.burstOnce(ctx, r, prov)
			if res.Error != "" {
				h.log.Error("burst", "round", r, "provisioned", prov, "err", res.Error)
			} else {
				h.log.Info("burst", "round", r, "provisioned", prov, "ok", res.OK, "429", res.Throttled, "cold_starts", res.ColdStarts, "p99_us", int(res.P99us))
			}
			rep.addBurst(res)
		}
	}
}

func (h *harness) burstOnce(ctx context.Context, rnd, provisioned int) burstResult {
	sleepMS := int(h.opts.BurstSleep / time.Millisecond)
	res := burstResult{Round: rnd, Provisioned: provisioned, MaxConcurrency: burstMaxConcurrency, SleepMS: sleepMS, Requests: h.opts.BurstRequests,
		Note: fmt.Sprintf("strata dev --no-watch, fresh, idle %v after deploy; %d requests released at once, one connection each", burstSettle, h.opts.BurstRequests)}
	bin, err := h.strata(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	proj := filepath.Join(h.work, fmt.Sprintf("burst-r%d-p%d", rnd, provisioned))
	if err := writeNoopProject(proj, burstFunction, burstManifest(provisioned, sleepMS)); err != nil {
		res.Error = fmt.Sprintf("write the burst project: %v", err)
		return res
	}
	addr, err := freeAddr()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	srv, err := startServer(fmt.Sprintf("strata dev (burst, provisioned %d)", provisioned), proj,
		filepath.Join(h.work, fmt.Sprintf("burst-r%d-p%d.log", rnd, provisioned)), bin, "dev", "--addr", addr, "--no-watch")
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer srv.stop()
	// Ready when the dev loop has deployed; no request may reach the
	// function before the burst, or it would start warm.
	if err := srv.waitLog(ctx, "serving burst on", "deploy failed", h.opts.StartTimeout); err != nil {
		res.Error = err.Error()
		return res
	}
	select {
	case <-time.After(burstSettle):
	case <-ctx.Done():
		res.Error = context.Cause(ctx).Error()
		return res
	}
	before, err := h.usage(ctx, bin, proj)
	if err != nil {
		res.Error = err.Error()
		return res
	}

	lats, statuses, errs, wall := burst(ctx, "http://"+addr+"/work", h.opts.BurstRequests)
	res.WallMS = round(float64(wall)/float64(time.Millisecond), 2)
	res.Errors = errs
	res.Statuses = map[string]int64{}
	for code, n := range statuses {
		res.Statuses[strconv.Itoa(code)] = n
		switch {
		case code == http.StatusOK:
			res.OK += n
		case code == http.StatusTooManyRequests:
			res.Throttled += n
		default:
			res.OtherStatus += n
		}
	}
	s := summarize(lats)
	res.P50us, res.P99us, res.MaxUS = micros(s.p50), micros(s.p99), micros(s.maxd)

	// Usage is metered asynchronously: wait until every answered request
	// is recorded.
	want := before.Invocations + res.OK + res.Throttled + res.OtherStatus
	var after usageLine
	deadline := time.Now().Add(15 * time.Second)
	for {
		if after, err = h.usage(ctx, bin, proj); err != nil {
			res.Error = err.Error()
			return res
		}
		if after.Invocations >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.Invocations = after.Invocations - before.Invocations
	res.ColdStarts = after.ColdStarts - before.ColdStarts
	res.Throttles = after.Throttles - before.Throttles
	if errs > 0 || res.OtherStatus > 0 {
		res.Error = fmt.Sprintf("%d connection errors and %d answers other than 200 or 429 (%v)", errs, res.OtherStatus, res.Statuses)
	}
	return res
}

// burst releases n GET requests to url at the same moment, each on its own
// connection, and returns their latencies (answered requests only), the
// count by status, the count of failed requests and the wall time.
func burst(ctx context.Context, url string, n int) ([]time.Duration, map[int]int64, int64, time.Duration) {
	client := &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	lats := make([]time.Duration, 0, n)
	statuses := map[int]int64{}
	var errs int64
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				mu.Lock()
				errs++
				mu.Unlock()
				return
			}
			<-gate
			t0 := time.Now()
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			lats = append(lats, d)
			statuses[resp.StatusCode]++
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	return lats, statuses, errs, time.Since(start)
}

// usageLine is the part of `strata usage --json` the burst reads.
type usageLine struct {
	Invocations int64 `json:"invocations"`
	Throttles   int64 `json:"throttles"`
	ColdStarts  int64 `json:"cold_starts"`
}

// usage runs `strata usage FUNCTION --json` in the project, which reaches
// its dev server, and returns the function's totals.
func (h *harness) usage(ctx context.Context, bin, proj string) (usageLine, error) {
	cmd := exec.CommandContext(ctx, bin, "usage", burstFunction, "--json")
	cmd.Dir = proj
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return usageLine{}, fmt.Errorf("strata usage: %w\n%s", err, stderr.String())
	}
	var rep struct {
		Total usageLine `json:"total"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return usageLine{}, fmt.Errorf("strata usage --json: %w\n%s", err, out)
	}
	return rep.Total, nil
}

// waitLog waits until the process's output contains mark, and fails when
// it contains failMark, exits, or timeout passes.
func (s *server) waitLog(ctx context.Context, mark, failMark string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(s.log.Name())
		if bytes.Contains(b, []byte(mark)) {
			return nil
		}
		if failMark != "" && bytes.Contains(b, []byte(failMark)) {
			return fmt.Errorf("%s reported %q:\n%s", s.name, failMark, s.logTail())
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", s.name, s.err, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s did not print %q within %v:\n%s", s.name, strings.TrimSpace(mark), timeout, s.logTail())
		case <-tick.C:
		}
	}
}
