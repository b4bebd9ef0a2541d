package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// helloPath and helloBody are what every HTTP target serves, so they are
// compared doing the same work.
const (
	helloPath = "/hello/world"
	helloBody = "hello, world!"
)

// runWarm measures warm HTTP throughput and latency of each target in turn.
// Targets never run at the same time: each is started, checked, warmed up,
// measured and stopped before the next starts.
func (h *harness) runWarm(ctx context.Context, rep *report) {
	ld, err := h.pickLoader()
	if err != nil {
		for _, t := range h.opts.Targets {
			rep.addHTTP(httpResult{Target: t, Error: err.Error()})
		}
		return
	}
	for _, t := range h.opts.Targets {
		if ctx.Err() != nil {
			return
		}
		res := h.measureTarget(ctx, ld, t)
		switch {
		case res.Error != "":
			h.log.Error("warm http", "target", t, "err", res.Error)
		case res.Skipped != "":
			h.log.Warn("warm http skipped", "target", t, "reason", res.Skipped)
		default:
			h.log.Info("warm http", "target", t, "req_per_s", int(res.RPS), "p50_us", int(res.P50us), "p99_us", int(res.P99us))
		}
		rep.addHTTP(res)
	}
}

func (h *harness) pickLoader() (loader, error) {
	switch h.opts.Loader {
	case "go":
		return goLoader{}, nil
	case "wrk":
		p, err := exec.LookPath("wrk")
		if err != nil {
			return nil, fmt.Errorf("-loader wrk: %w", err)
		}
		return wrkLoader{path: p}, nil
	default:
		if p, err := exec.LookPath("wrk"); err == nil {
			return wrkLoader{path: p}, nil
		}
		h.log.Info("wrk not on PATH; using the built-in load generator")
		return goLoader{}, nil
	}
}

func (h *harness) measureTarget(ctx context.Context, ld loader, target string) httpResult {
	res := httpResult{Target: target, Loader: ld.name(), Connections: h.opts.Connections}
	srv, base, skip, err := h.startTarget(ctx, target)
	defer srv.stop()
	if skip != "" {
		res.Skipped = skip
		return res
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	url := base + helloPath
	if err := checkHello(ctx, url, helloBody); err != nil {
		res.Error = err.Error()
		return res
	}
	if h.opts.Warmup > 0 {
		h.log.Info("warm-up", "target", target, "duration", h.opts.Warmup)
		if _, err := ld.run(ctx, loadSpec{URL: url, Connections: h.opts.Connections, Duration: h.opts.Warmup}); err != nil {
			res.Error = fmt.Sprintf("warm-up: %v", err)
			return res
		}
	}
	h.log.Info("measure", "target", target, "loader", ld.name(), "connections", h.opts.Connections, "duration", h.opts.Duration)
	lr, err := ld.run(ctx, loadSpec{URL: url, Connections: h.opts.Connections, Duration: h.opts.Duration})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	// The answer must still be right after the load, e.g. no crashed guest.
	if err := checkHello(ctx, url, helloBody); err != nil {
		res.Error = fmt.Sprintf("after load: %v", err)
		return res
	}
	res.fill(lr)
	if lr.Requests == 0 {
		res.Error = "no request completed"
	}
	return res
}

// startTarget starts one HTTP target and waits until it is ready. It returns
// a reason instead of an error when the target is not installed. The free
// port it picks may be taken by another process before the target binds
// it (tests run in parallel): then it tries again on another port.
func (h *harness) startTarget(ctx context.Context, target string) (srv *server, base, skip string, err error) {
	for try := 0; ; try++ {
		srv, base, skip, err = h.startTargetOnce(ctx, target)
		if err == nil || try == 2 || !strings.Contains(err.Error(), "address already in use") {
			return srv, base, skip, err
		}
		srv.stop()
		h.log.Info("port taken before the target bound it; trying another", "target", target)
	}
}

func (h *harness) startTargetOnce(ctx context.Context, target string) (srv *server, base, skip string, err error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", err
	}
	base = "http://" + addr
	logPath := filepath.Join(h.work, target+".log")
	ready := base + helloPath
	switch target {
	case targetStrata, targetStrataNoTrace, targetStrataTrace1:
		bin, err := h.strata(ctx)
		if err != nil {
			return nil, "", "", err
		}
		// A project (and so a store) per variant: the traced run's spans
		// must not weigh on the next.
		proj := filepath.Join(h.work, target+"-dev")
		if err := copyTree(filepath.Join(h.repo, "examples", "hello"), proj); err != nil {
			return nil, "", "", fmt.Errorf("copy examples/hello: %w", err)
		}
		args := []string{"dev", "--addr", addr}
		switch target {
		case targetStrataNoTrace:
			args = append(args, "--trace-sample", "0")
		case targetStrataTrace1:
			args = append(args, "--trace-sample", "1")
		}
		srv, err = startServer("strata dev", proj, logPath, append([]string{bin}, args...)...)
		ready = base + "/_strata/health"
		if err != nil {
			return nil, "", "", err
		}
	case targetStrataNode:
		bin, err := h.strata(ctx)
		if err != nil {
			return nil, "", "", err
		}
		proj := filepath.Join(h.work, target+"-dev")
		if err := copyTree(filepath.Join(h.repo, "bench", "peers", "node"), proj); err != nil {
			return nil, "", "", fmt.Errorf("copy bench/peers/node: %w", err)
		}
		if srv, err = startServer("strata dev", proj, logPath, bin, "dev", "--addr", addr); err != nil {
			return nil, "", "", err
		}
		ready = base + "/_strata/health"
	case targetNode:
		node, err := exec.LookPath("node")
		if err != nil {
			return nil, "", "node not on PATH", nil
		}
		dir := filepath.Join(h.repo, "bench", "peers", "node")
		if srv, err = startServer("node peer", dir, logPath, node, "server.js", addr); err != nil {
			return nil, "", "", err
		}
	case targetNetHTTP:
		bin := filepath.Join(h.work, "bin", "nethttp")
		if err := goBuild(ctx, h.log, h.repo, "./bench/peers/nethttp", bin); err != nil {
			return nil, "", "", err
		}
		if srv, err = startServer("nethttp peer", h.work, logPath, bin, "-addr", addr); err != nil {
			return nil, "", "", err
		}
	case targetWorkerd:
		dir := filepath.Join(h.repo, "bench", "peers", "workerd")
		bin := filepath.Join(dir, "node_modules", ".bin", "workerd")
		if _, err := os.Stat(bin); err != nil {
			return nil, "", "workerd not installed; run: bash bench/peers/workerd/install.sh", nil
		}
		if srv, err = startServer("workerd peer", dir, logPath, bin, "serve", "config.capnp", "--socket-addr", "http="+addr); err != nil {
			return nil, "", "", err
		}
	default:
		return nil, "", "", fmt.Errorf("unknown target %q", target)
	}
	h.log.Info("waiting for server", "target", target, "url", ready)
	start := time.Now()
	if err := srv.waitReady(ctx, ready, h.opts.StartTimeout, ""); err != nil {
		return srv, "", "", err
	}
	if target == targetStrata || target == targetStrataNoTrace || target == targetStrataTrace1 || target == targetStrataNode {
		// strata dev answers its health check while it is still building
		// and deploying the project, so wait for the route itself. Its
		// "deploy failed" line ends the wait early instead of at the timeout.
		hello := base + helloPath
		h.log.Info("waiting for the hello route", "url", hello)
		if err := srv.waitReady(ctx, hello, h.opts.StartTimeout, "deploy failed"); err != nil {
			return srv, "", "", err
		}
	}
	h.log.Info("server ready", "target", target, "after", time.Since(start).Round(time.Millisecond))
	return srv, base, "", nil
}
