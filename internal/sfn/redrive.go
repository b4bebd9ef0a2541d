package sfn

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Redrive (RedriveExecution) continues a STANDARD execution that failed,
// timed out or was aborted, from where it stopped: what succeeded is
// kept and not run again, the states that failed run again (in a
// Parallel or Map, only the branches and iterations that did not
// succeed), with the execution's input, definition and ARN.
//
// On the flow core a redrive reopens the execution and drops the records
// of the failed states' effects (flow.Engine.Redrive), in one commit. The
// records to drop come from a replay of the execution over its records
// (as its history is): the interpreter names every thread that ended
// with an error and where the state that failed it began
// (asl.Options.OnStateFailed); the thread's records from there on are
// dropped, for the threads on the failure's path only — a Map iteration
// whose failure the Map tolerated, or a branch failure a Catch handled,
// is history that stays.

// redrivablePeriod is how long after its end an execution can be
// redriven, as at AWS.
const redrivablePeriod = 14 * 24 * time.Hour

// maxRedrives bounds how often one execution is redriven (AWS: 1,000).
const maxRedrives = 1000

const errNotRedrivable = "ExecutionNotRedrivable"

// redriveState is what an execution's history says about its redrives.
type redriveState struct {
	count int
	last  time.Time // zero: never redriven
	token string    // the last redrive's client token
}

func redrivesOf(evs []record.FlowEvent) redriveState {
	var rs redriveState
	for _, ev := range evs {
		if ev.Type == flow.EvRestarted {
			rs.count++
			rs.last = ev.Time
			_, rs.token = flow.Restarted(ev)
		}
	}
	return rs
}

// notRedrivable is why ex cannot be redriven now, in AWS's words, or "".
func notRedrivable(ex *record.FlowExecution, status, cause string, rs redriveState, now time.Time) string {
	switch {
	case status == "RUNNING" || status == "SUCCEEDED":
		return "Execution is " + status + " and cannot be redriven"
	case strings.Contains(cause, "maximum number of events in its history"):
		return "Execution history event limit exceeded"
	case !ex.ClosedAt.IsZero() && now.Sub(ex.ClosedAt) > redrivablePeriod:
		return "Execution redrivable period exceeded"
	case rs.count >= maxRedrives:
		return "Execution redrive count limit exceeded"
	}
	return ""
}

type redriveInput struct {
	ExecutionArn string `json:"executionArn"`
	ClientToken  string `json:"clientToken"`
}

func (h *Handler) redriveExecution(ctx context.Context, c *caller, body []byte) (any, error) {
	var in redriveInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.ClientToken) > 64 {
		return nil, errorf(errValidation, "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 64")
	}
	ex, _, _, err := h.execution(ctx, c, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	evs, err := h.cfg.Executions.History(ctx, c.project, ex.ID, 0)
	if err != nil {
		return nil, err
	}
	rs := redrivesOf(evs)
	status, _, cause := awsStatus(ex)
	// The same request again (the SDKs retry with the same token): the
	// redrive it asked for happened.
	if in.ClientToken != "" && rs.token == in.ClientToken && status == "RUNNING" {
		return redriveOutput{epoch(rs.last)}, nil
	}
	if why := notRedrivable(ex, status, cause, rs, time.Now()); why != "" {
		return nil, errorf(errNotRedrivable, "%s", why)
	}
	forget, err := h.redriveKeys(ctx, c.project, ex)
	if err != nil {
		return nil, err
	}
	out, err := h.cfg.Executions.Redrive(ctx, c.project, ex.ID, forget, in.ClientToken)
	if err != nil {
		if errors.Is(err, store.ErrRunning) || errors.Is(err, flow.ErrBadInput) {
			return nil, errorf(errNotRedrivable, "Execution is RUNNING and cannot be redriven")
		}
		if isNotFound(err) {
			return nil, errorf(errExecutionDoesNotExist, "Execution Does Not Exist: '%s'", in.ExecutionArn)
		}
		return nil, err
	}
	return redriveOutput{epoch(out.UpdatedAt)}, nil
}

type redriveOutput struct {
	RedriveDate epoch `json:"redriveDate"`
}

// redriveKeys lists the records a redrive of ex drops: in every thread
// on the failure's path, the records from the start of the state that
// failed it.
func (h *Handler) redriveKeys(ctx context.Context, project string, ex *record.FlowExecution) ([]string, error) {
	failed := map[string]int{} // thread path → its effects before the failed state
	var recs []string
	_, err := h.replay(ctx, project, ex, func(path string, seq int) {
		if old, ok := failed[path]; !ok || seq < old {
			failed[path] = seq
		}
	}, func(keys []string) { recs = keys })
	if err != nil {
		return nil, err
	}
	var onPath func(path string) bool
	onPath = func(path string) bool {
		seq, ok := failed[path]
		if !ok {
			return false
		}
		if path == "r" {
			return true
		}
		parent, k, ok := spawnedBy(path)
		if !ok {
			return false
		}
		ps, pok := failed[parent]
		return pok && ps < k && seq >= 0 && onPath(parent)
	}
	var forget []string
	for _, key := range recs {
		path, seq, ok := effectOf(key)
		if !ok {
			continue
		}
		if from, failedHere := failed[path]; failedHere && seq > from && onPath(path) {
			forget = append(forget, key)
		}
	}
	return forget, nil
}

// effectOf splits a record key of the interpreter (asl.TaskCall.Key, and
// the callback's derived keys: key^ when it started, key~n for its
// heartbeats) into its thread and the effect's count in it.
func effectOf(key string) (path string, seq int, ok bool) {
	if i := strings.IndexAny(key, "^~"); i >= 0 {
		key = key[:i]
	}
	i := strings.LastIndexByte(key, ':')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(key[i+1:])
	if err != nil {
		return "", 0, false
	}
	return key[:i], n, true
}

// spawnedBy is the thread that started a branch or iteration thread and
// the count of the effect that did ("r:5b1" → "r", 5).
func spawnedBy(path string) (parent string, seq int, ok bool) {
	end := len(path)
	for end > 0 && path[end-1] >= '0' && path[end-1] <= '9' {
		end--
	}
	if end == len(path) || end == 0 || (path[end-1] != 'b' && path[end-1] != 'm') {
		return "", 0, false
	}
	return effectOf(path[:end-1])
}

// redriveStatus is DescribeExecution's view of whether ex can be redriven.
func redriveStatus(ex *record.FlowExecution, status, cause string, rs redriveState) (string, string) {
	if why := notRedrivable(ex, status, cause, rs, time.Now()); why != "" {
		return "NOT_REDRIVABLE", why
	}
	return "REDRIVABLE", ""
}
