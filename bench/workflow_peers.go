package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The peers of the workflow scenario are two durable-execution engines
// running the same workflow, three no-op steps, with 32 started at once and
// then one at a time:
//
//   - DBOS Transact for Go (bench/peers/dbos), a library that checkpoints
//     each step in its system database, on SQLite or on the same
//     PostgreSQL as Strata;
//   - Temporal (bench/peers/temporal): its development server, `temporal
//     server start-dev` with its SQLite state on disk, built from the
//     Temporal CLI's Go module by bench/peers/temporal/install.sh, and a
//     Go SDK worker with default options.
//
// Each peer is a program in a Go module of its own, so neither dependency
// tree enters Strata's go.mod. The harness builds the program into its work
// directory, runs it, and reads the one JSON line it prints. Their steps
// are plain Go functions in the worker's process, while Strata's are
// function invocations; the ratios charge Strata for that.

// Values of workflowPeerResult.DB.
const (
	workflowDBSQLite   = "sqlite"
	workflowDBPostgres = "postgres"
)

// workflowPeerResult is one run of a workflow peer: what its program
// printed, plus a note on what was run.
type workflowPeerResult struct {
	Peer        string  `json:"peer"` // "dbos" or "temporal"
	DB          string  `json:"db"`   // workflowDBSQLite or workflowDBPostgres
	Version     string  `json:"version"`
	Concurrency int     `json:"concurrency"`
	Steps       int     `json:"steps"`
	Workflows   int     `json:"workflows"`
	Seconds     float64 `json:"seconds"`
	WfPerSec    float64 `json:"wf_per_sec"`
	Lone        int     `json:"lone"`
	LoneP50ms   float64 `json:"lone_p50_ms"`
	LoneP99ms   float64 `json:"lone_p99_ms"`
	Note        string  `json:"note,omitempty"`
}

// temporalCLIVersion must match the version bench/peers/temporal/install.sh
// pins; it is only reported.
const temporalCLIVersion = "v1.5.1"

// runDBOSPeer runs the DBOS peer: n workflows by concurrency workers, then
// lone workflows one after another. db is workflowDBSQLite (a fresh file
// in the work directory) or workflowDBPostgres, where dsn is a PostgreSQL
// URL of the server to use: the peer connects through it and runs in a
// database of its own, dbos_bench, dropped before and after the run.
func (h *harness) runDBOSPeer(ctx context.Context, db, dsn string, concurrency, n, lone int) (workflowPeerResult, error) {
	args := []string{"-db", db, "-concurrency", strconv.Itoa(concurrency), "-n", strconv.Itoa(n), "-lone", strconv.Itoa(lone)}
	note := "DBOS Transact for Go, in-process workflow, 3 dbos.RunAsStep no-op steps"
	switch db {
	case workflowDBSQLite:
		dir, err := os.MkdirTemp(h.work, "dbos-sqlite-")
		if err != nil {
			return workflowPeerResult{}, err
		}
		defer os.RemoveAll(dir)
		args = append(args, "-sqlite", filepath.Join(dir, "dbos.db"))
		note += "; SQLite file, DBOS's defaults (WAL, synchronous=NORMAL)"
	case workflowDBPostgres:
		if dsn == "" {
			return workflowPeerResult{}, errors.New("dbos peer on PostgreSQL: no database URL")
		}
		args = append(args, "-dsn", dsn)
		note += "; PostgreSQL database dbos_bench on the same server"
	default:
		return workflowPeerResult{}, fmt.Errorf("dbos peer: unknown database %q", db)
	}
	bin, err := h.workflowPeerBinary(ctx, "dbos")
	if err != nil {
		return workflowPeerResult{}, err
	}
	h.log.Info("running the DBOS peer", "db", db, "workflows", n, "concurrency", concurrency, "lone", lone)
	res, err := runWorkflowPeer(ctx, peerRunTimeout(n, lone, 100), bin, args...)
	if err != nil {
		return res, fmt.Errorf("dbos peer on %s: %w", db, err)
	}
	res.Note = note
	return res, nil
}

// runTemporalPeer runs the Temporal peer against a fresh development server
// with its SQLite state on disk: n workflows by concurrency workers, then
// lone workflows one after another. It installs the Temporal CLI with
// bench/peers/temporal/install.sh first when it is missing (a build of
// several minutes), and stops the server before returning.
func (h *harness) runTemporalPeer(ctx context.Context, concurrency, n, lone int) (workflowPeerResult, error) {
	temporal, err := h.temporalCLI(ctx)
	if err != nil {
		return workflowPeerResult{}, err
	}
	bin, err := h.workflowPeerBinary(ctx, "temporal")
	if err != nil {
		return workflowPeerResult{}, err
	}
	dir, err := os.MkdirTemp(h.work, "temporal-")
	if err != nil {
		return workflowPeerResult{}, err
	}
	defer os.RemoveAll(dir)
	var ports [3]string
	for i := range ports {
		addr, err := freeAddr()
		if err != nil {
			return workflowPeerResult{}, err
		}
		_, ports[i], _ = net.SplitHostPort(addr)
	}
	grpcPort, httpPort, metricsPort := ports[0], ports[1], ports[2]
	// Every listener on loopback; --headless: no web UI.
	srv, err := startServer("temporal dev server", dir, filepath.Join(dir, "server.log"),
		temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", grpcPort, "--http-port", httpPort, "--metrics-port", metricsPort,
		"--db-filename", filepath.Join(dir, "temporal.db"), "--log-level", "warn")
	if err != nil {
		return workflowPeerResult{}, err
	}
	defer srv.stop()
	// The HTTP API answers 200 for the default namespace once the frontend
	// serves and the namespace is registered.
	ready := "http://127.0.0.1:" + httpPort + "/api/v1/namespaces/default"
	if err := srv.waitReady(ctx, ready, 2*time.Minute, ""); err != nil {
		return workflowPeerResult{}, err
	}
	h.log.Info("running the Temporal peer", "server", "127.0.0.1:"+grpcPort, "workflows", n, "concurrency", concurrency, "lone", lone)
	timeout := peerRunTimeout(n, lone, 2)
	res, err := runWorkflowPeer(ctx, timeout, bin, "-timeout", timeout.String(),
		"-address", "127.0.0.1:"+grpcPort, "-db", workflowDBSQLite,
		"-concurrency", strconv.Itoa(concurrency), "-n", strconv.Itoa(n), "-lone", strconv.Itoa(lone))
	if err != nil {
		return res, fmt.Errorf("temporal peer: %w\nserver log:\n%s", err, srv.logTail())
	}
	res.Version = fmt.Sprintf("cli %s, %s", temporalCLIVersion, res.Version)
	res.Note = "temporal server start-dev (Temporal CLI " + temporalCLIVersion + "), SQLite on disk; Go SDK worker with default options, 3 no-op activities"
	return res, nil
}

// temporalCLI returns bench/peers/temporal/bin/temporal, running
// install.sh first when it is not there.
func (h *harness) temporalCLI(ctx context.Context) (string, error) {
	dir := filepath.Join(h.repo, "bench", "peers", "temporal")
	bin := filepath.Join(dir, "bin", "temporal")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	h.log.Info("installing the Temporal CLI (go install, several minutes)", "script", filepath.Join(dir, "install.sh"))
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(dir, "install.sh"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install the Temporal CLI (bench/peers/temporal/install.sh): %w\n%s", err, tail(out, 3000))
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("install the Temporal CLI: install.sh succeeded but %s is missing", bin)
	}
	return bin, nil
}

// workflowPeerBuilds remembers the peer programs built in this process, so
// a bench that runs a peer several times builds it once.
var workflowPeerBuilds = struct {
	sync.Mutex
	bins map[string]string
}{bins: map[string]string{}}

// workflowPeerBinary builds the program in bench/peers/<name>, a module of
// its own, into the work directory.
func (h *harness) workflowPeerBinary(ctx context.Context, name string) (string, error) {
	workflowPeerBuilds.Lock()
	defer workflowPeerBuilds.Unlock()
	out := filepath.Join(h.work, "bin", name+"-peer")
	if bin, ok := workflowPeerBuilds.bins[out]; ok {
		return bin, nil
	}
	dir := filepath.Join(h.repo, "bench", "peers", name)
	h.log.Info("go build", "peer", name, "dir", dir)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	// The peer's own go.mod decides its dependencies, never a workspace.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the %s peer (bench/peers/%s): %w\n%s", name, name, err, tail(b, 3000))
	}
	workflowPeerBuilds.bins[out] = out
	return out, nil
}

// runWorkflowPeer runs a peer program and decodes the JSON line it prints
// last on stdout; its stderr goes into the error when it fails.
func runWorkflowPeer(ctx context.Context, timeout time.Duration, bin string, args ...string) (workflowPeerResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The peer must not outlive the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (gave up after %v)", err, timeout)
		}
		return workflowPeerResult{}, fmt.Errorf("%s: %w\n%s", filepath.Base(bin), err, tail(stderr.Bytes(), 3000))
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var res workflowPeerResult
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("%s printed %q, want a JSON result line: %w\n%s", filepath.Base(bin), out, err, tail(stderr.Bytes(), 3000))
	}
	if res.Workflows < 1 || res.Seconds <= 0 {
		return res, fmt.Errorf("%s ran no workflow: %s", filepath.Base(bin), out)
	}
	return res, nil
}

// peerRunTimeout bounds a peer run: generous for a peer doing minRate
// workflows per second, so only a stuck peer hits it.
func peerRunTimeout(n, lone int, minRate float64) time.Duration {
	return 2*time.Minute + time.Duration(float64(n+lone)/minRate*float64(time.Second))
}

// tail returns the end of b, for error messages.
func tail(b []byte, keep int) string {
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return strings.TrimSpace(string(b))
}
