package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// taskFunc adapts a function to Tasks, as a hand-written fake.
type taskFunc func(ctx context.Context, resource string, params json.RawMessage, token string) (json.RawMessage, error)

func (f taskFunc) Invoke(ctx context.Context, resource string, params json.RawMessage, token string) (json.RawMessage, error) {
	return f(ctx, resource, params, token)
}

var _ Tasks = taskFunc(nil)

func mustParse(t *testing.T, def string) *Definition {
	t.Helper()
	d, err := Parse([]byte(def))
	require.NoError(t, err)
	return d
}

// TestMapMaxConcurrency holds every iteration in its task until as many
// as allowed have arrived, and checks no more than MaxConcurrency ever run
// at once: a gate, not a timer.
func TestMapMaxConcurrency(t *testing.T) {
	def := mustParse(t, `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":2,
		"ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"work","End":true}}},"End":true}}}`)
	var running, peak atomic.Int32
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	tasks := taskFunc(func(ctx context.Context, _ string, p json.RawMessage, _ string) (json.RawMessage, error) {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-release
		running.Add(-1)
		return p, nil
	})
	done := make(chan []byte)
	go func() {
		out, err := Run(context.Background(), def, []byte(`[1,2,3,4,5,6]`), Options{Tasks: tasks})
		require.NoError(t, err)
		done <- out
	}()
	for range 6 {
		<-arrived
		require.LessOrEqual(t, running.Load(), int32(2))
		release <- struct{}{}
	}
	require.JSONEq(t, `[1,2,3,4,5,6]`, string(<-done))
	require.LessOrEqual(t, peak.Load(), int32(2))
}

// TestEvents checks the history a Task execution produces: AWS's event
// types in order, ids from 1 and previousEventId chaining.
func TestEvents(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"T"},"T":{"Type":"Task","Resource":"r","End":true}}}`)
	var events []Event
	_, err := Run(context.Background(), def, []byte(`{"a":1}`), Options{
		Tasks:   taskFunc(func(_ context.Context, _ string, p json.RawMessage, _ string) (json.RawMessage, error) { return p, nil }),
		OnEvent: func(e Event) { events = append(events, e) },
	})
	require.NoError(t, err)
	var types []string
	for i, e := range events {
		types = append(types, e.Type)
		require.Equal(t, int64(i+1), e.ID)
		require.Equal(t, int64(i), e.PreviousEventID)
	}
	require.Equal(t, []string{ExecutionStarted, PassStateEntered, PassStateExited, TaskStateEntered,
		TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited, ExecutionSucceeded}, types)
	require.JSONEq(t, `{"a":1}`, string(events[len(events)-1].Output))
}

// TestForeignTaskError: an error that is not an *Error fails the state as
// States.TaskFailed with the error's text as the cause.
func TestForeignTaskError(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","End":true}}}`)
	_, err := Run(context.Background(), def, nil, Options{
		Tasks: taskFunc(func(context.Context, string, json.RawMessage, string) (json.RawMessage, error) {
			return nil, errors.New("connection refused")
		}),
	})
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, ErrTaskFailed, e.Name)
	require.Equal(t, "connection refused", e.Cause)
}

// TestConcurrentRuns hammers one Definition from many goroutines with
// Parallel and Map inside: definitions are shared and must stay immutable
// (run with -race).
func TestConcurrentRuns(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
		{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.l","ItemSelector":{"v.$":"$$.Map.Item.Value"},
			"ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Pass","ResultPath":"$.seen","Result":true,"End":true}}},"End":true}}},
		{"StartAt":"Q","States":{"Q":{"Type":"Pass","Parameters":{"n.$":"States.ArrayLength($.l)"},"End":true}}}],"End":true}}}`)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				out, err := Run(context.Background(), def, []byte(`{"l":[1,2,3]}`), Options{})
				require.NoError(t, err)
				require.JSONEq(t, `[[{"v":1,"seen":true},{"v":2,"seen":true},{"v":3,"seen":true}],{"n":3}]`, string(out))
			}
		}()
	}
	wg.Wait()
}

// TestAbort: a caller's cancellation ends the execution as ABORTED, with
// a plain error wrapping the cause, not a States.* failure.
func TestAbort(t *testing.T) {
	def := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","End":true}}}`)
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped by operator")
	var last string
	_, err := Run(ctx, def, nil, Options{
		Tasks: taskFunc(func(ctx context.Context, _ string, _ json.RawMessage, _ string) (json.RawMessage, error) {
			cancel(stop)
			<-ctx.Done()
			return nil, ctx.Err()
		}),
		OnEvent: func(e Event) { last = e.Type },
	})
	require.ErrorIs(t, err, stop)
	var e *Error
	require.False(t, errors.As(err, &e))
	require.Equal(t, ExecutionAborted, last)
}

// TestExceeds checks the payload measure against the real encoding.
func TestExceeds(t *testing.T) {
	v, err := decodeJSON([]byte(`{"a":[1,2.5,"x\"y",null,true,{"k":"\u00e9\n"}],"b":-1e-7}`))
	require.NoError(t, err)
	n := len(marshal(v))
	require.False(t, exceeds(v, n))
	require.True(t, exceeds(v, n-1))
}

// With a Seed, States.UUID and States.MathRandom draw the same values on
// every run (a replayed durable execution), different ones per branch and
// per draw, and other ones under another seed; without, every run draws
// anew.
func TestSeededRandomIntrinsics(t *testing.T) {
	def := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"u.$":"States.UUID()","v.$":"States.UUID()","r.$":"States.MathRandom(0, 1000000000)"},"End":true}}},
	  {"StartAt":"B","States":{"B":{"Type":"Pass","Parameters":{"u.$":"States.UUID()","v.$":"States.UUID()","r.$":"States.MathRandom(0, 1000000000)"},"End":true}}}]}}}`)
	run := func(seed string) []map[string]any {
		out, err := Run(context.Background(), def, []byte(`{}`), Options{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var v []map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := run("exec-1"), run("exec-1")
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("one seed, two runs: %v and %v", a, b)
	}
	if a[0]["u"] == a[0]["v"] || a[0]["u"] == a[1]["u"] || a[0]["r"] == a[1]["r"] {
		t.Fatalf("draws repeat within a run: %v", a)
	}
	if c := run("exec-2"); c[0]["u"] == a[0]["u"] {
		t.Fatalf("two seeds drew the same UUID: %v", c)
	}
	if x, y := run(""), run(""); x[0]["u"] == y[0]["u"] {
		t.Fatalf("unseeded runs drew the same UUID: %v", x)
	}
}

// In a durable execution (Seed and NowStep set), JSONata's $random()
// takes the thread's seeded draws and $now()/$millis() one recorded time
// per evaluation, so a replay computes the first pass's values: two runs
// answering NowStep from one record agree, and every call in one
// expression sees the same time. Map iterations draw in their own
// threads (concurrently, under -race). Without them the library's
// functions run.
func TestReplayableJSONataFunctions(t *testing.T) {
	def := mustParse(t, `{"QueryLanguage":"JSONata","StartAt":"P","States":{
	  "P":{"Type":"Pass","Output":{"r":"{% $random() %}","r2":"{% $random() %}","t":"{% $now() %}","same":"{% $millis() = $millis() %}",
	    "ms":"{% $millis() %}","y":"{% $now('[Y0001]') %}"},"Next":"M"},
	  "M":{"Type":"Map","Items":"{% [1,2,3,4,5,6,7,8] %}","MaxConcurrency":8,
	    "ItemSelector":{"r":"{% $random() %}"},
	    "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},
	    "Output":{"first":"{% $states.input %}","items":"{% $states.result %}"},"End":true}}}`)
	type run struct {
		out  map[string]any
		keys []string
	}
	do := func(seed string, rec map[string]time.Time) run {
		var mu sync.Mutex
		var keys []string
		opts := Options{Seed: seed}
		if rec != nil {
			opts.NowStep = func(key string) time.Time {
				mu.Lock()
				defer mu.Unlock()
				keys = append(keys, key)
				if at, ok := rec[key]; ok {
					return at
				}
				at := time.Now().Add(time.Duration(len(rec)+1) * time.Hour)
				rec[key] = at
				return at
			}
		}
		out, err := Run(context.Background(), def, []byte(`{}`), opts)
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal(out, &v))
		return run{v, keys}
	}
	rec := map[string]time.Time{}
	a := do("exec-1", rec)
	b := do("exec-1", rec)
	require.Equal(t, a.out, b.out, "one seed and one record, two runs")
	require.Equal(t, a.keys, b.keys)
	first := a.out["first"].(map[string]any)
	// One record per evaluation that names $now or $millis (t, same,
	// ms, y): each field's expression is one evaluation.
	require.Len(t, rec, 4, "recorded times: %v", rec)
	times := map[int64]bool{}
	for _, v := range rec {
		times[v.UnixMilli()] = true
	}
	require.True(t, times[int64(first["ms"].(float64))], "$millis() is a recorded time")
	require.Equal(t, true, first["same"])
	parsed, err := time.Parse(time.RFC3339Nano, first["t"].(string))
	require.NoError(t, err)
	require.True(t, times[parsed.UnixMilli()], "$now() is a recorded time")
	require.Len(t, first["y"], 4)
	require.NotEqual(t, first["r"], first["r2"], "two draws in one expression")
	seen := map[any]bool{first["r"]: true}
	for _, it := range a.out["items"].([]any) {
		r := it.(map[string]any)["r"]
		require.False(t, seen[r], "iterations drew the same value")
		seen[r] = true
	}
	c := do("exec-2", map[string]time.Time{})
	require.NotEqual(t, a.out["first"].(map[string]any)["r"], c.out["first"].(map[string]any)["r"])

	// No seed, no NowStep: the library's $random() and real time.
	x, y := do("", nil), do("", nil)
	require.NotEqual(t, x.out["first"].(map[string]any)["r"], y.out["first"].(map[string]any)["r"])
	tx, err := time.Parse(time.RFC3339Nano, x.out["first"].(map[string]any)["t"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), tx, time.Hour)
}

// TestHistoryCap runs machines against Options.MaxEvents as AWS caps a
// STANDARD history: the event numbered MaxEvents is the last, and it is
// ExecutionSucceeded only if the execution ends there; else the
// execution fails there.
func TestHistoryCap(t *testing.T) {
	// Each Pass is 2 events (Entered, Exited); with ExecutionStarted and
	// the end, n Pass states make 2n+2 events.
	chain := func(n int) *Definition {
		states := map[string]any{}
		for i := range n {
			st := map[string]any{"Type": "Pass"}
			if i == n-1 {
				st["End"] = true
			} else {
				st["Next"] = fmt.Sprintf("P%d", i+1)
			}
			states[fmt.Sprintf("P%d", i)] = st
		}
		b, _ := json.Marshal(map[string]any{"StartAt": "P0", "States": states})
		return mustParse(t, string(b))
	}
	run := func(def *Definition, max int) ([]Event, error) {
		var evs []Event
		_, err := Run(context.Background(), def, []byte(`{}`), Options{MaxEvents: max, OnEvent: func(e Event) { evs = append(evs, e) }})
		return evs, err
	}

	// 10 Pass states: 22 events, the 22nd the success. A cap of 22 lets
	// it finish; 21 does not.
	evs, err := run(chain(10), 22)
	require.NoError(t, err)
	require.Len(t, evs, 22)
	require.Equal(t, ExecutionSucceeded, evs[21].Type)

	evs, err = run(chain(10), 21)
	require.Equal(t, ErrRuntime, AsError(err).Name)
	require.Contains(t, AsError(err).Cause, "maximum number of events in its history (21)")
	require.Len(t, evs, 21)
	last := evs[20]
	require.Equal(t, ExecutionFailed, last.Type)
	require.Equal(t, int64(21), last.ID)
	require.Equal(t, ErrRuntime, last.Error)

	// A loop that never ends stops at the cap, and so does one spread
	// over Parallel branches: no event past it, the last the failure.
	loop := mustParse(t, `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"C"},
	  "C":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"E"}],"Default":"A"},"E":{"Type":"Succeed"}}}`)
	evs, err = run(loop, 1000)
	require.Equal(t, ErrRuntime, AsError(err).Name)
	require.Len(t, evs, 1000)
	require.Equal(t, ExecutionFailed, evs[999].Type)

	par := mustParse(t, `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Pass","Next":"C"},
	    "C":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"E"}],"Default":"A"},"E":{"Type":"Succeed"}}},
	  {"StartAt":"B","States":{"B":{"Type":"Pass","Next":"D"},
	    "D":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"F"}],"Default":"B"},"F":{"Type":"Succeed"}}}]}}}`)
	evs, err = run(par, 500)
	require.Equal(t, ErrRuntime, AsError(err).Name)
	require.Len(t, evs, 500)
	require.Equal(t, ExecutionFailed, evs[499].Type)
	ids := map[int64]bool{}
	for _, e := range evs {
		require.False(t, ids[e.ID], "event id %d twice", e.ID)
		require.LessOrEqual(t, e.ID, int64(500))
		ids[e.ID] = true
	}

	// Without a cap nothing changes: 10,000 Pass states, 20,002 events.
	evs, err = run(chain(10000), 0)
	require.NoError(t, err)
	require.Len(t, evs, 20002)
}
