package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
)

const threeTasks = `{"StartAt":"One","States":{
 "One":{"Type":"Task","Resource":"adder","Parameters":{"a.$":"$.x","b":1},"ResultPath":"$.one","Next":"Two"},
 "Two":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:adder","Parameters":{"a.$":"$.one.sum","b":10},"ResultPath":"$.two","Next":"Three"},
 "Three":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"adder","Payload":{"a.$":"$.two.sum","b":100}},
   "ResultSelector":{"sum.$":"$.Payload.sum"},"End":true}}}`

// waitStatus polls DescribeExecution until the execution leaves RUNNING.
func waitStatus(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		require.NoError(t, err)
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
	}
	t.Fatalf("execution %s still running", arn)
	return nil
}

// logLine waits for a line of function fn's logs holding marker, and
// returns it.
func logLine(t *testing.T, n *node, fn, marker string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var line string
		_ = n.c.Logs(context.Background(), client.LogsParams{Function: fn}, func(e apitype.LogEntry) error {
			if strings.Contains(e.Line, marker) {
				line = e.Line
			}
			return nil
		})
		if line != "" {
			return line
		}
	}
	t.Fatalf("no log line of %s holds %q", fn, marker)
	return ""
}

func testStandard(t *testing.T, n *node, p, q *sfn.Client) {
	ctx := context.Background()
	standard := func(t *testing.T, name, def string) string {
		t.Helper()
		out, err := p.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/unused"), Type: types.StateMachineTypeStandard})
		require.NoError(t, err)
		return *out.StateMachineArn
	}

	t.Run("ThreeTasksWithHistory", func(t *testing.T) {
		arn := standard(t, "three-tasks", threeTasks)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("first"), Input: aws.String(`{"x":1}`)})
		require.NoError(t, err)
		require.True(t, strings.HasSuffix(*start.ExecutionArn, ":execution:three-tasks:first"), *start.ExecutionArn)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		require.JSONEq(t, `{"sum":112}`, aws.ToString(d.Output))
		require.Equal(t, "first", aws.ToString(d.Name))
		require.Equal(t, arn, aws.ToString(d.StateMachineArn))
		require.NotNil(t, d.StopDate)

		// Same name and input again: the same execution (AWS's
		// idempotency only holds while it runs; it has ended: refused).
		_, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("first"), Input: aws.String(`{"x":1}`)})
		var exists *types.ExecutionAlreadyExists
		require.ErrorAs(t, err, &exists)

		list, err := p.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		require.Len(t, list.Executions, 1)
		require.Equal(t, types.ExecutionStatusSucceeded, list.Executions[0].Status)
		list, err = p.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), StatusFilter: types.ExecutionStatusRunning})
		require.NoError(t, err)
		require.Empty(t, list.Executions)

		h, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		var typesSeen []string
		for i, e := range h.Events {
			typesSeen = append(typesSeen, string(e.Type))
			require.Equal(t, int64(i+1), e.Id)
			if i > 0 {
				require.Equal(t, int64(i), e.PreviousEventId)
			}
		}
		require.Equal(t, []string{"ExecutionStarted",
			"TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
			"TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
			"TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
			"ExecutionSucceeded"}, typesSeen)
		require.Equal(t, "lambda", aws.ToString(h.Events[12].TaskScheduledEventDetails.ResourceType))
		require.Equal(t, "invoke", aws.ToString(h.Events[12].TaskScheduledEventDetails.Resource))
		require.JSONEq(t, `{"sum":112}`, aws.ToString(h.Events[16].ExecutionSucceededEventDetails.Output))

		// Paged, newest first.
		page, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, ReverseOrder: true, MaxResults: 5})
		require.NoError(t, err)
		require.Len(t, page.Events, 5)
		require.Equal(t, types.HistoryEventTypeExecutionSucceeded, page.Events[0].Type)
		require.NotNil(t, page.NextToken)
		rest, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, ReverseOrder: true, NextToken: page.NextToken})
		require.NoError(t, err)
		require.Len(t, rest.Events, 12)
		require.Equal(t, types.HistoryEventTypeExecutionStarted, rest.Events[11].Type)

		// Another project sees none of it.
		_, err = q.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		var nx *types.ExecutionDoesNotExist
		require.ErrorAs(t, err, &nx)
		_, err = q.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.ErrorAs(t, err, &nx)
		_, err = q.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: start.ExecutionArn})
		require.ErrorAs(t, err, &nx)
	})

	t.Run("FailureAndCatch", func(t *testing.T) {
		arn := standard(t, "fails", `{"StartAt":"T","States":{
		 "T":{"Type":"Task","Resource":"adder","Parameters":{"fail":"no"},"Catch":[{"ErrorEquals":["BadInput"],"ResultPath":"$.err","Next":"F"}],"End":true},
		 "F":{"Type":"Fail","Error":"Caught","Cause":"the task failed and was caught"}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusFailed, d.Status)
		require.Equal(t, "Caught", aws.ToString(d.Error))
		require.Equal(t, "the task failed and was caught", aws.ToString(d.Cause))
	})

	t.Run("HistoryCap", func(t *testing.T) {
		// A loop that does not end fills the history: AWS's cap of
		// 25,000 events ends it, the 25,000th event its failure, and
		// the history read back stops there too.
		arn := standard(t, "endless", `{"StartAt":"T","States":{
		 "T":{"Type":"Task","Resource":"adder","Parameters":{"a":1,"b":2},"ResultPath":"$.sum","Next":"A"},
		 "A":{"Type":"Pass","Next":"C"},
		 "C":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"E"}],"Default":"A"},
		 "E":{"Type":"Succeed"}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusFailed, d.Status)
		require.Equal(t, "States.Runtime", aws.ToString(d.Error))
		require.Contains(t, aws.ToString(d.Cause), "maximum number of events in its history (25000)")

		page, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, ReverseOrder: true, MaxResults: 3})
		require.NoError(t, err)
		require.Equal(t, types.HistoryEventTypeExecutionFailed, page.Events[0].Type)
		require.Equal(t, int64(25000), page.Events[0].Id)
		require.Equal(t, "States.Runtime", aws.ToString(page.Events[0].ExecutionFailedEventDetails.Error))
		require.Equal(t, int64(24999), page.Events[1].Id)
	})

	t.Run("Redrive", func(t *testing.T) {
		// A Parallel whose first branch succeeds and whose second (a
		// callback) fails: a redrive runs the failed branch again and
		// not the other, and the execution then succeeds.
		arn := standard(t, "redrive", `{"StartAt":"P","States":{
		 "P":{"Type":"Parallel","Next":"After","Branches":[
		   {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"adder","Parameters":{"a":1,"b":2,"log":"redrive-branch-a ran"},"End":true}}},
		   {"StartAt":"Ask","States":{"Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		     "Parameters":{"FunctionName":"adder","Payload":{"a":1,"b":2,"log.$":"States.Format('redrive token={}', $$.Task.Token)"}},"End":true}}}]},
		 "After":{"Type":"Pass","Parameters":{"a.$":"$[0].sum","ok.$":"$[1].ok"},"End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("again")})
		require.NoError(t, err)
		line := logLine(t, n, "adder", "redrive token=")
		token := strings.TrimSpace(line[strings.Index(line, "redrive token=")+len("redrive token="):])

		// Not redrivable while it runs.
		_, err = p.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: start.ExecutionArn})
		var notRedrivable *types.ExecutionNotRedrivable
		require.ErrorAs(t, err, &notRedrivable)
		require.Contains(t, err.Error(), "Execution is RUNNING and cannot be redriven")

		_, err = p.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("Busy"), Cause: aws.String("try later")})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusFailed, d.Status)
		require.Equal(t, "Busy", aws.ToString(d.Error))
		require.Equal(t, types.ExecutionRedriveStatusRedrivable, d.RedriveStatus)
		require.Equal(t, int32(0), aws.ToInt32(d.RedriveCount))

		// Another project cannot see it, so cannot redrive it.
		_, err = q.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: start.ExecutionArn})
		var nx *types.ExecutionDoesNotExist
		require.ErrorAs(t, err, &nx)

		out, err := p.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: start.ExecutionArn, ClientToken: aws.String("redrive-1")})
		require.NoError(t, err)
		require.NotNil(t, out.RedriveDate)
		// The same request again is the same redrive; a new one is refused.
		_, err = p.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: start.ExecutionArn, ClientToken: aws.String("redrive-1")})
		require.NoError(t, err)
		_, err = p.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: start.ExecutionArn, ClientToken: aws.String("redrive-2")})
		require.ErrorAs(t, err, &notRedrivable)

		// The callback runs again (its function hands out the token
		// again); the other branch does not.
		waitLines := func(marker string, want int) int {
			var got int
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				got = 0
				_ = n.c.Logs(ctx, client.LogsParams{Function: "adder"}, func(e apitype.LogEntry) error {
					if strings.Contains(e.Line, marker) {
						got++
					}
					return nil
				})
				if got >= want {
					break
				}
			}
			return got
		}
		require.Equal(t, 2, waitLines("redrive token="+token, 2))
		_, err = p.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"ok":true}`)})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		require.JSONEq(t, `{"a":3,"ok":true}`, aws.ToString(d.Output))
		require.Equal(t, int32(1), aws.ToInt32(d.RedriveCount))
		require.NotNil(t, d.RedriveDate)
		require.Equal(t, types.ExecutionRedriveStatusNotRedrivable, d.RedriveStatus)
		require.Equal(t, "Execution is SUCCEEDED and cannot be redriven", aws.ToString(d.RedriveStatusReason))
		require.Equal(t, 1, waitLines("redrive-branch-a ran", 1), "the branch that succeeded ran once")

		h, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		var redriven *types.HistoryEvent
		for i := range h.Events {
			if h.Events[i].Type == types.HistoryEventTypeExecutionRedriven {
				redriven = &h.Events[i]
			}
		}
		require.NotNil(t, redriven, "the history shows the redrive")
		require.Equal(t, int32(1), aws.ToInt32(redriven.ExecutionRedrivenEventDetails.RedriveCount))
		require.Equal(t, types.HistoryEventTypeExecutionSucceeded, h.Events[len(h.Events)-1].Type)

		_, err = p.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: start.ExecutionArn})
		require.ErrorAs(t, err, &notRedrivable)
	})

	t.Run("RandomIntrinsicsReplayTheSame", func(t *testing.T) {
		// States.UUID and States.MathRandom drawn before a Wait that ends
		// the pass (longer than the engine's in-memory hold) must have
		// the same values after it, when the pass is replayed from the
		// records: what the Task was given is what the execution ends
		// with, and what its history shows.
		arn := standard(t, "minted", `{"StartAt":"Mint","States":{
		 "Mint":{"Type":"Pass","Parameters":{"id.$":"States.UUID()","r.$":"States.MathRandom(0, 1000000000)"},"ResultPath":"$.minted","Next":"Tell"},
		 "Tell":{"Type":"Task","Resource":"adder","Parameters":{"a":1,"b":2,"log.$":"States.Format('minted {} {}', $.minted.id, $.minted.r)"},"ResultPath":"$.told","Next":"Nap"},
		 "Nap":{"Type":"Wait","Seconds":3,"Next":"Done"},
		 "Done":{"Type":"Pass","OutputPath":"$.minted","End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		var out struct {
			ID string  `json:"id"`
			R  float64 `json:"r"`
		}
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, out.ID)
		line := logLine(t, n, "adder", "minted ")
		require.True(t, strings.HasSuffix(line, fmt.Sprintf("minted %s %d", out.ID, int64(out.R))),
			"the Task was given %q; the execution ended with %s", line, aws.ToString(d.Output))
		h, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		var minted bool
		for _, e := range h.Events {
			if e.StateExitedEventDetails != nil && aws.ToString(e.StateExitedEventDetails.Name) == "Mint" {
				require.Contains(t, aws.ToString(e.StateExitedEventDetails.Output), out.ID, "the history replays the same draw")
				minted = true
			}
		}
		require.True(t, minted, "the history has Mint's exit")

		// Another execution draws other values.
		again, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d2 := waitStatus(t, p, *again.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d2.Status)
		require.NotContains(t, aws.ToString(d2.Output), out.ID)
	})

	t.Run("JSONataRandomAndNowReplayTheSame", func(t *testing.T) {
		// JSONata's $random() and $now() evaluated before a Wait that
		// ends the pass give the same values when the pass is replayed
		// after it: what the Task was given is what the execution ends
		// with and what its history shows.
		arn := standard(t, "minted-j", `{"QueryLanguage":"JSONata","StartAt":"Mint","States":{
		 "Mint":{"Type":"Pass","Output":{"r":"{% $string($random()) %}","t":"{% $now() %}"},"Next":"Tell"},
		 "Tell":{"Type":"Task","Resource":"adder","Arguments":{"a":1,"b":2,"log":"{% 'minted ' & $states.input.r & ' ' & $states.input.t %}"},"Output":"{% $states.input %}","Next":"Nap"},
		 "Nap":{"Type":"Wait","Seconds":3,"Next":"Done"},
		 "Done":{"Type":"Pass","End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		var out struct{ R, T string }
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
		_, err = time.Parse(time.RFC3339Nano, out.T)
		require.NoError(t, err, "$now() is an ISO 8601 time: %q", out.T)
		line := logLine(t, n, "adder", "minted ")
		require.True(t, strings.HasSuffix(line, "minted "+out.R+" "+out.T),
			"the Task was given %q; the execution ended with %s", line, aws.ToString(d.Output))
		h, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		var minted bool
		for _, e := range h.Events {
			if e.StateExitedEventDetails != nil && aws.ToString(e.StateExitedEventDetails.Name) == "Mint" {
				require.Contains(t, aws.ToString(e.StateExitedEventDetails.Output), out.R, "the history replays the same draw")
				require.Contains(t, aws.ToString(e.StateExitedEventDetails.Output), out.T, "the history replays the same time")
				minted = true
			}
		}
		require.True(t, minted, "the history has Mint's exit")
	})

	t.Run("CallbackWithTaskToken", func(t *testing.T) {
		arn := standard(t, "approve", `{"StartAt":"Ask","States":{
		 "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		   "Parameters":{"FunctionName":"adder","Payload":{"a":1,"b":2,"log.$":"States.Format('approval token={}', $$.Task.Token)"}},
		   "ResultPath":"$.answer","Next":"Done"},
		 "Done":{"Type":"Pass","End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"order":7}`)})
		require.NoError(t, err)
		line := logLine(t, n, "adder", "approval token=")
		token := strings.TrimSpace(line[strings.Index(line, "approval token=")+len("approval token="):])
		d, err := p.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		require.Equal(t, types.ExecutionStatusRunning, d.Status, "it waits for the callback")

		// Another project's caller cannot complete it.
		_, err = q.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"ok":"stolen"}`)})
		var noTask *types.TaskDoesNotExist
		require.ErrorAs(t, err, &noTask)
		_, err = p.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("garbage"), Output: aws.String(`{}`)})
		var bad *types.InvalidToken
		require.ErrorAs(t, err, &bad)
		_, err = p.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{not json`)})
		var badOut *types.InvalidOutput
		require.ErrorAs(t, err, &badOut)

		_, err = p.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)})
		require.NoError(t, err)
		_, err = p.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approved":true}`)})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		require.JSONEq(t, `{"order":7,"answer":{"approved":true}}`, aws.ToString(d.Output))
		// The token was used.
		_, err = p.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{}`)})
		var timedOut *types.TaskTimedOut
		require.ErrorAs(t, err, &timedOut)
	})

	t.Run("HeartbeatTimeoutAndFailure", func(t *testing.T) {
		arn := standard(t, "beats", `{"StartAt":"Ask","States":{
		 "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","HeartbeatSeconds":1,
		   "Parameters":{"FunctionName":"adder","Payload":{"a":1,"b":2}},"End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusFailed, d.Status)
		require.Equal(t, "States.HeartbeatTimeout", aws.ToString(d.Error))

		arn = standard(t, "refused", `{"StartAt":"Ask","States":{
		 "Ask":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken",
		   "Parameters":{"FunctionName":"adder","Payload":{"a":1,"b":2,"log.$":"States.Format('refuse token={}', $$.Task.Token)"}},"End":true}}}`)
		start, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		line := logLine(t, n, "adder", "refuse token=")
		token := strings.TrimSpace(line[strings.Index(line, "refuse token=")+len("refuse token="):])
		_, err = p.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("Rejected"), Cause: aws.String("no budget")})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusFailed, d.Status)
		require.Equal(t, "Rejected", aws.ToString(d.Error))
		require.Equal(t, "no budget", aws.ToString(d.Cause))
	})

	t.Run("WaitStopAndTimeout", func(t *testing.T) {
		arn := standard(t, "sleepy", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("long")})
		require.NoError(t, err)
		// Same name and input while it runs: the same execution.
		again, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("long")})
		require.NoError(t, err)
		require.Equal(t, *start.ExecutionArn, *again.ExecutionArn)
		_, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String("long"), Input: aws.String(`{"other":1}`)})
		var exists *types.ExecutionAlreadyExists
		require.ErrorAs(t, err, &exists)
		h, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		require.Equal(t, types.HistoryEventTypeWaitStateEntered, h.Events[len(h.Events)-1].Type, "the history ends where the execution is")
		_, err = p.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: start.ExecutionArn, Error: aws.String("Operator"), Cause: aws.String("not needed")})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusAborted, d.Status)
		require.Equal(t, "Operator", aws.ToString(d.Error))
		h, err = p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
		require.NoError(t, err)
		require.Equal(t, types.HistoryEventTypeExecutionAborted, h.Events[len(h.Events)-1].Type)

		arn = standard(t, "late", `{"TimeoutSeconds":1,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"End":true}}}`)
		start, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusTimedOut, d.Status)
		require.Equal(t, "States.Timeout", aws.ToString(d.Error))
	})

	t.Run("ParallelAndMap", func(t *testing.T) {
		arn := standard(t, "fan", `{"StartAt":"P","States":{
		 "P":{"Type":"Parallel","Branches":[
		   {"StartAt":"B1","States":{"B1":{"Type":"Task","Resource":"adder","Parameters":{"a":1,"b":1},"End":true}}},
		   {"StartAt":"B2","States":{"B2":{"Type":"Wait","Seconds":1,"Next":"B3"},"B3":{"Type":"Task","Resource":"adder","Parameters":{"a":2,"b":2},"End":true}}}],
		  "ResultPath":"$.par","Next":"M"},
		 "M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ItemProcessor":{"StartAt":"I","States":{
		   "I":{"Type":"Task","Resource":"adder","Parameters":{"a.$":"$","b":1000},"Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":2,"IntervalSeconds":1}],"End":true}}},
		  "ResultPath":"$.mapped","End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"items":[1,2,3,4,5]}`)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		var out struct {
			Par    []map[string]int
			Mapped []map[string]int
		}
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
		require.Equal(t, []map[string]int{{"sum": 2}, {"sum": 4}}, out.Par)
		require.Len(t, out.Mapped, 5)
		for i, m := range out.Mapped {
			require.Equal(t, 1001+i, m["sum"])
		}
		h, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 1000})
		require.NoError(t, err)
		counts := map[types.HistoryEventType]int{}
		for _, e := range h.Events {
			counts[e.Type]++
		}
		require.Equal(t, 5, counts[types.HistoryEventTypeMapIterationSucceeded], "%v", counts)
		require.Equal(t, 1, counts[types.HistoryEventTypeParallelStateSucceeded])
		require.Equal(t, 7, counts[types.HistoryEventTypeLambdaFunctionSucceeded])
		// The same history on every call (branches replay concurrently).
		for range 3 {
			again, err := p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 1000})
			require.NoError(t, err)
			require.Equal(t, len(h.Events), len(again.Events))
			for i := range h.Events {
				require.Equal(t, h.Events[i].Type, again.Events[i].Type, "event %d", i+1)
				require.Equal(t, h.Events[i].PreviousEventId, again.Events[i].PreviousEventId, "event %d", i+1)
			}
		}

		// A branch fails while its sibling waits: the sibling is cut, the
		// Catch runs, and the history shows all of it.
		arn = standard(t, "fan-fail", `{"StartAt":"P","States":{
		 "P":{"Type":"Parallel","Branches":[
		   {"StartAt":"Slow","States":{"Slow":{"Type":"Wait","Seconds":3600,"End":true}}},
		   {"StartAt":"Bad","States":{"Bad":{"Type":"Task","Resource":"adder","Parameters":{"fail":"no"},"End":true}}}],
		  "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"Handled"}],"End":true},
		 "Handled":{"Type":"Pass","Result":"handled","ResultPath":"$.r","End":true}}}`)
		start, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		h, err = p.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn, MaxResults: 1000})
		require.NoError(t, err)
		var seen []string
		for _, e := range h.Events {
			seen = append(seen, string(e.Type))
		}
		require.Contains(t, seen, "ParallelStateFailed")
		require.Contains(t, seen, "PassStateEntered")
		require.Equal(t, "ExecutionSucceeded", seen[len(seen)-1], "%v", seen)
	})

	t.Run("StartExecutionSync", func(t *testing.T) {
		child := standard(t, "child", `{"StartAt":"Add","States":{"Add":{"Type":"Task","Resource":"adder","Parameters":{"a.$":"$.n","b":1},"Next":"Check"},
		 "Check":{"Type":"Choice","Choices":[{"Variable":"$.sum","NumericGreaterThan":100,"Next":"TooBig"}],"Default":"Ok"},
		 "TooBig":{"Type":"Fail","Error":"TooBig","Cause":"over 100"},"Ok":{"Type":"Succeed"}}}`)
		parent := standard(t, "parent", `{"StartAt":"Run","States":{
		 "Run":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2",
		   "Parameters":{"StateMachineArn":"`+child+`","Input":{"n.$":"$.n"}},
		   "ResultSelector":{"out.$":"$.Output","status.$":"$.Status"},"ResultPath":"$.child",
		   "Catch":[{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.failed","Next":"Failed"}],"Next":"Fire"},
		 "Fire":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution",
		   "Parameters":{"StateMachineArn":"`+child+`","Input":{"n":1},"Name.$":"States.Format('fired-{}', $.n)"},"ResultPath":"$.fired","End":true},
		 "Failed":{"Type":"Pass","Parameters":{"cause.$":"States.StringToJson($.failed.Cause)"},"End":true}}}`)
		start, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(parent), Input: aws.String(`{"n":41}`)})
		require.NoError(t, err)
		d := waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		var out struct {
			Child struct {
				Out    map[string]any `json:"out"`
				Status string         `json:"status"`
			} `json:"child"`
			Fired struct{ ExecutionArn string }
		}
		require.NoError(t, json.Unmarshal([]byte(aws.ToString(d.Output)), &out))
		require.Equal(t, "SUCCEEDED", out.Child.Status)
		require.Equal(t, map[string]any{"sum": float64(42)}, out.Child.Out)
		require.True(t, strings.HasSuffix(out.Fired.ExecutionArn, ":execution:child:fired-41"), out.Fired.ExecutionArn)
		fired := waitStatus(t, p, out.Fired.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, fired.Status)
		// Both children are the child machine's executions.
		list, err := p.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(child)})
		require.NoError(t, err)
		require.Len(t, list.Executions, 2)

		// A child that fails fails the .sync Task with States.TaskFailed,
		// its description as the cause.
		start, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(parent), Input: aws.String(`{"n":500}`)})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
		require.Contains(t, aws.ToString(d.Output), `"Error":"TooBig"`)
		require.Contains(t, aws.ToString(d.Output), `"Status":"FAILED"`)

		// Another project's machine is not reachable by ARN.
		qm, err := q.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("q-target"), Definition: aws.String(threePass),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/unused"), Type: types.StateMachineTypeStandard})
		require.NoError(t, err)
		thief := standard(t, "thief", `{"StartAt":"Run","States":{"Run":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution","Parameters":{"StateMachineArn":"`+*qm.StateMachineArn+`"},"End":true}}}`)
		start, err = p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(thief)})
		require.NoError(t, err)
		d = waitStatus(t, p, *start.ExecutionArn)
		require.Equal(t, types.ExecutionStatusFailed, d.Status)
		require.Equal(t, "StepFunctions.StateMachineDoesNotExistException", aws.ToString(d.Error))
		list, err = q.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: qm.StateMachineArn})
		require.NoError(t, err)
		require.Empty(t, list.Executions)
	})
}
