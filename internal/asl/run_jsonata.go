package asl

import (
	"context"
	"fmt"
	"math"
	"time"
)

// runStateJ runs a state written in JSONata: Arguments replace
// InputPath/Parameters, Output replaces ResultSelector/ResultPath/
// OutputPath, and Assign sets variables that later states read. Assign
// and Output both see the variables as they were when the state entered.
func (th *thread) runStateJ(ctx context.Context, st *State, raw any, cx *contextObj, enteredID int64) (any, *State, *Error) {
	j := st.j
	states := map[string]any{"input": raw, "context": cx.value()}
	env := &jenv{states: states, vars: th.vars, th: th}
	fail := func(e *Error) (any, *State, *Error) {
		if e.Name == ErrRuntime && !e.bare {
			e = &Error{Name: e.Name, Cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", st.Name, enteredID, e.Cause)}
		}
		return nil, nil, e
	}
	next := st.next
	output, assign := j.output, j.assign
	var result any = raw
	switch st.Type {
	case "Succeed":
		next = nil
	case "Fail":
		e := &Error{}
		for _, f := range []struct {
			t   *jtemplate
			dst *string
		}{{j.errT, &e.Name}, {j.causeT, &e.Cause}} {
			if f.t == nil {
				continue
			}
			v, err := f.t.eval(env)
			if err != nil {
				return fail(err)
			}
			s, ok := v.(string)
			if !ok {
				return fail(&Error{Name: ErrQueryEvaluationError, Cause: fmt.Sprintf("The value for the field '%s' must be a STRING", f.t.field)})
			}
			*f.dst = s
		}
		return nil, nil, e
	case "Wait":
		var d time.Duration
		if j.seconds != nil {
			v, err := j.seconds.eval(env)
			if err != nil {
				return fail(err)
			}
			n, ok := asInt(v)
			if !ok || n < 0 {
				return fail(&Error{Name: ErrQueryEvaluationError, Cause: "The value for the field 'Seconds' must be a non-negative integer"})
			}
			d = time.Duration(n) * time.Second
		} else {
			v, err := j.timestamp.eval(env)
			if err != nil {
				return fail(err)
			}
			s, _ := v.(string)
			t, perr := parseTimestamp(s)
			if perr != nil {
				return fail(&Error{Name: ErrQueryEvaluationError, Cause: "The value for the field 'Timestamp' must be a valid ISO-8601 timestamp"})
			}
			d = t.Sub(th.ex.opts.Now())
		}
		if serr := th.sleep(ctx, d); serr != nil {
			return fail(&Error{Name: ErrTimeout, Cause: serr.Error()})
		}
	case "Choice":
		next = nil
		for _, r := range j.rules {
			v, err := r.condition.eval(env)
			if err != nil {
				return fail(err)
			}
			b, ok := v.(bool)
			if !ok {
				return fail(&Error{Name: ErrQueryEvaluationError, Cause: "The Condition of a choice rule must evaluate to a boolean"})
			}
			if b {
				next = r.next
				if r.output != nil {
					output = r.output
				}
				if r.assign != nil {
					assign = r.assign
				}
				break
			}
		}
		if next == nil {
			if st.deflt == nil {
				return fail(&Error{Name: ErrNoChoiceMatched, Cause: fmt.Sprintf("No Matches! in state '%s'", st.Name)})
			}
			next = st.deflt
		}
	case "Task", "Parallel", "Map":
		res, nx, cout, err := th.runRetriableJ(ctx, st, raw, cx, env)
		if err != nil {
			return fail(err)
		}
		if cout != nil { // caught: the catcher's Output and Assign apply
			next, output, assign = nx, cout.output, cout.assign
			result = res // without an Output, the error output is the state's
		} else {
			states["result"] = res
			result = res
		}
	}
	var out any = result
	if output != nil {
		v, err := output.eval(env)
		if err != nil {
			return fail(err)
		}
		out = v
	}
	if assign != nil {
		v, err := assign.eval(env)
		if err != nil {
			return fail(err)
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			nv := make(map[string]any, len(th.vars)+len(m))
			for k, x := range th.vars {
				nv[k] = x
			}
			for k, x := range m {
				nv[k] = x
			}
			th.vars = nv
		}
	}
	if exceeds(out, MaxPayload) {
		return fail(newErr(ErrDataLimitExceeded, "The state '%s' produced an output with a size exceeding the maximum number of bytes service limit.", st.Name))
	}
	th.emit(Event{Type: st.exitedEvent, StateName: st.Name, Output: th.jsonIf(out)})
	return out, next, nil
}

// runRetriableJ runs a JSONata Task, Parallel or Map with Retry and
// Catch. When a catcher handles the failure it returns the error output,
// the catcher's transition and its Output/Assign templates.
func (th *thread) runRetriableJ(ctx context.Context, st *State, raw any, cx *contextObj, env *jenv) (any, *State, *jcatch, *Error) {
	var attempts []int
	for {
		res, err := th.actJ(ctx, st, raw, cx, env)
		if err == nil {
			return res, st.next, nil, nil
		}
		if err.Name == ErrRuntime {
			return nil, nil, nil, err
		}
		retried := false
		for i, r := range st.retry {
			if !matches(r.errorEquals, err.Name) {
				continue
			}
			if attempts == nil {
				attempts = make([]int, len(st.retry))
			}
			if attempts[i] >= r.maxAttempts {
				break
			}
			delay := r.interval * math.Pow(r.backoff, float64(attempts[i]))
			if r.maxDelay > 0 && delay > r.maxDelay {
				delay = r.maxDelay
			}
			if r.fullJitter {
				delay *= th.ex.opts.Rand()
			}
			attempts[i]++
			cx.retry++
			cx.built = nil
			env.states["context"] = cx.value()
			if serr := th.sleep(ctx, time.Duration(delay*float64(time.Second))); serr != nil {
				return nil, nil, nil, &Error{Name: ErrTimeout, Cause: serr.Error()}
			}
			retried = true
			break
		}
		if retried {
			continue
		}
		for _, c := range st.catch {
			if !matches(c.errorEquals, err.Name) {
				continue
			}
			errOut := map[string]any{"Error": err.Name, "Cause": err.Cause}
			env.states["errorOutput"] = errOut
			jc := c.j
			if jc == nil {
				jc = &jcatch{}
			}
			return errOut, c.next, jc, nil
		}
		return nil, nil, nil, err
	}
}

func (th *thread) actJ(ctx context.Context, st *State, raw any, cx *contextObj, env *jenv) (any, *Error) {
	j := st.j
	in := raw
	if j.arguments != nil {
		v, err := j.arguments.eval(env)
		if err != nil {
			return nil, err
		}
		in = v
	}
	intField := func(t *jtemplate, name string) (int, *Error) {
		if t == nil {
			return -1, nil
		}
		v, err := t.eval(env)
		if err != nil {
			return 0, err
		}
		n, ok := asInt(v)
		if !ok || n < 0 {
			return 0, &Error{Name: ErrQueryEvaluationError, Cause: fmt.Sprintf("The value for the field '%s' must be a non-negative integer", name)}
		}
		return n, nil
	}
	switch st.Type {
	case "Task":
		timeout, err := intField(j.timeout, "TimeoutSeconds")
		if err != nil {
			return nil, err
		}
		return th.task(ctx, st, in, cx, float64(max(timeout, 0)))
	case "Parallel":
		return th.parallel(ctx, st, in)
	}
	items := in
	if j.items != nil {
		v, err := j.items.eval(env)
		if err != nil {
			return nil, err
		}
		items = v
	}
	arr, ok := items.([]any)
	if !ok {
		return nil, &Error{Name: ErrQueryEvaluationError, Cause: "The value for the field 'Items' must be a JSON array"}
	}
	limit, err := intField(j.maxConc, "MaxConcurrency")
	if err != nil {
		return nil, err
	}
	count, err := intField(j.tolCount, "ToleratedFailureCount")
	if err != nil {
		return nil, err
	}
	pct, err := intField(j.tolPct, "ToleratedFailurePercentage")
	if err != nil {
		return nil, err
	}
	tolerated := -1
	if count >= 0 || pct >= 0 {
		tolerated = tolerance(count, float64(pct), len(arr))
	}
	var selector func(sub *thread, i int, item any) (any, *Error)
	if j.itemSelector != nil {
		selector = func(sub *thread, i int, item any) (any, *Error) {
			icx := &contextObj{ex: th.ex, th: sub, state: st.Name, entered: cx.entered, inMap: true, itemIndex: i, itemValue: item}
			ienv := &jenv{states: map[string]any{"input": raw, "context": icx.value()}, vars: th.vars, th: sub}
			return j.itemSelector.eval(ienv)
		}
	}
	return th.runMap(ctx, st, arr, max(limit, 0), tolerated, selector)
}
