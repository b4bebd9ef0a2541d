package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	sfnapi "github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestStateMachinesFromADeploy: a deploy spec's state machine is served by
// the Step Functions API, and the admin API's sync start (strata sm start
// --sync) runs it on the node, its Task invoking a real wazero function of
// the project.
func TestStateMachinesFromADeploy(t *testing.T) {
	ctx := context.Background()
	n := startNode(t, "")
	guest := wasmtest.BuildGuest(t, "testdata/sfntask")
	sum := sha256.Sum256(guest)
	sha := hex.EncodeToString(sum[:])
	_, err := n.c.UploadBlob(ctx, sha, guest)
	require.NoError(t, err)
	spec := apitype.Spec{Project: "p",
		Functions: []apitype.FunctionSpec{{Name: "adder", ModuleSHA256: sha, Config: cfgOf(record.KindReactor)}},
		StateMachines: []apitype.StateMachineSpec{{Name: "sum", Type: record.StateMachineExpress,
			Definition: `{"StartAt":"Add","States":{"Add":{"Type":"Task","Resource":"adder","End":true}}}`}},
	}
	res, err := n.c.Deploy(ctx, spec, false)
	require.NoError(t, err)
	require.Contains(t, res.PlanText, "+ state machine sum (EXPRESS)")

	x, err := n.c.StateMachineStart(ctx, "p", "sum", apitype.StateMachineStart{Input: json.RawMessage(`{"a":2,"b":40}`), Sync: true})
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", x.Status, "%s: %s", x.Error, x.Cause)
	require.JSONEq(t, `{"sum":42}`, string(x.Output))

	d, err := sfnClient(n, projectToken(t, n, "p", record.ScopeRead), "us-east-1").DescribeStateMachine(ctx,
		&sfn.DescribeStateMachineInput{StateMachineArn: aws.String(sfnapi.MachineArn("p", "sum"))})
	require.NoError(t, err)
	require.Equal(t, spec.StateMachines[0].Definition, aws.ToString(d.Definition))

	// A new definition is run at once by this node: the deploy drops its
	// cached copy.
	spec.StateMachines[0].Definition = `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"v2","End":true}}}`
	_, err = n.c.Deploy(ctx, spec, false)
	require.NoError(t, err)
	x, err = n.c.StateMachineStart(ctx, "p", "sum", apitype.StateMachineStart{Sync: true})
	require.NoError(t, err)
	require.JSONEq(t, `"v2"`, string(x.Output))
}
