package console

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/schedule"
	"github.com/stratahq/strata/internal/store"
)

func (c *Console) routes() {
	c.page("/{$}", c.overview)
	c.page("/functions", c.functionsPage)
	c.page("/functions/{name}", c.functionPage)
	c.action("/functions/{name}/rollback", c.rollback)
	c.page("/logs", c.logsPage)
	c.page("/logs/stream", c.logsStream)
	c.page("/traces", c.tracesPage)
	c.page("/traces/{id}", c.tracePage)
	c.page("/executions", c.executionsPage)
	c.page("/executions/{id}", c.executionPage)
	c.action("/executions/{id}/{verb}", c.executionAction)
	c.page("/queues", c.queuesPage)
	c.page("/queues/{name}", c.queuePage)
	c.action("/queues/{name}/redrive", c.redrive)
	c.page("/schedules", c.schedulesPage)
	c.page("/usage", c.usagePage)
	c.objectRoutes()
	c.machineRoutes()
}

var funcs = template.FuncMap{
	"ms":   func(d time.Duration) string { return fmtMS(float64(d) / float64(time.Millisecond)) },
	"msf":  fmtMS,
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") },
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return now.Sub(t).Truncate(time.Second).String()
	},
	"usd":    func(v float64) string { return fmt.Sprintf("$%.6f", v) },
	"path":   url.PathEscape,
	"query":  url.QueryEscape,
	"prefix": func() string { return Prefix },
	"short":  shortID,
}

// shortDur writes a bucket width as people do: 1m, 30m, 6h.
func shortDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// message reads an action's outcome from the redirect's query.
func message(r *http.Request, v *view) *view {
	v.Flash, v.Error = r.URL.Query().Get("flash"), r.URL.Query().Get("error")
	return v
}

// windows are the time windows the overview and usage pages offer, with
// the chart bucket of each.
var windows = []struct {
	Name          string
	Span, Buckets time.Duration
}{
	{"1h", time.Hour, time.Minute}, {"6h", 6 * time.Hour, 5 * time.Minute},
	{"24h", 24 * time.Hour, 30 * time.Minute}, {"7d", 7 * 24 * time.Hour, 6 * time.Hour},
}

func window(r *http.Request) (string, time.Duration, time.Duration) {
	w := r.URL.Query().Get("window")
	for _, x := range windows {
		if x.Name == w {
			return x.Name, x.Span, x.Buckets
		}
	}
	return windows[0].Name, windows[0].Span, windows[0].Buckets
}

type overviewData struct {
	Window  string
	Windows []string
	Charts  []template.HTML
	Usage   meter.Summary
	Traces  []store.TraceSummary
	HasTr   bool
}

// maxLines is how many functions a chart draws; the busiest win.
const maxLines = 8

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	name, span, bucket := window(r)
	fns, err := c.functionFilter(ctx, s)
	if err != nil {
		return "", nil, err
	}
	now := c.cfg.Clock.Now().UTC()
	end := now.Truncate(bucket).Add(bucket)
	start := end.Add(-span)
	pts, err := c.usageSeries(ctx, fns, start, end, bucket)
	if err != nil {
		return "", nil, err
	}
	d := overviewData{Window: name, Usage: meter.SummarizeSeries(pts, c.cfg.Prices), HasTr: c.cfg.Traces != nil}
	for _, x := range windows {
		d.Windows = append(d.Windows, x.Name)
	}
	// One row per bucket; each function a line, the busiest maxLines.
	nb := int(span / bucket)
	xs := make([]time.Time, nb)
	for i := range xs {
		xs[i] = start.Add(time.Duration(i) * bucket)
	}
	top := slices.Clone(d.Usage.Functions)
	slices.SortFunc(top, func(a, b apitype.UsageLine) int { return cmp.Compare(b.Invocations, a.Invocations) })
	top = top[:min(len(top), maxLines)]
	nc := len(store.UsageDurationBounds) + 1
	type acc struct {
		req, errs, cold []float64
		classes         [][]int64
	}
	by := map[string]*acc{}
	for _, f := range top {
		a := &acc{req: make([]float64, nb), errs: make([]float64, nb), cold: make([]float64, nb), classes: make([][]int64, nb)}
		for i := range a.classes {
			a.classes[i] = make([]int64, nc)
		}
		by[f.Function] = a
	}
	for _, p := range pts {
		a := by[p.Function]
		i := int(p.Bucket.Sub(start) / bucket)
		if a == nil || i < 0 || i >= nb {
			continue
		}
		a.req[i] += float64(p.Count)
		if p.Outcome != record.OutcomeOK && p.Outcome != record.OutcomeLimited {
			a.errs[i] += float64(p.Count)
		}
		a.cold[i] += float64(p.Cold)
		if p.Outcome != record.OutcomeLimited {
			a.classes[i][min(max(p.Class, 0), nc-1)] += p.Count
		}
	}
	var req, errs, p50, p99, cold []series
	for _, f := range top {
		a := by[f.Function]
		s50, s99 := make([]float64, nb), make([]float64, nb)
		for i := range nb {
			s50[i] = meter.ClassPercentileMS(a.classes[i], 0.50)
			s99[i] = meter.ClassPercentileMS(a.classes[i], 0.99)
		}
		req = append(req, series{f.Function, a.req})
		errs = append(errs, series{f.Function, a.errs})
		cold = append(cold, series{f.Function, a.cold})
		p50 = append(p50, series{f.Function, s50})
		p99 = append(p99, series{f.Function, s99})
	}
	per := " per " + shortDur(bucket)
	d.Charts = []template.HTML{
		lineChart("Requests"+per, "", xs, req), lineChart("Errors"+per, "", xs, errs),
		lineChart("p50 latency (ms, upper bound)", "", xs, p50), lineChart("p99 latency (ms, upper bound)", "", xs, p99),
		lineChart("Cold starts"+per, "", xs, cold),
	}
	if c.cfg.Traces != nil {
		d.Traces, err = c.cfg.Traces.TraceList(ctx, store.TraceListParams{Project: s.tok.Project, Limit: 10})
		if err != nil {
			return "", nil, err
		}
	}
	return "overview", &view{Title: "Overview", Nav: "overview", Data: d}, nil
}

type functionRow struct {
	record.Function
	Usage apitype.UsageLine
}

func (c *Console) functionsPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	fns, err := c.functions(ctx, s)
	if err != nil {
		return "", nil, err
	}
	names, _ := c.functionFilter(ctx, s)
	end := c.cfg.Clock.Now().UTC().Truncate(30 * time.Minute).Add(30 * time.Minute)
	pts, err := c.usageSeries(ctx, names, end.Add(-24*time.Hour), end, 30*time.Minute)
	if err != nil {
		return "", nil, err
	}
	sum := meter.SummarizeSeries(pts, c.cfg.Prices)
	rows := make([]functionRow, 0, len(fns))
	for _, f := range fns {
		row := functionRow{Function: f}
		for _, l := range sum.Functions {
			if l.Function == f.Name {
				row.Usage = l
			}
		}
		rows = append(rows, row)
	}
	return "functions", &view{Title: "Functions", Nav: "functions", Data: rows}, nil
}

type functionData struct {
	Function record.Function
	Versions []record.Version
}

func (c *Console) functionPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	f, err := c.function(r.Context(), s, r.PathValue("name"))
	if err != nil {
		return "", nil, err
	}
	vs, err := c.cfg.Store.VersionList(r.Context(), f.Name)
	if err != nil {
		return "", nil, err
	}
	return "function", message(r, &view{Title: f.Name, Nav: "functions", Data: functionData{Function: *f, Versions: vs}}), nil
}

func (c *Console) rollback(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	v, err := strconv.Atoi(r.PostFormValue("version"))
	back := Prefix + "/functions/" + url.PathEscape(name)
	if err != nil {
		c.done(w, r, back, http.StatusBadRequest, []byte("pick a version"), "")
		return
	}
	code, body := c.callAPI(r.Context(), s, "POST", "/functions/"+url.PathEscape(name)+"/rollback", apitype.RollbackRequest{Version: v})
	c.done(w, r, back, code, body, fmt.Sprintf("%s now serves version %d", name, v))
}

type logsData struct {
	Function  string
	Functions []string
	Lines     []record.LogLine
	After     int64
}

// logTail is how many lines the log page shows before following.
const logTail = 200

// logParams reads the log filters, checking the function is one the
// session may see. A project-scoped token must name a function: lines
// are stored per function, and a query of every function would read
// other projects' lines.
func (c *Console) logParams(r *http.Request, s *session) (store.LogListParams, error) {
	p := store.LogListParams{Function: r.URL.Query().Get("function")}
	if p.Function != "" {
		if _, err := c.function(r.Context(), s, p.Function); err != nil {
			return p, err
		}
	}
	if l, ok := record.ParseLogLevel(r.URL.Query().Get("level")); ok {
		p.MinLevel = l
	}
	return p, nil
}

func (c *Console) logsPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	p, err := c.logParams(r, s)
	if err != nil {
		return "", nil, err
	}
	fns, err := c.functions(ctx, s)
	if err != nil {
		return "", nil, err
	}
	d := logsData{Function: p.Function}
	for _, f := range fns {
		d.Functions = append(d.Functions, f.Name)
	}
	if p.Function != "" || s.tok.Project == "" {
		if c.cfg.SyncLogs != nil {
			if err := c.cfg.SyncLogs(ctx); err != nil {
				return "", nil, err
			}
		}
		p.Tail = logTail
		if d.Lines, err = c.cfg.Store.LogList(ctx, p); err != nil {
			return "", nil, err
		}
		if len(d.Lines) > 0 {
			d.After = d.Lines[len(d.Lines)-1].ID
		}
	}
	return "logs", &view{Title: "Logs", Nav: "logs", Data: d}, nil
}

// logsStream follows the log as server-sent events: one event per line,
// its id the line's (so a reconnecting EventSource resumes after it,
// with Last-Event-ID), polling the store as `strata logs -f` does so it
// sees lines of every node.
func (c *Console) logsStream(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	p, err := c.logParams(r, s)
	if err != nil {
		return "", nil, err
	}
	if p.Function == "" && s.tok.Project != "" {
		return "", nil, notFound("function", "")
	}
	after := r.Header.Get("Last-Event-ID")
	if after == "" {
		after = r.URL.Query().Get("after")
	}
	p.AfterID, _ = strconv.ParseInt(after, 10, 64)
	p.Limit = 500
	flusher, ok := w.(http.Flusher)
	if !ok {
		return "", nil, fmt.Errorf("log stream: the response cannot be flushed")
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.cfg.SyncLogs != nil {
			_ = c.cfg.SyncLogs(ctx)
		}
		lines, err := c.cfg.Store.LogList(ctx, p)
		if err != nil {
			return "", nil, nil // the client reconnects
		}
		for _, l := range lines {
			b, _ := json.Marshal(apitype.LogEntry{ID: l.ID, Time: l.Time, Function: l.Function, Version: l.Version,
				InvocationID: l.InvocationID, TraceID: l.TraceID, Stream: l.Stream, Level: l.Level.String(), Line: l.Line})
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", l.ID, b)
			p.AfterID = l.ID
		}
		flusher.Flush()
		if len(lines) == p.Limit {
			continue
		}
		select {
		case <-ctx.Done():
			return "", nil, nil
		case <-c.cfg.Stopping:
			return "", nil, nil
		case <-tick.C:
		}
	}
}

type tracesData struct {
	Enabled  bool
	Function string
	Status   string
	Min      string
	Traces   []store.TraceSummary
}

func (c *Console) tracesPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	q := r.URL.Query()
	d := tracesData{Enabled: c.cfg.Traces != nil, Function: q.Get("function"), Status: q.Get("status"), Min: q.Get("min")}
	v := &view{Title: "Traces", Nav: "traces", Data: &d}
	if !d.Enabled {
		return "traces", v, nil
	}
	p := store.TraceListParams{Project: s.tok.Project, Function: d.Function, ErrorsOnly: d.Status == "error", Limit: 100}
	if d.Min != "" {
		min, err := time.ParseDuration(d.Min)
		if err != nil {
			v.Error = fmt.Sprintf("minimum duration %q: want a duration like 100ms or 2s", d.Min)
			return "traces", v, nil
		}
		p.MinDuration = min
	}
	var err error
	if d.Traces, err = c.cfg.Traces.TraceList(r.Context(), p); err != nil {
		return "", nil, err
	}
	return "traces", v, nil
}

// spanRow is a span of the waterfall: its depth under the root, where
// its bar starts and how wide it is (percent of the trace), and the log
// lines of the invocation it ran, if any.
type spanRow struct {
	store.Span
	Depth       int
	Offset, Pct float64
	Attrs       []kv
	Logs        []record.LogLine
}

type kv struct{ K, V string }

type traceData struct {
	ID       string
	Start    time.Time
	Duration time.Duration
	Spans    []spanRow
}

// invocationAttr is the span attribute naming the invocation a span ran,
// whose log lines the waterfall shows under it.
const invocationAttr = "strata.invocation_id"

func (c *Console) tracePage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	if c.cfg.Traces == nil {
		return "", nil, notFound("trace", id)
	}
	spans, err := c.cfg.Traces.TraceGet(ctx, id, s.tok.Project)
	if err != nil {
		return "", nil, err
	}
	if len(spans) == 0 {
		return "", nil, notFound("trace", id)
	}
	d := traceData{ID: id, Start: spans[0].Start}
	end := d.Start
	for _, sp := range spans {
		if sp.Start.Before(d.Start) {
			d.Start = sp.Start
		}
		if e := sp.Start.Add(sp.Duration); e.After(end) {
			end = e
		}
	}
	d.Duration = end.Sub(d.Start)
	// Order as a tree: each span under its parent, siblings by start.
	kids := map[string][]store.Span{}
	ids := map[string]bool{}
	for _, sp := range spans {
		ids[sp.SpanID] = true
	}
	var roots []store.Span
	for _, sp := range spans {
		if sp.ParentID == "" || !ids[sp.ParentID] {
			roots = append(roots, sp)
		} else {
			kids[sp.ParentID] = append(kids[sp.ParentID], sp)
		}
	}
	total := float64(max(d.Duration, 1))
	var walk func(sp store.Span, depth int)
	walk = func(sp store.Span, depth int) {
		row := spanRow{Span: sp, Depth: depth, Offset: 100 * float64(sp.Start.Sub(d.Start)) / total, Pct: max(100*float64(sp.Duration)/total, 0.3)}
		for k, v := range sp.Attributes {
			row.Attrs = append(row.Attrs, kv{k, v})
		}
		sort.Slice(row.Attrs, func(i, j int) bool { return row.Attrs[i].K < row.Attrs[j].K })
		if inv := sp.Attributes[invocationAttr]; inv != "" {
			lines, err := c.cfg.Store.LogList(ctx, store.LogListParams{InvocationID: inv, Limit: 200})
			if err == nil {
				for _, l := range lines {
					// The span is the session's project's (TraceGet
					// filtered); its invocation's lines are of its
					// function, checked again here.
					if sp.Function == "" || l.Function == sp.Function {
						row.Logs = append(row.Logs, l)
					}
				}
			}
		}
		d.Spans = append(d.Spans, row)
		for _, k := range kids[sp.SpanID] {
			walk(k, depth+1)
		}
	}
	for _, rt := range roots {
		walk(rt, 0)
	}
	return "trace", &view{Title: "Trace " + id, Nav: "traces", Data: d}, nil
}

var executionStatuses = []string{record.FlowRunning, record.FlowCompleted, record.FlowFailed, record.FlowCanceled, record.FlowTerminated}

type executionsData struct {
	Enabled    bool
	Status     string
	Statuses   []string
	Executions []record.FlowExecution
}

func (c *Console) executionsPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	d := executionsData{Enabled: c.cfg.Flows != nil, Status: r.URL.Query().Get("status"), Statuses: executionStatuses}
	v := &view{Title: "Workflows", Nav: "executions", Data: &d}
	if !d.Enabled {
		return "executions", v, nil
	}
	if d.Status != "" && !slices.Contains(executionStatuses, d.Status) {
		d.Status = ""
	}
	var err error
	d.Executions, err = c.cfg.Flows.List(r.Context(), store.FlowListParams{Project: s.tok.Project, Status: d.Status, Limit: 200})
	if err != nil {
		return "", nil, err
	}
	return "executions", v, nil
}

type eventRow struct {
	record.FlowEvent
	Offset time.Duration
	Pct    float64
	Data   string
}

type executionData struct {
	Exec   record.FlowExecution
	Events []eventRow
	Span   time.Duration
	Failed bool
}

func (c *Console) executionPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	if c.cfg.Flows == nil {
		return "", nil, notFound("execution", id)
	}
	// The engine scopes by project: another project's execution is
	// "not found".
	ex, err := c.cfg.Flows.Get(ctx, s.flowProject(), id)
	if err != nil {
		return "", nil, err
	}
	evs, err := c.cfg.Flows.History(ctx, s.flowProject(), id, 0)
	if err != nil {
		return "", nil, err
	}
	d := executionData{Exec: *ex, Failed: ex.Status == record.FlowFailed}
	if len(evs) > 0 {
		first, last := evs[0].Time, evs[len(evs)-1].Time
		d.Span = max(last.Sub(first), 1)
		for _, e := range evs {
			data := string(e.Data)
			if len(data) > 300 {
				data = data[:300] + "…"
			}
			off := e.Time.Sub(first)
			d.Events = append(d.Events, eventRow{FlowEvent: e, Offset: off, Pct: 100 * float64(off) / float64(d.Span), Data: data})
		}
	}
	return "execution", message(r, &view{Title: "Execution " + id, Nav: "executions", Data: d}), nil
}

// executionAction signals, cancels, terminates or restarts through the
// API (which passes the token's project to the engine).
func (c *Console) executionAction(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := Prefix + "/executions/" + url.PathEscape(id)
	base := "/executions/" + url.PathEscape(id)
	var code int
	var body []byte
	var ok string
	switch r.PathValue("verb") {
	case "signal":
		name := strings.TrimSpace(r.PostFormValue("name"))
		value := strings.TrimSpace(r.PostFormValue("value"))
		if name == "" {
			c.done(w, r, back, http.StatusBadRequest, []byte("name the signal"), "")
			return
		}
		code, body = c.callAPI(r.Context(), s, "POST", base+"/signals/"+url.PathEscape(name), []byte(value))
		ok = "signal " + name + " sent"
	case "cancel":
		code, body = c.callAPI(r.Context(), s, "POST", base+"/cancel", apitype.ReasonRequest{Reason: r.PostFormValue("reason")})
		ok = "cancel requested"
	case "terminate":
		code, body = c.callAPI(r.Context(), s, "POST", base+"/terminate", apitype.ReasonRequest{Reason: r.PostFormValue("reason")})
		ok = "terminated"
	case "restart":
		code, body = c.callAPI(r.Context(), s, "POST", base+"/restart", apitype.RestartRequest{FromFailure: r.PostFormValue("from_failure") != ""})
		ok = "restarted"
	default:
		http.NotFound(w, r)
		return
	}
	c.done(w, r, back, code, body, ok)
}

type queueRow struct {
	record.QueueConfig
	Stats record.QueueStats
	Depth int64
	Age   time.Duration
	IsDLQ bool
}

func (c *Console) queueRows(r *http.Request, s *session, all bool) ([]queueRow, error) {
	ctx := r.Context()
	qs, err := c.cfg.Store.QueueList(ctx)
	if err != nil {
		return nil, err
	}
	dlq := map[string]bool{}
	for _, q := range qs {
		if q.DeadLetter != "" {
			dlq[q.DeadLetter] = true
		}
	}
	now := c.cfg.Clock.Now()
	var out []queueRow
	for _, q := range qs {
		if !s.sees(q.Project) || (!all && q.Kind != record.QueueUser && !dlq[q.Name]) {
			continue
		}
		st, err := c.cfg.Store.QueueStats(ctx, q.Name)
		if err != nil {
			return nil, err
		}
		row := queueRow{QueueConfig: q, Stats: *st, Depth: st.Visible + st.InFlight + st.Delayed, IsDLQ: dlq[q.Name]}
		if !st.OldestSent.IsZero() {
			row.Age = now.Sub(st.OldestSent).Truncate(time.Second)
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) queuesPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	rows, err := c.queueRows(r, s, r.URL.Query().Get("all") != "")
	if err != nil {
		return "", nil, err
	}
	return "queues", &view{Title: "Queues", Nav: "queues", Data: rows}, nil
}

type queueData struct {
	Queue    queueRow
	Messages []messageRow
}

type messageRow struct {
	record.Message
	Text string
}

func (c *Console) queuePage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	q, err := c.queue(ctx, s, r.PathValue("name"))
	if err != nil {
		return "", nil, err
	}
	rows, err := c.queueRows(r, s, true)
	if err != nil {
		return "", nil, err
	}
	d := queueData{}
	for _, row := range rows {
		if row.Name == q.Name {
			d.Queue = row
		}
	}
	ms, err := c.cfg.Store.MessagePeek(ctx, q.Name, 20)
	if err != nil {
		return "", nil, err
	}
	for _, m := range ms {
		t := string(m.Body)
		if len(t) > 500 {
			t = t[:500] + "…"
		}
		d.Messages = append(d.Messages, messageRow{Message: m, Text: strings.ToValidUTF8(t, "�")})
	}
	return "queue", message(r, &view{Title: "Queue " + q.Name, Nav: "queues", Data: d}), nil
}

func (c *Console) redrive(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	back := Prefix + "/queues/" + url.PathEscape(name)
	code, body := c.callAPI(r.Context(), s, "POST", "/queues/"+url.PathEscape(name)+"/redrive", apitype.RedriveRequest{})
	var res apitype.RedriveResult
	_ = json.Unmarshal(body, &res)
	c.done(w, r, back, code, body, fmt.Sprintf("%d messages redriven", res.Moved))
}

type scheduleRow struct {
	record.Schedule
	Next        []time.Time
	LastAt      time.Time
	LastOutcome string
}

func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	ss, err := c.cfg.Store.ScheduleList(ctx)
	if err != nil {
		return "", nil, err
	}
	now := c.cfg.Clock.Now()
	var rows []scheduleRow
	for _, sc := range ss {
		if !s.sees(sc.Project) {
			continue
		}
		row := scheduleRow{Schedule: sc, Next: []time.Time{sc.NextFire}}
		look := time.Hour
		if p, err := schedule.Parse(sc.Spec, sc.Timezone); err == nil {
			t := sc.NextFire
			for len(row.Next) < 5 {
				if t = p.Next(t); t.IsZero() {
					break
				}
				row.Next = append(row.Next, t)
			}
			if len(row.Next) > 1 {
				look = max(look, 2*row.Next[1].Sub(row.Next[0]))
			}
		}
		// The last outcome is the last invocation a tick caused: the
		// function's usage records of the schedule trigger, looked up
		// over two periods.
		us, err := c.cfg.Store.UsageList(ctx, store.UsageListParams{Function: sc.Function, Since: now.Add(-look)})
		if err != nil {
			return "", nil, err
		}
		for i := len(us) - 1; i >= 0; i-- {
			if us[i].Trigger == "schedule" {
				row.LastAt, row.LastOutcome = us[i].Start, us[i].Outcome
				break
			}
		}
		rows = append(rows, row)
	}
	return "schedules", &view{Title: "Schedules", Nav: "schedules", Data: rows}, nil
}

type usageData struct {
	Window  string
	Windows []string
	Prices  apitype.Prices
	Usage   meter.Summary
}

func (c *Console) usagePage(w http.ResponseWriter, r *http.Request, s *session) (string, *view, error) {
	ctx := r.Context()
	name, span, bucket := window(r)
	fns, err := c.functionFilter(ctx, s)
	if err != nil {
		return "", nil, err
	}
	// The window's buckets as on the overview (so the series cache
	// serves it): it ends at the next bucket boundary.
	end := c.cfg.Clock.Now().UTC().Truncate(bucket).Add(bucket)
	pts, err := c.usageSeries(ctx, fns, end.Add(-span), end, bucket)
	if err != nil {
		return "", nil, err
	}
	d := usageData{Window: name, Prices: c.cfg.Prices, Usage: meter.SummarizeSeries(pts, c.cfg.Prices)}
	for _, x := range windows {
		d.Windows = append(d.Windows, x.Name)
	}
	return "usage", &view{Title: "Usage and cost", Nav: "usage", Data: d}, nil
}
