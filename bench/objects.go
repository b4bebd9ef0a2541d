package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// The objects scenario measures durable objects (issue 13) through
// `strata dev`, the way users reach them: object routes of the gateway.
//
//   - a counter object that reads and writes its count on every request
//     (one durable write per request), on one object and spread over
//     -objects-names objects, against the same counter as a Durable Object
//     of Cloudflare's workerd with SQLite-backed storage
//     (bench/peers/workerd/objects.capnp), same load, same run;
//   - a broadcast from one object to -objects-sockets WebSockets, and the
//     wake of an object evicted for idleness by a message on one of its
//     sockets (bench/objects_ws.go);
//   - the memory of the strata process holding -objects-touch objects,
//     each touched once (a put), and after they were evicted.
//
// The strata server and the peer never run at the same time.

const scenarioObjects = "objects"

// Targets of issue 13.
const (
	targetObjectsRPS          = 5000.0
	targetObjectsBroadcastP99 = 50 * time.Millisecond
	targetObjectsWakeP50      = 5 * time.Millisecond
	targetObjectsMemoryMB     = 1024.0
	targetObjectsMemoryCount  = 10000
)

// objectsFunction is the function defining the benchmark's classes.
const objectsFunction = "objects"

// Idle timeouts of the classes: the wake rounds want the shortest the
// manifest allows; the memory run wants its objects live until all are
// touched, then gone soon after.
const (
	objectsSleeperIdle = time.Second
	objectsCellIdle    = 20 * time.Second
	// The engine checks for idle objects at most once a second.
	objectsEvictSlack = 1500 * time.Millisecond
)

// objectsManifest is the benchmark project's strata.yaml.
const objectsManifest = `project: objbench
objects:
  Counter:
    function: objects
  Room:
    function: objects
    idle_timeout: 1h
  Sleeper:
    function: objects
    idle_timeout: 1s
  Cell:
    function: objects
    idle_timeout: 20s
functions:
  objects:
    source: ./objects
    routes:
      - GET /health
      - route: GET /counter/{name}
        object: Counter
      - route: GET /room/{name}
        object: Room
      - route: GET /sleeper/{name}
        object: Sleeper
      - route: GET /cell/{name}
        object: Cell
`

// objectsSource is the guest: Counter and Cell count requests in their
// storage (a get and a put each), Room and Sleeper accept WebSockets. It is
// written into a temporary project, as the other scenarios' guests are.
const objectsSource = `// Command objects is the guest of Strata's objects benchmark.
//
//	Counter, Cell: GET answers the count after adding one to it in storage
//	               (one get and one put: one durable write per request).
//	Room, Sleeper: GET with Upgrade: websocket accepts a socket tagged "all".
//	               Message "b:<x>" is broadcast to every socket of the object;
//	               "p:<x>" is answered on its socket with "<x> fresh=<0|1>",
//	               fresh=1 when the message is the first event of the object's
//	               Go value (it was evicted and came back for the message).
package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

func init() {
	newCounter := func(st *objects.State) objects.Object { return &counter{st: st} }
	newRoom := func(st *objects.State) objects.Object { return &room{st: st} }
	objects.Register("Counter", newCounter)
	objects.Register("Cell", newCounter)
	objects.Register("Room", newRoom)
	objects.Register("Sleeper", newRoom)
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

func main() {}

type counter struct{ st *objects.State }

func (c *counter) Fetch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, _, err := c.st.Storage.Get(ctx, "n")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	n, _ := strconv.Atoi(string(v))
	n++
	b := strconv.AppendInt(nil, int64(n), 10)
	if err := c.st.Storage.Put(ctx, "n", b); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

type room struct {
	st     *objects.State
	events int
}

func (rm *room) Fetch(w http.ResponseWriter, r *http.Request) {
	rm.events++
	if !objects.IsWebSocketUpgrade(r) {
		io.WriteString(w, "room")
		return
	}
	if _, err := rm.st.AcceptWebSocket(w, r, "all"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func (rm *room) WebSocketMessage(ctx context.Context, ws *objects.WebSocket, msg objects.Message) error {
	rm.events++
	s := string(msg.Data)
	switch {
	case strings.HasPrefix(s, "b:"):
		return rm.st.Broadcast(ctx, "all", msg)
	case strings.HasPrefix(s, "p:"):
		fresh := "0"
		if rm.events == 1 {
			fresh = "1"
		}
		return ws.Send(ctx, objects.TextMessage(s[2:]+" fresh="+fresh))
	}
	return nil
}
`

// objectsLoad is one counter load run.
type objectsLoad struct {
	System  string `json:"system"`
	Objects int    `json:"objects"`
	httpResult
}

// objectsResult is everything the objects scenario measured.
type objectsResult struct {
	Load []objectsLoad `json:"load,omitempty"`
	// Ratios: Strata's req/s over workerd's, per case.
	Ratios    []comparison          `json:"ratios,omitempty"`
	Broadcast *latencyResult        `json:"broadcast,omitempty"`
	Wake      *latencyResult        `json:"wake,omitempty"`
	Memory    *objectsMemoryResult  `json:"memory,omitempty"`
	Settings  objectsResultSettings `json:"settings"`
	// LoadAvg is /proc/loadavg when the scenario started: the figures of
	// a shared machine mean little without it.
	LoadAvg string `json:"loadavg,omitempty"`
}

type objectsResultSettings struct {
	Names         int `json:"names"`
	Sockets       int `json:"sockets"`
	Rounds        int `json:"broadcast_rounds"`
	WakeRounds    int `json:"wake_rounds"`
	Touch         int `json:"touch"`
	TargetRPS     int `json:"target_req_per_s"`
	TargetTouchMB int `json:"target_memory_mb"`
}

// objectsMemoryResult is the strata process's memory around touching
// many objects.
type objectsMemoryResult struct {
	Objects      int     `json:"objects"`
	TouchSeconds float64 `json:"touch_seconds"`
	BeforeRSSMB  float64 `json:"before_rss_mb"`
	LiveRSSMB    float64 `json:"live_rss_mb"`
	EvictedRSSMB float64 `json:"evicted_rss_mb"`
	PerObjectKB  float64 `json:"per_live_object_kb"`
	// The Go heap in use (go_memstats_heap_inuse_bytes) at the same points.
	BeforeHeapMB    float64 `json:"before_heap_inuse_mb"`
	HalfRSSMB       float64 `json:"half_rss_mb"`
	HalfHeapMB      float64 `json:"half_heap_inuse_mb"`
	LiveHeapMB      float64 `json:"live_heap_inuse_mb"`
	EvictedHeapMB   float64 `json:"evicted_heap_inuse_mb"`
	HeapPerObjectKB float64 `json:"heap_per_live_object_kb"`
	TargetTotalMB   float64 `json:"target_total_mb"`
	Met             *bool   `json:"met,omitempty"`
	Note            string  `json:"note,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// Systems of the counter runs.
const (
	objectsStrata  = "strata"
	objectsWorkerd = "workerd"
)

func (h *harness) runObjects(ctx context.Context, rep *report) {
	res := &objectsResult{Settings: objectsResultSettings{
		Names: h.opts.ObjectsNames, Sockets: h.opts.ObjectsSockets, Rounds: h.opts.ObjectsRounds,
		WakeRounds: h.opts.ObjectsWakeRounds, Touch: h.opts.ObjectsTouch,
		TargetRPS: int(targetObjectsRPS), TargetTouchMB: int(targetObjectsMemoryMB),
	}}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvg = strings.TrimSpace(string(b))
	}
	rep.Objects = res
	fail := func(what string, err error) {
		rep.Failures = append(rep.Failures, "objects "+what+": "+err.Error())
		h.log.Error("objects", "part", what, "err", err)
	}

	// Strata: counters, then the WebSockets, on one server.
	func() {
		srv, base, err := h.startObjects(ctx, "objects")
		defer srv.stop()
		if err != nil {
			for _, n := range []int{1, h.opts.ObjectsNames} {
				res.Load = append(res.Load, objectsLoad{System: objectsStrata, Objects: n, httpResult: httpResult{Target: objectsStrata, Error: err.Error()}})
			}
			fail("strata", err)
			return
		}
		for _, n := range []int{1, h.opts.ObjectsNames} {
			if ctx.Err() != nil {
				return
			}
			res.Load = append(res.Load, h.objectsCounterRun(ctx, objectsStrata, base, n))
		}
		if ctx.Err() != nil {
			return
		}
		b := h.objectsBroadcast(ctx, base)
		res.Broadcast = &b
		if b.Error != "" {
			fail("broadcast", fmt.Errorf("%s", b.Error))
		}
		w := h.objectsWake(ctx, base)
		res.Wake = &w
		if w.Error != "" {
			fail("wake", fmt.Errorf("%s", w.Error))
		}
	}()

	// workerd: the same counters.
	func() {
		srv, base, skip, err := h.startWorkerdObjects(ctx)
		defer srv.stop()
		if skip != "" || err != nil {
			for _, n := range []int{1, h.opts.ObjectsNames} {
				l := objectsLoad{System: objectsWorkerd, Objects: n, httpResult: httpResult{Target: objectsWorkerd, Skipped: skip}}
				if err != nil {
					l.Error = err.Error()
				}
				res.Load = append(res.Load, l)
			}
			if err != nil {
				// The peer's failure is reported with its rows, not as
				// Strata's: the harness may run without it.
				h.log.Error("objects workerd", "err", err)
			}
			return
		}
		for _, n := range []int{1, h.opts.ObjectsNames} {
			if ctx.Err() != nil {
				return
			}
			res.Load = append(res.Load, h.objectsCounterRun(ctx, objectsWorkerd, base, n))
		}
	}()

	// Memory, on a fresh server, so that nothing else is live.
	if ctx.Err() == nil {
		m := h.objectsMemory(ctx)
		res.Memory = &m
		if m.Error != "" {
			fail("memory", fmt.Errorf("%s", m.Error))
		}
	}

	for _, l := range res.Load {
		if l.System == objectsStrata && l.Error != "" {
			rep.Failures = append(rep.Failures, fmt.Sprintf("objects strata counter %d objects: %s", l.Objects, l.Error))
		}
	}
	res.finish()
}

// finish derives the strata/workerd ratios.
func (r *objectsResult) finish() {
	rps := map[string]float64{}
	for _, l := range r.Load {
		if l.Error == "" && l.Skipped == "" && l.RPS > 0 {
			rps[l.System+"/"+strconv.Itoa(l.Objects)] = l.RPS
		}
	}
	for _, n := range []int{1, r.Settings.Names} {
		s, ok1 := rps[objectsStrata+"/"+strconv.Itoa(n)]
		w, ok2 := rps[objectsWorkerd+"/"+strconv.Itoa(n)]
		if ok1 && ok2 {
			r.Ratios = append(r.Ratios, comparison{Name: fmt.Sprintf("counter strata/workerd %d objects", n), Value: round(s/w, 3)})
		}
	}
}

// writeProject writes the objects project into dir.
func writeObjectsProject(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, objectsFunction), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod":      "module benchobjects\n\ngo 1.24\n",
		"strata.yaml": objectsManifest,
		filepath.Join(objectsFunction, "main.go"): objectsSource,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startObjects starts `strata dev` on a fresh copy of the objects project
// and waits until its routes answer.
func (h *harness) startObjects(ctx context.Context, name string, extra ...string) (*server, string, error) {
	bin, err := h.strata(ctx)
	if err != nil {
		return nil, "", err
	}
	proj := filepath.Join(h.work, name+"-dev")
	if err := writeObjectsProject(proj); err != nil {
		return nil, "", fmt.Errorf("write the objects project: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	argv := append([]string{bin, "dev", "--addr", addr, "--no-watch"}, extra...)
	srv, err := startServer("strata dev ("+name+")", proj, filepath.Join(h.work, name+".log"), argv...)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	h.log.Info("waiting for strata dev", "project", "objects", "url", base+"/health")
	if err := srv.waitReady(ctx, base+"/health", h.opts.StartTimeout, "deploy failed"); err != nil {
		return srv, "", err
	}
	return srv, base, nil
}

// startWorkerdObjects starts the Durable Object peer with its objects
// stored in a fresh directory of the work directory.
func (h *harness) startWorkerdObjects(ctx context.Context) (*server, string, string, error) {
	dir := filepath.Join(h.repo, "bench", "peers", "workerd")
	bin := filepath.Join(dir, "node_modules", ".bin", "workerd")
	if _, err := os.Stat(bin); err != nil {
		return nil, "", "workerd not installed; run: bash bench/peers/workerd/install.sh", nil
	}
	store := filepath.Join(h.work, "workerd-do")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return nil, "", "", err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", err
	}
	srv, err := startServer("workerd (objects)", dir, filepath.Join(h.work, "workerd-objects.log"),
		bin, "serve", "objects.capnp", "--socket-addr", "http="+addr, "--directory-path", "do-storage="+store)
	if err != nil {
		return nil, "", "", err
	}
	base := "http://" + addr
	if err := srv.waitReady(ctx, base+"/health", h.opts.StartTimeout, ""); err != nil {
		return srv, "", "", err
	}
	return srv, base, "", nil
}

// objectsCounterRun drives the counter route of one system over n objects
// (n == 1: one object) with the go loader, which can spread requests over
// paths. Each case uses its own names, so both systems start from fresh
// objects.
func (h *harness) objectsCounterRun(ctx context.Context, system, base string, n int) objectsLoad {
	res := objectsLoad{System: system, Objects: n, httpResult: httpResult{Target: system, Loader: "go", Connections: h.opts.Connections}}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/counter/c%d-%d", n, i)
	}
	// The first request of a fresh object must count 1.
	if err := checkHello(ctx, base+paths[0], "1"); err != nil {
		res.Error = err.Error()
		return res
	}
	// The same loader for Strata and workerd: wrk when it is on PATH (it
	// takes less of the shared CPU than the Go loader), else the Go one.
	ld, err := h.pickLoader()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Loader = ld.name()
	spec := loadSpec{URL: base + paths[0], Paths: paths, Connections: h.opts.Connections}
	if h.opts.Warmup > 0 {
		spec.Duration = h.opts.Warmup
		if _, err := ld.run(ctx, spec); err != nil {
			res.Error = fmt.Sprintf("warm-up: %v", err)
			return res
		}
	}
	spec.Duration = h.opts.Duration
	h.log.Info("measure", "scenario", scenarioObjects, "system", system, "objects", n, "connections", h.opts.Connections, "duration", h.opts.Duration)
	lr, err := ld.run(ctx, spec)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.fill(lr)
	switch {
	case lr.Requests == 0:
		res.Error = "no request completed"
	case lr.Non2xx > 0 || lr.Errors > 0:
		res.Error = fmt.Sprintf("%d answers not 2xx and %d errors (statuses %v)", lr.Non2xx, lr.Errors, lr.Statuses)
	}
	if res.Error == "" && n == 1 {
		// Every counted request incremented the object: the count is at
		// least the number measured (plus the warm-up's and the check's).
		if err := checkAtLeast(ctx, base+paths[0], lr.Requests+2); err != nil {
			res.Error = err.Error()
		}
	}
	h.log.Info("objects counter", "system", system, "objects", n, "req_per_s", int(res.RPS), "p50_us", int(res.P50us), "p99_us", int(res.P99us))
	return res
}

// checkAtLeast GETs a counter and insists its count is at least want.
func checkAtLeast(ctx context.Context, url string, want int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("check GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("check GET %s: %w", url, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if resp.StatusCode != http.StatusOK || err != nil {
		return fmt.Errorf("check GET %s: got %s %q, want a count", url, resp.Status, b)
	}
	if n < want {
		return fmt.Errorf("check GET %s: count %d after %d counted requests: writes were lost", url, n, want)
	}
	return nil
}

// objectsMemory touches -objects-touch Cell objects once each (a put) on a
// fresh server and reads the process's resident set before, with all of
// them live, and after the engine evicted them.
func (h *harness) objectsMemory(ctx context.Context) objectsMemoryResult {
	res := objectsMemoryResult{Objects: h.opts.ObjectsTouch, TargetTotalMB: targetObjectsMemoryMB}
	metricsAddr, err := freeAddr()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	srv, base, err := h.startObjects(ctx, "objects-memory", "--metrics-addr", metricsAddr)
	defer srv.stop()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	pid := srv.cmd.Process.Pid
	rss := func() float64 { return float64(procKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")) / (1 << 20) }
	// The Go heap in use, from the server's own metrics: unlike RSS it
	// does not count memory freed but not yet returned to the system
	// (it does count garbage not yet collected). Guests' linear memory
	// is outside it.
	heap := func() float64 {
		return scrapeGauge(ctx, "http://"+metricsAddr+"/metrics", "go_memstats_heap_inuse_bytes") / (1 << 20)
	}
	// One object first, so the instances hosting objects exist and the
	// figure before is not the cost of the first object.
	if err := checkHello(ctx, base+"/cell/warm", "1"); err != nil {
		res.Error = err.Error()
		return res
	}
	// The start-up (deploy, compile) leaves garbage the Go runtime returns
	// to the system over seconds; wait, bounded, until RSS holds still, so
	// the growth measured is the objects'.
	res.BeforeRSSMB = round(settledRSS(ctx, rss, 15*time.Second), 1)
	res.BeforeHeapMB = round(heap(), 1)
	// The per-object figures are the growth over the second half of the
	// objects: the first half's many collections have cleared the
	// start-up's garbage from the heap by then, which the figure before
	// still holds (a quiet process does not collect).
	half := h.opts.ObjectsTouch / 2
	start := time.Now()
	if err := touchObjects(ctx, base, "m", 0, half, h.opts.Connections); err != nil {
		res.Error = err.Error()
		return res
	}
	res.HalfRSSMB, res.HalfHeapMB = round(rss(), 1), round(heap(), 1)
	if err := touchObjects(ctx, base, "m", half, h.opts.ObjectsTouch, h.opts.Connections); err != nil {
		res.Error = err.Error()
		return res
	}
	took := time.Since(start)
	res.TouchSeconds = round(took.Seconds(), 2)
	res.LiveRSSMB, res.LiveHeapMB = round(rss(), 1), round(heap(), 1)
	if n := h.opts.ObjectsTouch - half; n > 0 {
		res.PerObjectKB = round((res.LiveRSSMB-res.HalfRSSMB)*1024/float64(n), 2)
		res.HeapPerObjectKB = round((res.LiveHeapMB-res.HalfHeapMB)*1024/float64(n), 2)
		if res.PerObjectKB <= 0 {
			res.Note += "RSS did not grow over the second half: those objects took less than the memory the runtime had freed but not returned; "
		}
	}
	if took >= objectsCellIdle {
		res.Note += fmt.Sprintf("touching took %v, longer than the class's idle_timeout %v: some objects were evicted before the live figure; ", took.Round(time.Millisecond), objectsCellIdle)
	}
	if h.opts.ObjectsTouch >= targetObjectsMemoryCount {
		met := res.LiveRSSMB <= targetObjectsMemoryMB
		res.Met = &met
	}
	// Evicted after the idle timeout and the engine's next check; a few new
	// objects then tell both instances' guests to drop their Go values.
	select {
	case <-time.After(objectsCellIdle + objectsEvictSlack):
	case <-ctx.Done():
		res.Error = ctx.Err().Error()
		return res
	}
	if err := touchObjects(ctx, base, "after", 0, 16, 4); err != nil {
		res.Error = err.Error()
		return res
	}
	res.EvictedRSSMB = round(rss(), 1)
	res.EvictedHeapMB = round(heap(), 1)
	res.Note = strings.TrimSuffix(res.Note, "; ")
	h.log.Info("objects memory", "objects", res.Objects, "before_mb", res.BeforeRSSMB, "live_mb", res.LiveRSSMB, "evicted_mb", res.EvictedRSSMB, "touch", took.Round(time.Millisecond))
	return res
}

// scrapeGauge reads one unlabelled metric from a Prometheus text page; 0
// when it cannot.
func scrapeGauge(ctx context.Context, url, name string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}

// settledRSS samples rss every 500 ms until two samples 2 s apart differ
// by under 2 MB, or max passes, and returns the last sample.
func settledRSS(ctx context.Context, rss func() float64, max time.Duration) float64 {
	deadline := time.Now().Add(max)
	var window []float64
	for {
		v := rss()
		window = append(window, v)
		if len(window) > 5 {
			window = window[1:]
		}
		if len(window) == 5 && math.Abs(window[4]-window[0]) < 2 {
			return v
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return v
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// touchObjects GETs /cell/<prefix><i> for from ≤ i < to once each, from
// conns clients, and insists every answer is 1 (a fresh object's first
// count).
func touchObjects(ctx context.Context, base, prefix string, from, to, conns int) error {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	next.Store(int64(from))
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(to) || ctx.Err() != nil {
					return
				}
				if err := checkWith(ctx, client, fmt.Sprintf("%s/cell/%s%d", base, prefix, i), "1"); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

func checkWith(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != want {
		return fmt.Errorf("GET %s: got %s %q, want 200 %q", url, resp.Status, b, want)
	}
	return nil
}

// writeObjectsTable prints the scenario's section of the table.
func writeObjectsTable(tw *tabwriter.Writer, r *objectsResult) {
	fmt.Fprintf(tw, "objects: counter, get+put per request (GET /counter/{name})\tobjects\treq/s\tp50\tp99\terrors\tnon-2xx\tnote\n")
	for _, l := range r.Load {
		name := "  " + l.System
		switch {
		case l.Skipped != "":
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t\t\tskipped: %s\n", name, l.Objects, l.Skipped)
		case l.Error != "":
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t\t\tERROR: %s\n", name, l.Objects, firstLine(l.Error))
		default:
			note := ""
			if l.System == objectsStrata {
				note = fmt.Sprintf("target ≥ %.0f: %s", targetObjectsRPS, metWord(l.RPS >= targetObjectsRPS))
			}
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%d\t%d\t%s\n", name, l.Objects, l.RPS, fmtMicros(l.P50us), fmtMicros(l.P99us), l.Errors, l.Non2xx, note)
		}
	}
	for _, c := range r.Ratios {
		fmt.Fprintf(tw, "  ratio %s\t\t%.2f\t\t\t\t\t\n", c.Name, c.Value)
	}
	for _, l := range []*latencyResult{r.Broadcast, r.Wake} {
		if l == nil {
			continue
		}
		switch {
		case l.Error != "":
			fmt.Fprintf(tw, "  %s\t\t\t\t\t\t\tERROR: %s\n", l.Name, firstLine(l.Error))
		default:
			tgt := ""
			if l.Met != nil {
				tgt = fmt.Sprintf("target p50 %s / p99 %s: %s", fmtMicros(l.TargetP50us), fmtMicros(l.TargetP99us), metWord(*l.Met))
			}
			fmt.Fprintf(tw, "  %s (%d samples)\t\t\t%s\t%s\t\t\t%s; max %s\n", l.Name, l.Samples, fmtMicros(l.P50us), fmtMicros(l.P99us), tgt, fmtMicros(l.MaxUS))
		}
	}
	if m := r.Memory; m != nil {
		if m.Error != "" {
			fmt.Fprintf(tw, "  memory\t\t\t\t\t\t\tERROR: %s\n", firstLine(m.Error))
		} else {
			tgt := fmt.Sprintf("target %d live in ≤ %.0f MB", targetObjectsMemoryCount, m.TargetTotalMB)
			if m.Met != nil {
				tgt += ": " + metWord(*m.Met)
			}
			fmt.Fprintf(tw, "  memory of strata: before\t\tRSS %.0f MB\theap %.1f MB\t\t\t\t\n", m.BeforeRSSMB, m.BeforeHeapMB)
			fmt.Fprintf(tw, "    with half of them live\t%d\tRSS %.0f MB\theap %.1f MB\t\t\t\t\n", m.Objects/2, m.HalfRSSMB, m.HalfHeapMB)
			fmt.Fprintf(tw, "    with the touched objects live\t%d\tRSS %.0f MB\theap %.1f MB\t%.2f KB RSS, %.2f KB heap per object\t\t\ttouched in %.2fs; %s %s\n",
				m.Objects, m.LiveRSSMB, m.LiveHeapMB, m.PerObjectKB, m.HeapPerObjectKB, m.TouchSeconds, tgt, m.Note)
			fmt.Fprintf(tw, "    after their eviction\t\tRSS %.0f MB\theap %.1f MB\t\t\t\t\n", m.EvictedRSSMB, m.EvictedHeapMB)
		}
	}
	if r.LoadAvg != "" {
		fmt.Fprintf(tw, "  load average when the scenario started: %s\t\t\t\t\t\t\t\n", r.LoadAvg)
	}
}
