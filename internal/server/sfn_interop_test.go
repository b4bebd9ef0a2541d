package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestStateMachinesFromCode: a function starts a state machine
// (flow.Start with states.Machine), a workflow as code runs one as its
// child and gets its output (flow.Child), and neither reaches another
// project's machine of the same name.
func TestStateMachinesFromCode(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	adder := wasmtest.BuildGuest(t, "testdata/sfntask")
	smflow := wasmtest.BuildGuest(t, "testdata/smflow")
	flows := cfgOf(record.KindReactor)
	flows.TimeoutMS = 30_000
	flows.Workflows = []record.WorkflowConfig{{Name: "callsm"}}
	require.NoError(t, n.deploy(t, "w", fn{name: "adder", wasm: adder, config: cfgOf(record.KindReactor)},
		fn{name: "smflow", wasm: smflow, config: flows, routes: []apitype.RouteSpec{{Method: "POST", Path: "/start"}}}))
	require.NoError(t, n.deploy(t, "other", fn{name: "other-adder", wasm: adder, config: cfgOf(record.KindReactor)}))
	w := sfnClient(n, projectToken(t, n, "w", record.ScopeDeploy), "us-east-1")
	other := sfnClient(n, projectToken(t, n, "other", record.ScopeDeploy), "us-east-1")
	childDef := `{"StartAt":"Add","States":{"Add":{"Type":"Task","Resource":"adder","Parameters":{"a.$":"$.n","b":1},"End":true}}}`
	out, err := w.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("child"), Definition: aws.String(childDef),
		RoleArn: aws.String("unused"), Type: types.StateMachineTypeStandard})
	require.NoError(t, err)
	childArn := *out.StateMachineArn
	// Project other has a machine "child" too, whose executions must not
	// be started by project w's code.
	otherOut, err := other.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("child"), Definition: aws.String(strings.ReplaceAll(childDef, `"adder"`, `"other-adder"`)),
		RoleArn: aws.String("unused"), Type: types.StateMachineTypeStandard})
	require.NoError(t, err)

	// A function starts an execution by name.
	code, _, body := get(t, n.url+"/start?machine=child&name=from-fn", []byte(`{"n":5}`))
	require.Equal(t, 200, code, body)
	arn := strings.Replace(childArn, ":stateMachine:", ":execution:", 1) + ":from-fn"
	d := waitStatus(t, w, arn)
	require.Equal(t, types.ExecutionStatusSucceeded, d.Status, "%v %v", aws.ToString(d.Error), aws.ToString(d.Cause))
	require.JSONEq(t, `{"sum":6}`, aws.ToString(d.Output))

	// A workflow runs the machine as its child and returns its output.
	ex, _, err := n.c.ExecutionStart(ctx, "callsm", "wf-1", []byte(`{"n":41}`))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := n.c.Execution(ctx, ex.ID)
		return err == nil && got.Status != record.FlowRunning
	}, 20*time.Second, 20*time.Millisecond)
	got, err := n.c.Execution(ctx, ex.ID)
	require.NoError(t, err)
	require.Equal(t, record.FlowCompleted, got.Status, "%s", got.Error)
	var res map[string]float64
	require.NoError(t, json.Unmarshal(got.Output, &res))
	require.Equal(t, map[string]float64{"sum": 42}, res)

	// Nothing ran in project other.
	list, err := other.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: otherOut.StateMachineArn})
	require.NoError(t, err)
	require.Empty(t, list.Executions)
	list, err = w.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(childArn)})
	require.NoError(t, err)
	require.Len(t, list.Executions, 2)
}
