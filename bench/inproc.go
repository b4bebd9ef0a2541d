package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// The in-process scenarios call internal/wasm directly, without the
// gateway, the pool or HTTP, to isolate what the Wasm engine itself costs.

// helloRequest is the request every in-process call makes: what the gateway
// would hand the hello function for GET /hello/world.
func helloRequest() *wire.Request {
	return greetRequest(helloPath)
}

// greetRequest is GET path with the route parameter name=world.
func greetRequest(path string) *wire.Request {
	return &wire.Request{
		Method:     "GET",
		Path:       path,
		Host:       "127.0.0.1",
		RemoteAddr: "127.0.0.1:1",
		Headers:    []wire.Header{{Name: "User-Agent", Values: []string{"strata-bench"}}},
		Params:     []wire.Param{{Name: "name", Value: "world"}},
		DeadlineMS: time.Now().Add(time.Hour).UnixMilli(),
	}
}

// discard is the output of guests whose logs the benchmark does not read.
var discard = wasm.Env{Stdout: io.Discard, Stderr: io.Discard}

// newRuntime opens a runtime whose compilation cache lives in the work
// directory, shared by all in-process scenarios of one run.
func (h *harness) newRuntime(ctx context.Context) (*wasm.Runtime, error) {
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(h.work, "wasm-cache")})
	if err != nil {
		return nil, fmt.Errorf("open runtime: %w", err)
	}
	return rt, nil
}

// compileHello builds (on first use) and compiles the hello reactor.
func (h *harness) compileHello(ctx context.Context, rt *wasm.Runtime) (*wasm.Module, error) {
	bin, err := h.helloGuest(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	mod, err := rt.Compile(ctx, bin, wasm.ModuleSpec{
		Name: "hello", Kind: "reactor", MemoryMB: 128,
		Env: map[string]string{"GREETING": "hello"}, // as examples/hello/strata.yaml sets it
	})
	if err != nil {
		return nil, fmt.Errorf("compile the hello guest: %w", err)
	}
	h.log.Info("compiled hello guest", "bytes", len(bin), "took", time.Since(start).Round(time.Millisecond))
	return mod, nil
}

// checkHelloResponse insists on the hello answer, so that a fast wrong
// answer is never reported as a measurement.
func checkHelloResponse(resp *wire.Response) error {
	if resp == nil {
		return errors.New("no response")
	}
	if resp.Status != 200 || strings.TrimSpace(string(resp.Body)) != helloBody {
		return fmt.Errorf("got %d %q, want 200 %q", resp.Status, resp.Body, helloBody)
	}
	return nil
}

// runCold measures cold starts of a compiled module: for the Go reactor,
// Instantiate (instantiate + _initialize) plus the first Handle; for the C
// command guest, RunCommand, which makes a fresh instance every call.
func (h *harness) runCold(ctx context.Context, rep *report) {
	rt, err := h.newRuntime(ctx)
	if err != nil {
		rep.addLatency(latencyResult{Scenario: scenarioCold, Name: "go reactor", Error: err.Error()})
		rep.addLatency(latencyResult{Scenario: scenarioCold, Name: "c command", Error: err.Error()})
		return
	}
	defer rt.Close(ctx)
	rep.addLatency(h.coldGo(ctx, rt))
	rep.addLatency(h.coldC(ctx, rt))
}

func (h *harness) coldGo(ctx context.Context, rt *wasm.Runtime) latencyResult {
	res := latencyResult{
		Scenario: scenarioCold, Name: "go reactor",
		Note:        "Instantiate (instantiate + _initialize) + first Handle of the compiled hello guest",
		TargetP50us: micros(targetColdGoP50), TargetP99us: micros(targetColdGoP99),
	}
	mod, err := h.compileHello(ctx, rt)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer mod.Close(ctx)
	once := func() (time.Duration, error) {
		start := time.Now()
		inst, err := mod.Instantiate(ctx)
		if err != nil {
			return 0, fmt.Errorf("instantiate: %w", err)
		}
		resp, err := inst.Handle(ctx, helloRequest(), discard)
		took := time.Since(start)
		inst.Close(ctx)
		if err != nil {
			return 0, fmt.Errorf("first handle: %w", err)
		}
		return took, checkHelloResponse(resp)
	}
	h.log.Info("cold start: go reactor", "samples", h.opts.ColdSamples)
	// One unmeasured start pays one-off costs (loading compiled code from
	// the cache, the first run of host-side code paths).
	if _, err := once(); err != nil {
		res.Error = err.Error()
		return res
	}
	return fillSamples(res, h.opts.ColdSamples, once)
}

func (h *harness) coldC(ctx context.Context, rt *wasm.Runtime) latencyResult {
	res := latencyResult{
		Scenario: scenarioCold, Name: "c command",
		Note:        "RunCommand (fresh instance, _start, response from stdout) of examples/command-guest",
		TargetP50us: micros(targetColdCP50), TargetP99us: micros(targetColdCP99),
	}
	bin, err := h.commandGuest()
	if err != nil {
		if os.IsNotExist(err) && h.opts.CommandWasm == "" {
			res.Skipped = "examples/command-guest/guest.wasm not built"
		} else {
			res.Error = err.Error()
		}
		return res
	}
	mod, err := rt.Compile(ctx, bin, wasm.ModuleSpec{Name: "command-guest", Kind: "command"})
	if err != nil {
		res.Error = fmt.Sprintf("compile the C command guest: %v", err)
		return res
	}
	defer mod.Close(ctx)
	once := func() (time.Duration, error) {
		start := time.Now()
		// The C guest's route is GET /greet/{name} (examples/command-guest).
		resp, err := mod.RunCommand(ctx, greetRequest("/greet/world"), discard)
		took := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("run command: %w", err)
		}
		if err := checkHelloResponse(resp); err != nil {
			return 0, fmt.Errorf("run command: %w", err)
		}
		return took, nil
	}
	h.log.Info("cold start: c command", "samples", h.opts.CommandSamples)
	if _, err := once(); err != nil {
		res.Error = err.Error()
		return res
	}
	return fillSamples(res, h.opts.CommandSamples, once)
}

// runHandle measures one call on a warm instance: the engine's share of a
// warm invocation, with no HTTP, pool or gateway around it.
func (h *harness) runHandle(ctx context.Context, rep *report) {
	res := latencyResult{
		Scenario: scenarioHandle, Name: "warm Instance.Handle",
		Note:        "hello request through the strata_v1 ABI on a warm instance",
		TargetP50us: micros(targetHandleP50),
	}
	rt, err := h.newRuntime(ctx)
	if err != nil {
		res.Error = err.Error()
		rep.addLatency(res)
		return
	}
	defer rt.Close(ctx)
	mod, err := h.compileHello(ctx, rt)
	if err != nil {
		res.Error = err.Error()
		rep.addLatency(res)
		return
	}
	defer mod.Close(ctx)
	inst, err := mod.Instantiate(ctx)
	if err != nil {
		res.Error = fmt.Sprintf("instantiate: %v", err)
		rep.addLatency(res)
		return
	}
	defer inst.Close(ctx)
	req := helloRequest()
	once := func() (time.Duration, error) {
		start := time.Now()
		resp, err := inst.Handle(ctx, req, discard)
		took := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("handle: %w", err)
		}
		return took, checkHelloResponse(resp)
	}
	// Warm the instance (guest buffers, Go scheduler and GC in the guest)
	// before measuring.
	for range min(1000, h.opts.HandleSamples) {
		if _, err := once(); err != nil {
			res.Error = err.Error()
			rep.addLatency(res)
			return
		}
	}
	h.log.Info("warm handle", "samples", h.opts.HandleSamples)
	rep.addLatency(fillSamples(res, h.opts.HandleSamples, once))
}

// fillSamples calls once n times and records the distribution, stopping at
// the first error.
func fillSamples(res latencyResult, n int, once func() (time.Duration, error)) latencyResult {
	samples := make([]time.Duration, 0, n)
	for i := range n {
		d, err := once()
		if err != nil {
			res.Error = fmt.Sprintf("sample %d: %v", i, err)
			return res
		}
		samples = append(samples, d)
	}
	s := summarize(samples)
	res.Samples = s.n
	res.P50us, res.P99us, res.MeanUS, res.MaxUS = micros(s.p50), micros(s.p99), micros(s.mean), micros(s.maxd)
	return res
}

// runMemory holds opts.Instances warm instances of the hello guest (each has
// served one request) and reports what each costs, as the growth divided
// by the number of instances: of the Go heap (wazero's per-instance state;
// a snapshotted module's linear memory is mapped outside it, see
// internal/wasm's linearmem_linux.go), of the resident set (VmRSS, which
// counts a page of the shared snapshot image once per instance that maps
// it) and of the proportional set (Pss, which counts each page once however
// many instances share it: what the instances take from the machine). The
// totals are the process's own with every instance held.
func (h *harness) runMemory(ctx context.Context, rep *report) {
	res := memoryResult{Instances: h.opts.Instances, TargetRSSMB: targetMemRSSMB, TargetHeapMB: targetMemHeapMB,
		TargetTotalMB: targetMemTotalMB, TargetTotalInstances: targetMemInstances}
	fail := func(err error) {
		res.Error = err.Error()
		rep.setMemory(res)
	}
	rt, err := h.newRuntime(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer rt.Close(ctx)
	mod, err := h.compileHello(ctx, rt)
	if err != nil {
		fail(err)
		return
	}
	defer mod.Close(ctx)
	// One instance first so that lazily created runtime state (compiled
	// code loaded from the cache, pools) is not charged to the instances.
	warm, err := mod.Instantiate(ctx)
	if err != nil {
		fail(fmt.Errorf("instantiate: %w", err))
		return
	}
	warm.Close(ctx)

	m0 := memNow()
	insts := make([]*wasm.Instance, 0, h.opts.Instances)
	defer func() {
		for _, inst := range insts {
			inst.Close(ctx)
		}
	}()
	for i := range h.opts.Instances {
		inst, err := mod.Instantiate(ctx)
		if err != nil {
			fail(fmt.Errorf("instantiate %d: %w", i, err))
			return
		}
		insts = append(insts, inst)
		resp, err := inst.Handle(ctx, helloRequest(), discard)
		if err == nil {
			err = checkHelloResponse(resp)
		}
		if err != nil {
			fail(fmt.Errorf("handle on instance %d: %w", i, err))
			return
		}
	}
	m1 := memNow()
	runtime.KeepAlive(insts)

	n := float64(len(insts))
	const mb = 1 << 20
	per := func(a, b uint64) float64 { return round(float64(int64(b)-int64(a))/n/mb, 3) }
	res.HeapMBPerInstance = per(m0.heap, m1.heap)
	res.RSSMBPerInstance = per(m0.rss, m1.rss)
	res.PSSMBPerInstance = per(m0.pss, m1.pss)
	res.TotalRSSMB = round(float64(m1.rss)/mb, 1)
	res.TotalPSSMB = round(float64(m1.pss)/mb, 1)
	met := res.RSSMBPerInstance <= targetMemRSSMB && res.HeapMBPerInstance <= targetMemHeapMB &&
		(res.Instances < targetMemInstances || res.TotalPSSMB <= targetMemTotalMB)
	res.Met = &met
	res.Note = "growth per held instance; RSS counts a shared snapshot page once per instance mapping it, PSS once"
	h.log.Info("memory per instance", "heap_mb", res.HeapMBPerInstance, "rss_mb", res.RSSMBPerInstance,
		"pss_mb", res.PSSMBPerInstance, "total_rss_mb", res.TotalRSSMB, "total_pss_mb", res.TotalPSSMB)
	// Closing every instance returns its memory (checked, not measured:
	// the pages go back to the kernel at munmap).
	for _, inst := range insts {
		inst.Close(ctx)
	}
	insts = nil
	m2 := memNow()
	res.AfterCloseRSSMB = round(float64(m2.rss)/mb, 1)
	rep.setMemory(res)
}

// memSample is the process's memory at one moment.
type memSample struct{ heap, rss, pss uint64 }

// memNow returns the live Go heap after a full collection and the resident
// and proportional set sizes of the process.
func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, rss: procKB("/proc/self/status", "VmRSS:"), pss: procKB("/proc/self/smaps_rollup", "Pss:")}
}

// procKB reads a "Name: N kB" line of a /proc file, in bytes; 0 where
// there is none.
func procKB(file, name string) uint64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
