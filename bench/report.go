package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from docs/DESIGN (performance targets), checked in every report.
const (
	targetRatioNetHTTP = 0.7 // strata req/s ≥ 0.7 × bare net/http
	targetRatioWorkerd = 2.0 // strata req/s ≥ 2 × workerd
	// A Node.js handler as a process function through the gateway: at
	// least half the bare Node.js http server's req/s (issue 17).
	targetRatioNode = 0.5
	targetColdGoP50 = 5 * time.Millisecond
	targetColdGoP99 = 15 * time.Millisecond
	targetColdCP50  = 100 * time.Microsecond
	targetColdCP99  = time.Millisecond
	targetHandleP50 = 20 * time.Microsecond
	// A warm hello instance: at most 1 MB resident and 1.5 MB of Go heap,
	// and 1,000 of them in 1.5 GB (issue 15).
	targetMemRSSMB     = 1.0
	targetMemHeapMB    = 1.5
	targetMemTotalMB   = 1536.0
	targetMemInstances = 1000
)

// report is everything one run measured; its JSON form is the harness's
// machine-readable output.
type report struct {
	Date     time.Time       `json:"date"`
	Host     hostInfo        `json:"host"`
	Settings settings        `json:"settings"`
	HTTP     []httpResult    `json:"http,omitempty"`
	Ratios   []ratio         `json:"ratios,omitempty"`
	Latency  []latencyResult `json:"latency,omitempty"`
	Memory   *memoryResult   `json:"memory,omitempty"`
	Queue    []queueResult   `json:"queue,omitempty"`
	// QueueRatios compare Strata's queue throughput with River's on the
	// same PostgreSQL, per mode; there is no target for them.
	QueueRatios []comparison  `json:"queue_ratios,omitempty"`
	Burst       []burstResult `json:"burst,omitempty"`
	// Bindings: the pooled database binding against connect-per-request.
	Bindings []bindingsResult `json:"bindings,omitempty"`
	// Workflow: three-step workflows, Strata and its peers; WorkflowSteps:
	// Strata's many-step workflow per store; WorkflowRatios compare Strata
	// with the peers measured in the same run.
	Workflow       []workflowResult      `json:"workflow,omitempty"`
	WorkflowSteps  []workflowStepsResult `json:"workflow_steps,omitempty"`
	WorkflowRatios []comparison          `json:"workflow_ratios,omitempty"`
	// InnerloopRatios compare the innerloop figures with a baseline
	// binary's, measured in the same run (-innerloop-baseline).
	InnerloopRatios []comparison `json:"innerloop_ratios,omitempty"`
	// Objects: durable objects against workerd (bench/objects.go).
	Objects *objectsResult `json:"objects,omitempty"`
	// Calibration: same-run yardsticks of the in-process figures that
	// make bench-check compares (bench/check.go).
	Calibration *calibration `json:"calibration,omitempty"`
	Failures    []string     `json:"failures,omitempty"`
}

// comparison is a ratio measured in one run with no target attached.
type comparison struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// settings are the options that shape the numbers, as the JSON shows them.
type settings struct {
	Duration       string   `json:"duration"`
	Warmup         string   `json:"warmup"`
	Connections    int      `json:"connections"`
	Loader         string   `json:"loader"`
	Scenarios      []string `json:"scenarios"`
	Targets        []string `json:"targets"`
	ColdSamples    int      `json:"cold_samples"`
	CommandSamples int      `json:"command_samples"`
	HandleSamples  int      `json:"handle_samples"`
	Instances      int      `json:"memory_instances"`
	QueueMessages  int      `json:"queue_messages"`
	QueueSenders   int      `json:"queue_senders"`
	AsyncSamples   int      `json:"async_samples"`
	BurstRequests  int      `json:"burst_requests"`
	BurstSleep     string   `json:"burst_sleep"`
	BurstRounds    int      `json:"burst_rounds"`
	Workflows      int      `json:"workflows"`
	WorkflowClient int      `json:"workflow_clients"`
	WorkflowLone   int      `json:"workflow_lone"`
	WorkflowSteps  int      `json:"workflow_steps"`
	WorkflowPeers  []string `json:"workflow_peers"`
	TemporalWfs    int      `json:"temporal_workflows"`
	TemporalLone   int      `json:"temporal_lone"`
}

type hostInfo struct {
	Hostname  string `json:"hostname"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
}

// httpResult is one HTTP target under load.
type httpResult struct {
	Target      string           `json:"target"`
	Loader      string           `json:"loader,omitempty"`
	Connections int              `json:"connections,omitempty"`
	Seconds     float64          `json:"seconds,omitempty"`
	Requests    int64            `json:"requests"`
	Errors      int64            `json:"errors"`
	Non2xx      int64            `json:"non_2xx"`
	Statuses    map[string]int64 `json:"statuses,omitempty"`
	RPS         float64          `json:"req_per_s"`
	P50us       float64          `json:"p50_us"`
	P99us       float64          `json:"p99_us"`
	MeanUS      float64          `json:"mean_us,omitempty"`
	Skipped     string           `json:"skipped,omitempty"`
	Error       string           `json:"error,omitempty"`
}

func (r *httpResult) fill(l loadResult) {
	r.Loader = l.Loader
	r.Seconds = l.Elapsed.Seconds()
	r.Requests, r.Errors, r.Non2xx = l.Requests, l.Errors, l.Non2xx
	r.RPS = round(l.rps(), 1)
	if len(l.Statuses) > 0 {
		r.Statuses = map[string]int64{}
		for code, n := range l.Statuses {
			r.Statuses[strconv.Itoa(code)] = n
		}
	}
	r.P50us, r.P99us, r.MeanUS = micros(l.P50), micros(l.P99), micros(l.Mean)
}

// Tracing overhead (issue 12): req/s with every trace sampled and stored
// ≥ 0.9 × tracing off; at the default sampling ≥ 0.97 ×.
const (
	targetRatioTrace1       = 0.9
	targetRatioTraceDefault = 0.97
)

// ratio compares Strata's throughput with a peer's, measured in the same run.
type ratio struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target float64 `json:"target_min"`
	Met    bool    `json:"met"`
}

// latencyResult is the distribution of one in-process operation.
type latencyResult struct {
	Scenario    string  `json:"scenario"`
	Name        string  `json:"name"`
	Samples     int     `json:"samples"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	MeanUS      float64 `json:"mean_us"`
	MaxUS       float64 `json:"max_us"`
	TargetP50us float64 `json:"target_p50_us,omitempty"`
	TargetP99us float64 `json:"target_p99_us,omitempty"`
	Met         *bool   `json:"met,omitempty"`
	Note        string  `json:"note,omitempty"`
	Skipped     string  `json:"skipped,omitempty"`
	Error       string  `json:"error,omitempty"`
}

// memoryResult is what a warm instance costs.
type memoryResult struct {
	Instances         int     `json:"instances"`
	HeapMBPerInstance float64 `json:"go_heap_mb_per_instance"`
	RSSMBPerInstance  float64 `json:"rss_mb_per_instance"`
	PSSMBPerInstance  float64 `json:"pss_mb_per_instance"`
	// TotalRSSMB and TotalPSSMB are the whole process's with every
	// instance held; AfterCloseRSSMB once they are all closed again.
	TotalRSSMB           float64 `json:"total_rss_mb"`
	TotalPSSMB           float64 `json:"total_pss_mb"`
	AfterCloseRSSMB      float64 `json:"after_close_rss_mb"`
	TargetRSSMB          float64 `json:"target_rss_mb_per_instance"`
	TargetHeapMB         float64 `json:"target_go_heap_mb_per_instance"`
	TargetTotalMB        float64 `json:"target_total_mb"`
	TargetTotalInstances int     `json:"target_total_instances"`
	Met                  *bool   `json:"met,omitempty"`
	Note                 string  `json:"note,omitempty"`
	Error                string  `json:"error,omitempty"`
}

func newReport(opts options) *report {
	host, _ := os.Hostname()
	return &report{
		Date: time.Now().UTC().Truncate(time.Second),
		Settings: settings{
			Duration: opts.Duration.String(), Warmup: opts.Warmup.String(),
			Connections: opts.Connections, Loader: opts.Loader,
			Scenarios: opts.Scenarios, Targets: opts.Targets,
			ColdSamples: opts.ColdSamples, CommandSamples: opts.CommandSamples,
			HandleSamples: opts.HandleSamples, Instances: opts.Instances,
			QueueMessages: opts.QueueMessages, QueueSenders: opts.QueueSenders,
			AsyncSamples: opts.AsyncSamples, BurstRequests: opts.BurstRequests, BurstSleep: opts.BurstSleep.String(),
			BurstRounds: opts.BurstRounds,
			Workflows:   opts.Workflows, WorkflowClient: opts.WorkflowClients, WorkflowLone: opts.WorkflowLone,
			WorkflowSteps: opts.WorkflowSteps, WorkflowPeers: opts.WorkflowPeers,
			TemporalWfs: opts.TemporalWorkflows, TemporalLone: opts.TemporalLone,
		},
		Host: hostInfo{
			Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH,
			CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		},
	}
}

func (r *report) addHTTP(res httpResult) {
	r.HTTP = append(r.HTTP, res)
	if res.Error != "" {
		r.Failures = append(r.Failures, "warm http "+res.Target+": "+res.Error)
	}
}

func (r *report) addLatency(res latencyResult) {
	if res.Error == "" && res.Skipped == "" && (res.TargetP50us > 0 || res.TargetP99us > 0) {
		met := (res.TargetP50us == 0 || res.P50us <= res.TargetP50us) &&
			(res.TargetP99us == 0 || res.P99us <= res.TargetP99us)
		res.Met = &met
	}
	r.Latency = append(r.Latency, res)
	if res.Error != "" {
		r.Failures = append(r.Failures, res.Scenario+" "+res.Name+": "+res.Error)
	}
}

func (r *report) setMemory(res memoryResult) {
	r.Memory = &res
	if res.Error != "" {
		r.Failures = append(r.Failures, "memory: "+res.Error)
	}
}

func (r *report) addQueue(res queueResult) {
	if res.Error == "" && res.Skipped == "" && res.TargetPerSec > 0 {
		met := res.PerSecond >= res.TargetPerSec
		res.Met = &met
	}
	r.Queue = append(r.Queue, res)
	if res.Error != "" {
		r.Failures = append(r.Failures, fmt.Sprintf("queue %s %s %s: %s", res.System, res.Store, res.Mode, res.Error))
	}
}

func (r *report) addBindings(res bindingsResult) {
	r.Bindings = append(r.Bindings, res)
	if res.Error != "" {
		r.Failures = append(r.Failures, fmt.Sprintf("bindings %s: %s", res.System, res.Error))
	}
}

func (r *report) addBurst(res burstResult) {
	r.Burst = append(r.Burst, res)
	if res.Error != "" {
		r.Failures = append(r.Failures, fmt.Sprintf("burst round %d provisioned %d: %s", res.Round, res.Provisioned, res.Error))
	}
}

// addWorkflow records a workflow row and checks Strata's against its
// targets. Only Strata's errors fail the run: a peer that could not run is
// reported with its error.
func (r *report) addWorkflow(res workflowResult) {
	if res.Error == "" && res.Skipped == "" {
		if res.TargetWfPerSec > 0 {
			met := res.WfPerSec >= res.TargetWfPerSec
			res.Met = &met
		}
		if res.TargetLoneP50 > 0 {
			met := res.LoneP50ms <= res.TargetLoneP50
			res.LoneMet = &met
		}
	}
	r.Workflow = append(r.Workflow, res)
	if res.Error != "" && res.System == systemStrata {
		r.Failures = append(r.Failures, fmt.Sprintf("workflow %s %s: %s", res.System, res.Store, res.Error))
	}
}

func (r *report) addWorkflowSteps(res workflowStepsResult) {
	r.WorkflowSteps = append(r.WorkflowSteps, res)
	if res.Error != "" {
		r.Failures = append(r.Failures, fmt.Sprintf("workflow %d steps %s: %s", res.Steps, res.Store, res.Error))
	}
}

// finish derives the ratios from the HTTP, queue and workflow results.
func (r *report) finish() {
	r.finishQueue()
	r.finishHTTP()
	r.finishWorkflow()
}

// finishWorkflow compares Strata with each peer on the same kind of
// database: throughput strata/peer (above 1: Strata does more) and lone
// p50 strata/peer (below 1: Strata is faster).
func (r *report) finishWorkflow() {
	ok := map[string]workflowResult{}
	for _, w := range r.Workflow {
		if w.Error == "" && w.Skipped == "" && w.WfPerSec > 0 {
			ok[w.System+"/"+w.Store] = w
		}
	}
	for _, peer := range allWorkflowPeers {
		for _, db := range []string{storeSQLite, storePostgres} {
			s, ok1 := ok[systemStrata+"/"+db]
			p, ok2 := ok[peer+"/"+db]
			if !ok1 || !ok2 {
				continue
			}
			r.WorkflowRatios = append(r.WorkflowRatios, comparison{Name: "wf/s strata/" + peer + " " + db, Value: round(s.WfPerSec/p.WfPerSec, 3)})
			if s.LoneP50ms > 0 && p.LoneP50ms > 0 {
				r.WorkflowRatios = append(r.WorkflowRatios, comparison{Name: "lone p50 strata/" + peer + " " + db, Value: round(s.LoneP50ms/p.LoneP50ms, 4)})
			}
		}
	}
}

// finishQueue compares Strata with River on PostgreSQL, mode by mode.
func (r *report) finishQueue() {
	rate := map[string]float64{}
	for _, q := range r.Queue {
		if q.Error == "" && q.Skipped == "" && q.PerSecond > 0 {
			rate[q.System+"/"+q.Store+"/"+q.Mode] = q.PerSecond
		}
	}
	for _, peer := range []string{systemRiverTuned, systemRiver} {
		for _, mode := range []string{modeDrain, modeSteady} {
			s, ok1 := rate[systemStrata+"/"+storePostgres+"/"+mode]
			v, ok2 := rate[peer+"/"+storePostgres+"/"+mode]
			if ok1 && ok2 {
				r.QueueRatios = append(r.QueueRatios, comparison{Name: "strata/" + peer + " postgres " + mode, Value: round(s/v, 3)})
			}
		}
	}
}

func (r *report) finishHTTP() {
	rps := map[string]float64{}
	for _, h := range r.HTTP {
		if h.Error == "" && h.Skipped == "" && h.RPS > 0 {
			rps[h.Target] = h.RPS
		}
	}
	if off, ok := rps[targetStrataNoTrace]; ok {
		for _, v := range []struct {
			target string
			min    float64
		}{{targetStrataTrace1, targetRatioTrace1}, {targetStrata, targetRatioTraceDefault}} {
			if on, ok := rps[v.target]; ok {
				q := on / off
				r.Ratios = append(r.Ratios, ratio{Name: v.target + "/" + targetStrataNoTrace, Value: round(q, 3), Target: v.min, Met: q >= v.min})
			}
		}
	}
	if sn, ok := rps[targetStrataNode]; ok {
		if n, ok := rps[targetNode]; ok {
			q := sn / n
			r.Ratios = append(r.Ratios, ratio{Name: targetStrataNode + "/" + targetNode, Value: round(q, 3), Target: targetRatioNode, Met: q >= targetRatioNode})
		}
	}
	s, ok := rps[targetStrata]
	if !ok {
		return
	}
	for _, p := range []struct {
		peer   string
		target float64
	}{{targetNetHTTP, targetRatioNetHTTP}, {targetWorkerd, targetRatioWorkerd}} {
		if v, ok := rps[p.peer]; ok {
			q := s / v
			r.Ratios = append(r.Ratios, ratio{Name: "strata/" + p.peer, Value: round(q, 3), Target: p.target, Met: q >= p.target})
		}
	}
}

func (r *report) failures() int { return len(r.Failures) }

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the human-readable summary.
func (r *report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "Strata benchmarks, %s, %d CPUs, %s\n\n", r.Date.Format(time.RFC3339), r.Host.CPUs, r.Host.GoVersion)
	if c := r.Calibration; c != nil {
		fmt.Fprintf(w, "calibration: SHA-256 of 64 KiB p50 %s, 4 KiB write+fdatasync p50 %s\n\n", fmtMicros(c.CPUus), fmtMicros(c.FsyncUS))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := func() {
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(r.HTTP) > 0 {
		fmt.Fprintf(tw, "warm HTTP (GET %s)\tloader\treq/s\tp50\tp99\terrors\tnon-2xx\tnote\n", helloPath)
		for _, h := range r.HTTP {
			switch {
			case h.Skipped != "":
				fmt.Fprintf(tw, "  %s\t\t-\t-\t-\t\t\tskipped: %s\n", h.Target, h.Skipped)
			case h.Error != "":
				fmt.Fprintf(tw, "  %s\t%s\t-\t-\t-\t\t\tERROR: %s\n", h.Target, h.Loader, firstLine(h.Error))
			default:
				fmt.Fprintf(tw, "  %s\t%s\t%.0f\t%s\t%s\t%d\t%d\t\n", h.Target, h.Loader, h.RPS,
					fmtMicros(h.P50us), fmtMicros(h.P99us), h.Errors, h.Non2xx)
			}
		}
		for _, q := range r.Ratios {
			fmt.Fprintf(tw, "  ratio %s\t\t%.2f\t\t\t\t\ttarget ≥ %.1f: %s\n", q.Name, q.Value, q.Target, metWord(q.Met))
		}
		section()
	}
	if len(r.Latency) > 0 {
		fmt.Fprintln(tw, "latency\tsamples\tp50\tp99\tmean\tmax\ttarget p50/p99\t")
		for _, l := range r.Latency {
			name := l.Scenario + ": " + l.Name
			switch {
			case l.Skipped != "":
				fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t-\tskipped: %s\t\n", name, l.Skipped)
			case l.Error != "":
				fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t-\tERROR: %s\t\n", name, firstLine(l.Error))
			default:
				tgt := fmtMicros(l.TargetP50us) + " / " + fmtMicros(l.TargetP99us)
				if l.Met != nil {
					tgt += ": " + metWord(*l.Met)
				}
				fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, l.Samples,
					fmtMicros(l.P50us), fmtMicros(l.P99us), fmtMicros(l.MeanUS), fmtMicros(l.MaxUS), tgt)
			}
			if l.Note != "" && l.Scenario == scenarioInnerloop {
				fmt.Fprintf(tw, "    %s\t\t\t\t\t\t\t\n", l.Note)
			}
		}
		for _, c := range r.InnerloopRatios {
			fmt.Fprintf(tw, "  %s\t\t%.2f×\t\t\t\t\t\n", c.Name, c.Value)
		}
		section()
	}
	if m := r.Memory; m != nil {
		if m.Error != "" {
			fmt.Fprintf(tw, "memory per warm instance: ERROR: %s\n", firstLine(m.Error))
		} else {
			fmt.Fprintf(tw, "memory per warm instance (%d held)\tGo heap %.3f MB\tRSS %.3f MB\tPSS %.3f MB\ttarget ≤ %.1f MB RSS, ≤ %.1f MB heap\n",
				m.Instances, m.HeapMBPerInstance, m.RSSMBPerInstance, m.PSSMBPerInstance, m.TargetRSSMB, m.TargetHeapMB)
			fmt.Fprintf(tw, "process with %d held\tRSS %.0f MB\tPSS %.0f MB\tafter closing them RSS %.0f MB\ttarget %d in ≤ %.0f MB (PSS)\n",
				m.Instances, m.TotalRSSMB, m.TotalPSSMB, m.AfterCloseRSSMB, m.TargetTotalInstances, m.TargetTotalMB)
		}
		section()
	}
	if len(r.Queue) > 0 {
		fmt.Fprintln(tw, "queue throughput (send → function → ack)\tmessages\tseconds\tmsg/s\tsend/s\ttarget\tnote")
		for _, q := range r.Queue {
			name := q.System + " " + q.Store + " " + q.Mode
			switch {
			case q.Skipped != "":
				fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t\tskipped: %s\n", name, q.Skipped)
			case q.Error != "":
				fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t\tERROR: %s\n", name, firstLine(q.Error))
			default:
				tgt, send := "", "-"
				if q.Met != nil {
					tgt = fmt.Sprintf("≥ %.0f: %s", q.TargetPerSec, metWord(*q.Met))
				}
				if q.SendPerSecond > 0 {
					send = fmt.Sprintf("%.0f", q.SendPerSecond)
				}
				fmt.Fprintf(tw, "  %s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\n", name, q.Messages, q.Seconds, q.PerSecond, send, tgt, q.Note)
			}
		}
		for _, c := range r.QueueRatios {
			fmt.Fprintf(tw, "  ratio %s\t\t\t%.2f\t\t\t\n", c.Name, c.Value)
		}
		section()
	}
	if len(r.Burst) > 0 {
		fmt.Fprintln(tw, "burst (GET /work)\trequests\t200\t429\tcold starts\tp50\tp99\twall\t")
		for _, b := range r.Burst {
			name := fmt.Sprintf("  round %d: provisioned %d, max_concurrency %d, %d ms work", b.Round, b.Provisioned, b.MaxConcurrency, b.SleepMS)
			if b.Error != "" && b.OK+b.Throttled == 0 {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\tERROR: %s\n", name, firstLine(b.Error))
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%.1fms\t%s\n", name, b.Requests, b.OK, b.Throttled, b.ColdStarts,
				fmtMicros(b.P50us), fmtMicros(b.P99us), b.WallMS, firstLine(b.Error))
		}
		section()
	}
	if len(r.Bindings) > 0 {
		writeBindingsTable(tw, r.Bindings)
		section()
	}
	if len(r.Workflow) > 0 {
		writeWorkflowTable(tw, r.Workflow, r.WorkflowRatios)
		section()
	}
	if len(r.WorkflowSteps) > 0 {
		writeWorkflowStepsTable(tw, r.WorkflowSteps)
		section()
	}
	if r.Objects != nil {
		writeObjectsTable(tw, r.Objects)
		section()
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED %s\n", f)
	}
	return tw.Flush()
}

func micros(d time.Duration) float64 { return round(float64(d)/float64(time.Microsecond), 2) }

func fmtMicros(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us >= 1000:
		return fmt.Sprintf("%.2fms", us/1000)
	default:
		return fmt.Sprintf("%.1fµs", us)
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func writeWorkflowTable(tw *tabwriter.Writer, rs []workflowResult, ratios []comparison) {
	fmt.Fprintln(tw, "workflows (3 no-op steps)\tstore\tclients\tworkflows\tseconds\twf/s\ttarget\tlone\tp50\tp99\ttarget p50\tnote")
	for _, w := range rs {
		switch {
		case w.Skipped != "":
			fmt.Fprintf(tw, "  %s\t%s\t-\t-\t-\t-\t\t-\t-\t-\t\tskipped: %s\n", w.System, w.Store, w.Skipped)
			continue
		case w.Error != "":
			fmt.Fprintf(tw, "  %s\t%s\t-\t-\t-\t-\t\t-\t-\t-\t\tERROR: %s\n", w.System, w.Store, firstLine(w.Error))
			continue
		}
		tgt, lone := "", ""
		if w.Met != nil {
			tgt = fmt.Sprintf("≥ %.0f: %s", w.TargetWfPerSec, metWord(*w.Met))
		}
		if w.LoneMet != nil {
			lone = fmt.Sprintf("≤ %gms: %s", w.TargetLoneP50, metWord(*w.LoneMet))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%.2f\t%.0f\t%s\t%d\t%s\t%s\t%s\t%s\n", w.System, w.Store, w.Concurrency, w.Workflows, w.Seconds,
			w.WfPerSec, tgt, w.Lone, fmtMicros(w.LoneP50ms*1000), fmtMicros(w.LoneP99ms*1000), lone, w.Version)
	}
	for _, c := range ratios {
		hint := "above 1: Strata does more"
		if strings.HasPrefix(c.Name, "lone") {
			hint = "below 1: Strata is faster"
		}
		fmt.Fprintf(tw, "  ratio %s\t\t\t\t\t%.3g\t\t\t\t\t\t%s\n", c.Name, c.Value, hint)
	}
}

func writeWorkflowStepsTable(tw *tabwriter.Writer, rs []workflowStepsResult) {
	fmt.Fprintln(tw, "long workflow (sequential no-op steps)\tsteps\tevents\tseconds\tsteps/s\tµs per step, block by block\tlast/first")
	for _, s := range rs {
		name := "  strata " + s.Store
		switch {
		case s.Skipped != "":
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t\tskipped: %s\n", name, s.Skipped)
			continue
		case s.Error != "":
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t\tERROR: %s\n", name, s.Steps, firstLine(s.Error))
			continue
		}
		curve := make([]string, len(s.CurveUS))
		for i, v := range s.CurveUS {
			curve[i] = fmt.Sprintf("%.0f", v)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.0f\t%s (blocks of %d)\t%.2f\n", name, s.Steps, s.Events, s.Seconds, s.StepsPerSec,
			strings.Join(curve, " "), s.BlockSize, s.Growth)
	}
}
