package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The innerloop scenario measures what a developer waits for, with the
// real binary on copies of the examples (issue 11's targets):
//
//   - edit: a one-line change to examples/hello's greeting under a running
//     `strata dev`, from the file written to the new answer served;
//   - first dev: `strata dev` of examples/order-fulfilment (5 functions)
//     with a warm Go build cache and a cold module cache, from the
//     process start to the project serving;
//   - restart: `strata dev` of a project deployed before, from the
//     process start to the first 200.
//
// Each is sampled a bounded number of times (-innerloop-runs, and
// -innerloop-cold-runs for the slow first dev), over loopback only.

const scenarioInnerloop = "innerloop"

// Parts of the scenario (-innerloop-parts). A restart runs on the project
// the edits left; without them it deploys it first.
const (
	innerloopEdit     = "edit"
	innerloopFirstDev = "first-dev"
	innerloopRestart  = "restart"
)

var allInnerloopParts = []string{innerloopEdit, innerloopFirstDev, innerloopRestart}

// Targets of the scenario (p50).
const (
	innerloopEditTarget     = 2 * time.Second
	innerloopFirstDevTarget = 15 * time.Second
	innerloopRestartTarget  = 500 * time.Millisecond
)

func (h *harness) runInnerloop(ctx context.Context, rep *report) {
	names := []string{"edit hello → new answer", "first dev order-fulfilment", "dev restart → first 200"}
	bin, err := h.strata(ctx)
	if err != nil {
		for _, name := range names {
			rep.addLatency(latencyResult{Scenario: scenarioInnerloop, Name: name, Error: err.Error()})
		}
		return
	}
	// With -innerloop-baseline, each measurement runs with both binaries,
	// one after the other, so a busy machine weighs on both alike.
	type run struct{ label, bin string }
	runs := []run{{"", bin}}
	if h.opts.InnerloopBaseline != "" {
		runs = append(runs, run{" (baseline)", h.opts.InnerloopBaseline})
	}
	parts := map[string]func(string) latencyResult{
		innerloopEdit:     func(bin string) latencyResult { return h.innerloopEditAndRestart(ctx, bin, true) },
		innerloopFirstDev: func(bin string) latencyResult { return h.innerloopFirstDev(ctx, bin) },
		innerloopRestart:  func(bin string) latencyResult { return h.innerloopEditAndRestart(ctx, bin, false) },
	}
	for _, part := range h.opts.InnerloopParts {
		m := parts[part]
		var results []latencyResult
		for _, r := range runs {
			res := m(r.bin)
			res.Name += r.label
			if r.label != "" {
				res.TargetP50us = 0 // the baseline is not held to the target
			}
			results = append(results, res)
			rep.addLatency(res)
		}
		if len(results) == 2 && results[0].P50us > 0 && results[1].P50us > 0 {
			rep.InnerloopRatios = append(rep.InnerloopRatios, comparison{
				Name: "baseline p50 / new p50: " + results[0].Name, Value: round(results[1].P50us/results[0].P50us, 2)})
		}
	}
}

// innerloopEditAndRestart runs `strata dev` on a copy of examples/hello
// and measures edits (edit) or restarts (!edit).
func (h *harness) innerloopEditAndRestart(ctx context.Context, bin string, edit bool) latencyResult {
	res := latencyResult{Scenario: scenarioInnerloop, Name: "edit hello → new answer", TargetP50us: micros(innerloopEditTarget)}
	if !edit {
		res = latencyResult{Scenario: scenarioInnerloop, Name: "dev restart → first 200", TargetP50us: micros(innerloopRestartTarget)}
	}
	// One project and module cache per binary: the restarts find what
	// the edits of the same binary deployed.
	id := fmt.Sprintf("%x", sha256.Sum256([]byte(bin)))[:8]
	proj := filepath.Join(h.work, "innerloop-hello-"+id)
	cache := filepath.Join(h.work, "innerloop-cache-"+id)
	if _, err := os.Stat(proj); edit || err != nil {
		if err := copyTree(filepath.Join(h.repo, "examples", "hello"), proj); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	addr, err := freeAddr()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	url := "http://" + addr + helloPath
	start := func() (*server, error) {
		return startDev(bin, proj, cache, addr, filepath.Join(h.work, "innerloop-hello-"+id+".log"))
	}
	// The first start builds and compiles (and warms both caches).
	srv, err := start()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if err := waitBody(ctx, srv, url, "hello, world!", h.opts.StartTimeout); err != nil {
		srv.stop()
		res.Error = err.Error()
		return res
	}
	// strata dev starts watching files after its first deploy: an edit
	// made the instant the route answers could come before the watch.
	time.Sleep(time.Second)
	var samples []time.Duration
	src := filepath.Join(proj, "hello", "main.go")
	orig, err := os.ReadFile(src)
	if err != nil {
		srv.stop()
		res.Error = err.Error()
		return res
	}
	for i := range h.opts.InnerloopRuns {
		if ctx.Err() != nil {
			break
		}
		if edit {
			// A one-line change: the answer's format (the greeting
			// itself comes from strata.yaml).
			mark := fmt.Sprintf("(edit %d)", i+1)
			code := strings.Replace(string(orig), `"%s, %s!\n"`, `"%s, %s! `+mark+`\n"`, 1)
			if code == string(orig) {
				res.Error = "examples/hello/hello/main.go no longer has the line the edit changes"
				break
			}
			t0 := time.Now()
			if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
				res.Error = err.Error()
				break
			}
			if err := waitBody(ctx, srv, url, "world! "+mark, time.Minute); err != nil {
				res.Error = err.Error()
				break
			}
			samples = append(samples, time.Since(t0))
			continue
		}
		srv.stop()
		t0 := time.Now()
		if srv, err = start(); err != nil {
			res.Error = err.Error()
			break
		}
		if err := waitBody(ctx, srv, url, ", world!", time.Minute); err != nil {
			res.Error = err.Error()
			break
		}
		samples = append(samples, time.Since(t0))
	}
	srv.stop()
	fillFew(&res, samples)
	if edit {
		res.Note = "one-line edit of examples/hello under strata dev, file written → new body; warm Go build cache"
	} else {
		res.Note = "strata dev of an already deployed examples/hello, process start → first 200"
	}
	return res
}

// innerloopFirstDev measures a first `strata dev` of order-fulfilment on a
// fresh copy and an empty module cache, after one unmeasured run has
// warmed the Go build cache.
func (h *harness) innerloopFirstDev(ctx context.Context, bin string) latencyResult {
	res := latencyResult{Scenario: scenarioInnerloop, Name: "first dev order-fulfilment", TargetP50us: micros(innerloopFirstDevTarget)}
	var samples []time.Duration
	var cpu time.Duration // CPU time of the measured runs: strata and the go builds it waited for
	id := fmt.Sprintf("%x", sha256.Sum256([]byte(bin)))[:8]
	for i := range h.opts.InnerloopColdRuns + 1 {
		if ctx.Err() != nil {
			break
		}
		proj := filepath.Join(h.work, fmt.Sprintf("innerloop-orders-%s-%d", id, i))
		if err := copyTree(filepath.Join(h.repo, "examples", "order-fulfilment"), proj); err != nil {
			res.Error = err.Error()
			break
		}
		addr, err := freeAddr()
		if err != nil {
			res.Error = err.Error()
			break
		}
		t0 := time.Now()
		srv, err := startDev(bin, proj, filepath.Join(h.work, fmt.Sprintf("innerloop-cold-cache-%s-%d", id, i)), addr,
			filepath.Join(h.work, fmt.Sprintf("innerloop-orders-%s-%d.log", id, i)))
		if err != nil {
			res.Error = err.Error()
			break
		}
		// The deploy makes all five functions active at once, so the
		// first answer from one of them means the project serves.
		err = waitFunction(ctx, srv, "http://"+addr+"/stock/bench-sku", h.opts.StartTimeout)
		took := time.Since(t0)
		srv.stop()
		if err != nil {
			res.Error = err.Error()
			break
		}
		if i > 0 { // run 0 warms the Go build cache
			samples = append(samples, took)
			if st := srv.cmd.ProcessState; st != nil {
				cpu += st.UserTime() + st.SystemTime()
			}
		}
		h.log.Info("first dev of order-fulfilment", "run", i, "took", took.Round(time.Millisecond), "measured", i > 0)
	}
	fillFew(&res, samples)
	res.Note = "5 functions, fresh project copy and empty module cache, warm Go build cache; process start → serving"
	if len(samples) > 0 {
		res.Note += fmt.Sprintf("; CPU %.1fs per run", (cpu / time.Duration(len(samples))).Seconds())
	}
	return res
}

// startDev starts `strata dev` in proj with its module cache in cache.
func startDev(bin, proj, cache, addr, logPath string) (*server, error) {
	if err := os.Setenv("STRATA_CACHE_DIR", cache); err != nil {
		return nil, err
	}
	return startServer("strata dev", proj, logPath, bin, "dev", "--addr", addr)
}

// waitBody polls url until it answers 200 with a body containing want.
func waitBody(ctx context.Context, srv *server, url, want string, timeout time.Duration) error {
	return srv.poll(ctx, url, timeout, 10*time.Millisecond, "", func(resp *http.Response, body []byte) bool {
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), want)
	})
}

// waitFunction polls url until a function answers it (any status, as long
// as an invocation ran: the platform's own 404 and 503 carry no
// invocation id).
func waitFunction(ctx context.Context, srv *server, url string, timeout time.Duration) error {
	return srv.poll(ctx, url, timeout, 10*time.Millisecond, "", func(resp *http.Response, _ []byte) bool {
		return resp.Header.Get("X-Strata-Invocation-Id") != ""
	})
}

// fillFew sets the distribution of a handful of samples.
func fillFew(res *latencyResult, samples []time.Duration) {
	res.Samples = len(samples)
	if len(samples) == 0 {
		if res.Error == "" {
			res.Error = "no sample"
		}
		return
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	res.P50us = micros(samples[(len(samples)-1)/2])
	res.P99us = micros(samples[len(samples)-1])
	res.MeanUS = micros(sum / time.Duration(len(samples)))
	res.MaxUS = micros(samples[len(samples)-1])
}
