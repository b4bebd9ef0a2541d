package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// A STANDARD execution's AWS history is not stored event by event: the
// flow history holds what the execution learnt (its records), and the
// interpreter, replayed over those records, emits the same AWS events it
// emitted when it ran. The replay stops where the execution is now: at
// the effects it has not learnt the outcome of.

// replayHistory returns the AWS events of ex so far, in a stable order:
// by the time of the record each event follows (branches and iterations
// are replayed concurrently, so the order they emit in is not), then by
// branch, then in the order each branch emitted them; ids are numbered in
// that order, so the same execution answers the same history on every
// call and pages stay consistent.
//
// A redriven execution's history is the replay of the path it has taken
// (the effects a redrive dropped are not in it), with an
// ExecutionRedriven event at the time of each redrive.
func (h *Handler) replayHistory(ctx context.Context, project string, ex *record.FlowExecution) ([]asl.Event, error) {
	return h.replay(ctx, project, ex, nil, nil)
}

// replay replays ex over its records. onFailed, when set, hears of every
// thread that failed (asl.Options.OnStateFailed); onKeys, when set, is
// given the keys of the records the replay read from.
func (h *Handler) replay(ctx context.Context, project string, ex *record.FlowExecution, onFailed func(string, int), onKeys func([]string)) ([]asl.Event, error) {
	evs, err := h.cfg.Executions.History(ctx, project, ex.ID, 0)
	if err != nil {
		return nil, err
	}
	var redriven []time.Time
	rp := &replay{rec: map[string]record.FlowEvent{}, start: ex.CreatedAt, end: time.Now(),
		times: map[string]time.Time{}, blocked: map[context.Context]int{}}
	if !ex.ClosedAt.IsZero() {
		rp.end = ex.ClosedAt
	}
	for _, ev := range evs {
		switch ev.Type {
		case flow.EvRecorded:
			if _, ok := rp.rec[ev.Name]; !ok {
				rp.rec[ev.Name] = ev
			}
		case flow.EvStarted:
			if !ev.Time.IsZero() {
				rp.start = ev.Time
			}
		case flow.EvRestarted:
			// A redrive: what it dropped is learnt anew after it.
			forget, _ := flow.Restarted(ev)
			for _, k := range forget {
				delete(rp.rec, k)
			}
			redriven = append(redriven, ev.Time)
		}
	}
	if onKeys != nil {
		keys := make([]string, 0, len(rp.rec))
		for k := range rp.rec {
			keys = append(keys, k)
		}
		onKeys(keys)
	}
	project, machine, _ := ParseWorkflow(ex.Workflow)
	_, _, name, _ := parseExecutionID(ex.ID)
	var out []timedEvent
	def, ok := rp.rec[keyDefinition]
	status, errName, cause := awsStatus(ex)
	if ok {
		var text string
		_ = json.Unmarshal(def.Data, &text)
		d, err := h.parsed(text)
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		rp.cancel = cancel
		rp.active = 1
		opts := asl.Options{
			Tasks: rp, SleepStep: rp.sleep, NowStep: rp.now, OnThread: rp.thread, Seed: randomSeed(*ex),
			// The same cap as the execution ran under, so the replay
			// ends where it did.
			MaxEvents:     asl.MaxHistoryEvents,
			OnStateFailed: onFailed,
			// Waits are judged against the execution's end (or now):
			// a wait the execution did not have to make is not made.
			Now:       func() time.Time { return rp.end },
			TaskToken: func(key string) string { return wire.TaskToken(ex.ID, key) },
			OnEvent: func(e asl.Event) {
				rp.mu.Lock()
				defer rp.mu.Unlock()
				if rp.cut {
					return
				}
				out = append(out, timedEvent{Event: e, at: rp.eventTime(e), n: len(out)})
			},
			ExecutionID: executionArn(project, machine, name), ExecutionName: name,
			StateMachineID: machineArn(project, machine), StateMachineName: machine,
		}
		_, _ = asl.Run(rctx, d, []byte(inputText(ex.Input)), opts)
	}
	for i, at := range redriven {
		out = append(out, timedEvent{Event: asl.Event{Type: asl.ExecutionRedriven, Index: i + 1, Thread: "r"}, at: at, n: -1})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if a.Thread != b.Thread {
			return a.Thread < b.Thread
		}
		return a.n < b.n
	})
	ids := make(map[int64]int64, len(out))
	res := make([]asl.Event, len(out))
	for i, e := range out {
		ids[e.ID] = int64(i + 1)
		res[i] = e.Event
		res[i].ID, res[i].Timestamp = int64(i+1), e.at
	}
	for i := range res {
		res[i].PreviousEventID = ids[res[i].PreviousEventID]
	}
	// The end the replay cannot know: a stop, a timeout, a failure
	// outside the interpreter.
	last := ""
	if len(res) > 0 {
		last = res[len(res)-1].Type
	}
	ended := strings.HasPrefix(last, "Execution") && last != asl.ExecutionStarted && last != asl.ExecutionRedriven
	if !ended && status != "RUNNING" {
		e := asl.Event{Timestamp: ex.ClosedAt, Error: errName, Cause: cause, ID: int64(len(res) + 1)}
		switch status {
		case "ABORTED":
			e.Type = asl.ExecutionAborted
		case "TIMED_OUT":
			e.Type = asl.ExecutionTimedOut
		case "SUCCEEDED":
			e.Type, e.Output = asl.ExecutionSucceeded, ex.Output
		default:
			e.Type = asl.ExecutionFailed
		}
		if len(res) > 0 {
			e.PreviousEventID = res[len(res)-1].ID
		}
		res = append(res, e)
	}
	return res, nil
}

// timedEvent is an event with the time the history gives it and the
// order it was emitted in.
type timedEvent struct {
	asl.Event
	at time.Time
	n  int
}

// replay answers the interpreter's effects from an execution's records.
// A goroutine that reaches an effect with no record waits; when every
// goroutine waits (and none is about to wake because its branch was
// cancelled), the replay is cut there: that is where the execution is.
type replay struct {
	rec    map[string]record.FlowEvent
	start  time.Time
	end    time.Time // timers due by then have fired
	cancel context.CancelFunc

	mu      sync.Mutex
	times   map[string]time.Time // thread → time of the latest record it read
	active  int
	blocked map[context.Context]int
	cut     bool
}

// threadOf is the thread of an effect key (its prefix before the count).
func threadOf(key string) string {
	if i := strings.LastIndexByte(key, ':'); i > 0 {
		return key[:i]
	}
	return key
}

// parentThread is the thread that started thread ("" for the top level).
func parentThread(thread string) string {
	if i := strings.LastIndexByte(thread, ':'); i > 0 {
		return thread[:i]
	}
	return ""
}

// timeOf is the latest record time of thread or, when it read none yet,
// of the thread that started it (rp.mu held).
func (rp *replay) timeOf(thread string) time.Time {
	for t := thread; t != ""; t = parentThread(t) {
		if at, ok := rp.times[t]; ok {
			return at
		}
	}
	return rp.start
}

// eventTime is the time of an event of e.Thread (rp.mu held). A
// Parallel's or Map's end comes after everything its branches did.
func (rp *replay) eventTime(e asl.Event) time.Time {
	at := rp.timeOf(e.Thread)
	switch e.Type {
	case asl.ParallelStateSucceeded, asl.ParallelStateFailed, asl.MapStateSucceeded, asl.MapStateFailed:
		for t, tt := range rp.times {
			if strings.HasPrefix(t, e.Thread+":") && !tt.Before(at) {
				// After its branches' last events, which may share
				// their time.
				at = tt.Add(time.Nanosecond)
			}
		}
		rp.times[e.Thread] = at
	}
	return at
}

func (rp *replay) thread(delta int) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.active += delta
	rp.maybeCut()
}

// maybeCut ends the replay when every goroutine waits for a record that
// is not there (rp.mu held).
func (rp *replay) maybeCut() {
	if rp.active > 0 || rp.cut {
		return
	}
	for ctx := range rp.blocked {
		if ctx.Err() != nil {
			return // a cancelled branch: it runs on to its end
		}
	}
	rp.cut = true
	rp.cancel()
}

// read returns the record under key, advancing its thread's time.
func (rp *replay) read(key string) (record.FlowEvent, bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	ev, ok := rp.rec[key]
	if ok {
		rp.advance(threadOf(key), ev.Time)
	}
	return ev, ok
}

func (rp *replay) advance(thread string, at time.Time) {
	if at.After(rp.timeOf(thread)) {
		rp.times[thread] = at
	}
}

// block waits for the cut (the effect has no outcome yet), or for the
// goroutine's branch to be cancelled.
func (rp *replay) block(ctx context.Context) error {
	rp.mu.Lock()
	rp.active--
	rp.blocked[ctx]++
	rp.maybeCut()
	rp.mu.Unlock()
	<-ctx.Done()
	rp.mu.Lock()
	rp.active++
	if rp.blocked[ctx]--; rp.blocked[ctx] <= 0 {
		delete(rp.blocked, ctx)
	}
	rp.mu.Unlock()
	return ctx.Err()
}

func (rp *replay) sleep(ctx context.Context, key string, d time.Duration) error {
	ev, ok := rp.read(key)
	if !ok {
		if d <= 0 {
			return nil
		}
		return rp.block(ctx)
	}
	var at time.Time
	_ = json.Unmarshal(ev.Data, &at)
	if at.After(rp.end) {
		return rp.block(ctx)
	}
	rp.mu.Lock()
	rp.advance(threadOf(key), at)
	rp.mu.Unlock()
	return nil
}

// now answers a JSONata $now() from its record; one the execution has
// not committed yet (it is at that state now) is the thread's time.
func (rp *replay) now(key string) time.Time {
	if ev, ok := rp.read(key); ok {
		var at time.Time
		if json.Unmarshal(ev.Data, &at) == nil {
			return at
		}
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.timeOf(threadOf(key))
}

func (rp *replay) Invoke(context.Context, string, json.RawMessage, string) (json.RawMessage, error) {
	return nil, errors.New("keyless task")
}

func (rp *replay) InvokeStep(ctx context.Context, c asl.TaskCall) (json.RawMessage, error) {
	ev, ok := rp.read(c.Key)
	if !ok {
		return nil, rp.block(ctx)
	}
	return replayed(ev.Data)
}

type historyInput struct {
	ExecutionArn         string `json:"executionArn"`
	MaxResults           int    `json:"maxResults"`
	NextToken            string `json:"nextToken"`
	ReverseOrder         bool   `json:"reverseOrder"`
	IncludeExecutionData *bool  `json:"includeExecutionData"`
}

// getExecutionHistory answers a STANDARD execution's events as AWS
// shapes them, paged (maxResults, default 100, at most 1000) and in
// either order.
func (h *Handler) getExecutionHistory(ctx context.Context, c *caller, body []byte) (any, error) {
	var in historyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, errorf(errValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
	}
	from, err := pageToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	ex, _, _, err := h.execution(ctx, c, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	evs, err := h.replayHistory(ctx, c.project, ex)
	if err != nil {
		return nil, err
	}
	if in.ReverseOrder {
		for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
			evs[i], evs[j] = evs[j], evs[i]
		}
	}
	limit := in.MaxResults
	if limit == 0 {
		limit = 100
	}
	data := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	out := struct {
		Events    []map[string]any `json:"events"`
		NextToken string           `json:"nextToken,omitempty"`
	}{Events: []map[string]any{}}
	for i := from; i < len(evs) && len(out.Events) < limit; i++ {
		out.Events = append(out.Events, awsEvent(evs[i], data))
	}
	if from+limit < len(evs) {
		out.NextToken = strconv.Itoa(from + limit)
	}
	return out, nil
}

// awsEvent shapes one event as GetExecutionHistory answers it. A Task
// whose resource is a function (by name or Lambda ARN) reports Lambda
// events, as AWS does for a Lambda ARN resource; other resources report
// Task events with their service and action.
func awsEvent(e asl.Event, data bool) map[string]any {
	typ := e.Type
	m := map[string]any{"timestamp": epoch(e.Timestamp), "id": e.ID, "previousEventId": e.PreviousEventID}
	payload := func(key string, v json.RawMessage) map[string]any {
		d := map[string]any{}
		if data {
			if len(v) == 0 {
				v = json.RawMessage("{}")
			}
			d[key] = string(v)
		}
		d[key+"Details"] = map[string]any{"truncated": false}
		return d
	}
	lambda := e.Resource != "" && !strings.HasPrefix(e.Resource, "arn:aws:states:::")
	resType, res := "", e.Resource
	if rest, ok := strings.CutPrefix(e.Resource, "arn:aws:states:::"); ok {
		resType, res, _ = strings.Cut(rest, ":")
	}
	switch {
	case typ == asl.ExecutionRedriven:
		m["executionRedrivenEventDetails"] = map[string]any{"redriveCount": e.Index}
	case typ == asl.ExecutionStarted:
		d := payload("input", e.Input)
		d["roleArn"] = ""
		m["executionStartedEventDetails"] = d
	case typ == asl.ExecutionSucceeded:
		m["executionSucceededEventDetails"] = payload("output", e.Output)
	case typ == asl.ExecutionFailed || typ == asl.ExecutionTimedOut || typ == asl.ExecutionAborted:
		key := map[string]string{asl.ExecutionFailed: "executionFailedEventDetails", asl.ExecutionTimedOut: "executionTimedOutEventDetails",
			asl.ExecutionAborted: "executionAbortedEventDetails"}[typ]
		m[key] = errDetails(e)
	case strings.HasSuffix(typ, "StateEntered"):
		d := payload("input", e.Input)
		d["name"] = e.StateName
		m["stateEnteredEventDetails"] = d
	case strings.HasSuffix(typ, "StateExited"):
		d := payload("output", e.Output)
		d["name"] = e.StateName
		m["stateExitedEventDetails"] = d
	case typ == asl.TaskScheduled && lambda:
		typ = "LambdaFunctionScheduled"
		d := payload("input", e.Input)
		d["resource"] = e.Resource
		m["lambdaFunctionScheduledEventDetails"] = d
	case typ == asl.TaskStarted && lambda:
		typ = "LambdaFunctionStarted"
	case typ == asl.TaskSucceeded && lambda:
		typ = "LambdaFunctionSucceeded"
		m["lambdaFunctionSucceededEventDetails"] = payload("output", e.Output)
	case typ == asl.TaskFailed && lambda:
		typ = "LambdaFunctionFailed"
		m["lambdaFunctionFailedEventDetails"] = errDetails(e)
	case typ == asl.TaskTimedOut && lambda:
		typ = "LambdaFunctionTimedOut"
		m["lambdaFunctionTimedOutEventDetails"] = errDetails(e)
	case typ == asl.TaskScheduled:
		d := map[string]any{"resourceType": resType, "resource": res, "region": Region}
		if data {
			d["parameters"] = string(e.Input)
		}
		m["taskScheduledEventDetails"] = d
	case typ == asl.TaskStarted:
		m["taskStartedEventDetails"] = map[string]any{"resourceType": resType, "resource": res}
	case typ == asl.TaskSucceeded:
		d := payload("output", e.Output)
		d["resourceType"], d["resource"] = resType, res
		m["taskSucceededEventDetails"] = d
	case typ == asl.TaskFailed || typ == asl.TaskTimedOut:
		d := errDetails(e)
		d["resourceType"], d["resource"] = resType, res
		m[map[string]string{asl.TaskFailed: "taskFailedEventDetails", asl.TaskTimedOut: "taskTimedOutEventDetails"}[typ]] = d
	case typ == asl.MapStateStarted:
		m["mapStateStartedEventDetails"] = map[string]any{"length": e.Length}
	case strings.HasPrefix(typ, "MapIteration"):
		m[strings.ToLower(typ[:1])+typ[1:]+"EventDetails"] = map[string]any{"name": e.StateName, "index": e.Index}
	}
	m["type"] = typ
	return m
}

func errDetails(e asl.Event) map[string]any {
	d := map[string]any{}
	if e.Error != "" {
		d["error"] = e.Error
	}
	if e.Cause != "" {
		d["cause"] = e.Cause
	}
	return d
}
