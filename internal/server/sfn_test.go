package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// disableHostPrefix is the client option docs/stepfunctions.md gives:
// without it the SDK sends StartSyncExecution to sync-<host>, which a
// loopback address (or a name without a sync- DNS record) cannot reach.
func disableHostPrefix(o *sfn.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("StrataDisableHostPrefix",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
	})
}

// sfnClient is the real AWS SDK client pointed at n, with token as the
// access key id (the secret is ignored by Strata).
func sfnClient(n *node, token, region string) *sfn.Client {
	return sfn.New(sfn.Options{
		Region:       region,
		BaseEndpoint: aws.String(n.url),
		Credentials:  credentials.NewStaticCredentialsProvider(token, "ignored-secret", ""),
		// One try: a refusal must show as it is, not be retried.
		RetryMaxAttempts: 1,
	}, disableHostPrefix)
}

func projectToken(t *testing.T, n *node, project, scope string) string {
	t.Helper()
	tok, err := n.c.TokenCreate(context.Background(), apitype.TokenCreateRequest{Name: project + "-" + scope, Project: project, Scope: scope})
	require.NoError(t, err)
	return tok.Token
}

// sfnPost sends one raw AWS JSON 1.0 request and returns the answer.
func sfnPost(t *testing.T, url, op, auth, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AWSStepFunctions."+op)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// apiErrorCode is the AWS error type of err ("" if it is not one).
func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

const threePass = `{"StartAt":"A","States":{
 "A":{"Type":"Pass","Result":1,"ResultPath":"$.a","Next":"B"},
 "B":{"Type":"Pass","Result":2,"ResultPath":"$.b","Next":"C"},
 "C":{"Type":"Pass","Parameters":{"a.$":"$.a","b.$":"$.b","in.$":"$.in"},"End":true}}}`

// TestStepFunctionsWithTheAWSSDK drives the Step Functions API with the
// real AWS SDK for Go v2 against a real node (SQLite store, wazero
// functions).
func TestStepFunctionsWithTheAWSSDK(t *testing.T) {
	testStepFunctions(t, startNode(t, ""))
}

// TestStepFunctionsOnPostgres is the same on a node whose store is
// PostgreSQL.
func TestStepFunctionsOnPostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	testStepFunctions(t, startNode(t, withSearchPath(pg, testSchema(t, pg))))
}

func testStepFunctions(t *testing.T, n *node) {
	guest := wasmtest.BuildGuest(t, "testdata/sfntask")
	require.NoError(t, n.deploy(t, "p", fn{name: "adder", wasm: guest, config: cfgOf(record.KindReactor)}))
	require.NoError(t, n.deploy(t, "q", fn{name: "q-adder", wasm: guest, config: cfgOf(record.KindReactor)}))
	ctx := context.Background()
	p := sfnClient(n, projectToken(t, n, "p", record.ScopeDeploy), "us-east-1")
	q := sfnClient(n, projectToken(t, n, "q", record.ScopeDeploy), "us-east-1")

	create := func(t *testing.T, c *sfn.Client, name, def string) string {
		t.Helper()
		out, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/unused"), Type: types.StateMachineTypeExpress})
		require.NoError(t, err)
		return *out.StateMachineArn
	}
	runSync := func(t *testing.T, c *sfn.Client, arn, input string) *sfn.StartSyncExecutionOutput {
		t.Helper()
		out, err := c.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(input)})
		require.NoError(t, err)
		return out
	}

	t.Run("CreateDescribeListUpdateDelete", func(t *testing.T) {
		arn := create(t, p, "crud", threePass)
		require.True(t, strings.HasPrefix(arn, "arn:aws:states:strata:"), arn)
		require.True(t, strings.HasSuffix(arn, ":stateMachine:crud"), arn)
		again := create(t, p, "crud", threePass)
		require.Equal(t, arn, again, "an identical create is idempotent, as at AWS")
		_, err := p.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("crud"), Definition: aws.String(`{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}`),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/unused"), Type: types.StateMachineTypeExpress})
		var exists *types.StateMachineAlreadyExists
		require.ErrorAs(t, err, &exists)

		d, err := p.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		require.Equal(t, "crud", *d.Name)
		require.Equal(t, threePass, *d.Definition)
		require.Equal(t, types.StateMachineTypeExpress, d.Type)
		require.Equal(t, types.StateMachineStatusActive, d.Status)
		require.False(t, d.CreationDate.IsZero())

		up, err := p.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn),
			Definition: aws.String(`{"StartAt":"X","States":{"X":{"Type":"Succeed"}}}`)})
		require.NoError(t, err)
		require.Equal(t, "2", *up.RevisionId)
		_, err = p.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(`{"StartAt":"Nope","States":{}}`)})
		var invalid *types.InvalidDefinition
		require.ErrorAs(t, err, &invalid)

		// This node runs the new definition at once.
		out := runSync(t, p, arn, `{}`)
		require.Equal(t, types.SyncExecutionStatusSucceeded, out.Status)
		require.JSONEq(t, `{}`, *out.Output, "the updated definition (one Succeed state) ran")

		for i := range 3 {
			create(t, p, fmt.Sprintf("page-%d", i), threePass)
		}
		var names []string
		pager := sfn.NewListStateMachinesPaginator(p, &sfn.ListStateMachinesInput{MaxResults: 2})
		pages := 0
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			require.NoError(t, err)
			pages++
			for _, m := range page.StateMachines {
				names = append(names, *m.Name)
			}
		}
		require.Equal(t, []string{"crud", "page-0", "page-1", "page-2"}, names)
		require.Equal(t, 2, pages)

		_, err = p.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(arn)})
		require.NoError(t, err)
		_, err = p.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
		var missing *types.StateMachineDoesNotExist
		require.ErrorAs(t, err, &missing)
	})

	t.Run("Validate", func(t *testing.T) {
		ok, err := p.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{Definition: aws.String(threePass)})
		require.NoError(t, err)
		require.Equal(t, types.ValidateStateMachineDefinitionResultCodeOk, ok.Result)
		require.Empty(t, ok.Diagnostics)
		bad, err := p.ValidateStateMachineDefinition(ctx, &sfn.ValidateStateMachineDefinitionInput{
			Definition: aws.String(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Missing"}}}`)})
		require.NoError(t, err)
		require.Equal(t, types.ValidateStateMachineDefinitionResultCodeFail, bad.Result)
		require.NotEmpty(t, bad.Diagnostics)
		require.Equal(t, "MISSING_TRANSITION_TARGET", *bad.Diagnostics[0].Code)
		require.Equal(t, types.ValidateStateMachineDefinitionSeverityError, bad.Diagnostics[0].Severity)
		require.Equal(t, "/States/A/Next", *bad.Diagnostics[0].Location)
	})

	t.Run("SyncThreePass", func(t *testing.T) {
		arn := create(t, p, "three", threePass)
		out := runSync(t, p, arn, `{"in":"x"}`)
		require.Equal(t, types.SyncExecutionStatusSucceeded, out.Status)
		require.JSONEq(t, `{"a":1,"b":2,"in":"x"}`, *out.Output)
		require.True(t, strings.Contains(*out.ExecutionArn, ":express:three:"), *out.ExecutionArn)
		require.Equal(t, arn, *out.StateMachineArn)
	})

	t.Run("TaskCallsAFunction", func(t *testing.T) {
		arn := create(t, p, "tasks", `{"StartAt":"Plain","States":{
 "Plain":{"Type":"Task","Resource":"adder","ResultPath":"$.plain","Next":"Arn"},
 "Arn":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:adder","ResultPath":"$.arn","Next":"Invoke"},
 "Invoke":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"adder","Payload":{"a":10,"b.$":"$.b"}},"ResultSelector":{"p.$":"$.Payload","s.$":"$.StatusCode"},"ResultPath":"$.invoke","End":true}}}`)
		out := runSync(t, p, arn, `{"a":1,"b":2}`)
		require.Equal(t, types.SyncExecutionStatusSucceeded, out.Status, "%v %v", aws.ToString(out.Error), aws.ToString(out.Cause))
		require.JSONEq(t, `{"a":1,"b":2,"plain":{"sum":3},"arn":{"sum":3},"invoke":{"p":{"sum":12},"s":200}}`, *out.Output)
	})

	t.Run("LambdaInvokeWrapper", func(t *testing.T) {
		arn := create(t, p, "wrapper", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:adder:$LATEST","Payload.$":"$"},"End":true}}}`)
		out := runSync(t, p, arn, `{"a":2,"b":3}`)
		require.Equal(t, types.SyncExecutionStatusSucceeded, out.Status, "%v %v", aws.ToString(out.Error), aws.ToString(out.Cause))
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(*out.Output), &got))
		require.JSONEq(t, `{"sum":5}`, string(got["Payload"]))
		require.JSONEq(t, `200`, string(got["StatusCode"]))
		require.JSONEq(t, `"$LATEST"`, string(got["ExecutedVersion"]))
		require.Contains(t, got, "SdkHttpMetadata")
		require.Contains(t, got, "SdkResponseMetadata")
	})

	t.Run("TimedOut", func(t *testing.T) {
		arn := create(t, p, "slow", `{"TimeoutSeconds":1,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}`)
		out := runSync(t, p, arn, `{}`)
		require.Equal(t, types.SyncExecutionStatusTimedOut, out.Status)
		require.Equal(t, "States.Timeout", *out.Error)
	})

	t.Run("FailAndCatch", func(t *testing.T) {
		failing := create(t, p, "failing", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Custom.Error","Cause":"it broke"}}}`)
		out := runSync(t, p, failing, `{}`)
		require.Equal(t, types.SyncExecutionStatusFailed, out.Status)
		require.Equal(t, "Custom.Error", *out.Error)
		require.Equal(t, "it broke", *out.Cause)

		uncaught := create(t, p, "uncaught", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"adder","End":true}}}`)
		out = runSync(t, p, uncaught, `{"fail":"no numbers"}`)
		require.Equal(t, types.SyncExecutionStatusFailed, out.Status)
		require.Equal(t, "BadInput", *out.Error, "the function's errorType names the error, as a Lambda error")
		require.JSONEq(t, `{"errorType":"BadInput","errorMessage":"no numbers"}`, *out.Cause)

		caught := create(t, p, "caught", `{"StartAt":"T","States":{
 "T":{"Type":"Task","Resource":"adder","Catch":[{"ErrorEquals":["BadInput"],"ResultPath":"$.err","Next":"Handled"}],"End":true},
 "Handled":{"Type":"Pass","End":true}}}`)
		out = runSync(t, p, caught, `{"fail":"no numbers"}`)
		require.Equal(t, types.SyncExecutionStatusSucceeded, out.Status)
		var got struct{ Err struct{ Error, Cause string } }
		require.NoError(t, json.Unmarshal([]byte(*out.Output), &got))
		require.Equal(t, "BadInput", got.Err.Error)
	})

	t.Run("UnknownMachine", func(t *testing.T) {
		arn := strings.Replace(create(t, p, "known", threePass), ":known", ":unknown", 1)
		_, err := p.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(arn)})
		var missing *types.StateMachineDoesNotExist
		require.ErrorAs(t, err, &missing)
		_, err = p.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String("not-an-arn")})
		var badArn *types.InvalidArn
		require.ErrorAs(t, err, &badArn)
	})

	t.Run("StartExecution", func(t *testing.T) {
		express := create(t, p, "async", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"adder","End":true}}}`)
		out, err := p.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(express), Name: aws.String("run-1"),
			Input: aws.String(`{"a":1,"b":2,"log":"background run-1"}`)})
		require.NoError(t, err)
		require.True(t, strings.Contains(*out.ExecutionArn, ":express:async:run-1:"), *out.ExecutionArn)
		// The execution runs after the answer: its Task's log line shows.
		ran := false
		for deadline := time.Now().Add(10 * time.Second); !ran && time.Now().Before(deadline); {
			_ = n.c.Logs(ctx, client.LogsParams{Function: "adder"}, func(e apitype.LogEntry) error {
				ran = ran || strings.Contains(e.Line, "background run-1")
				return nil
			})
			if !ran {
				time.Sleep(50 * time.Millisecond)
			}
		}
		require.True(t, ran, "the background execution called its function")
		_, err = p.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		var badArn *types.InvalidArn
		require.ErrorAs(t, err, &badArn, "AWS keeps no EXPRESS execution to describe")

		std, err := p.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("standard"), Definition: aws.String(threePass),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/unused")})
		require.NoError(t, err)
		_, err = p.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: std.StateMachineArn})
		require.Equal(t, "StateMachineTypeNotSupported", apiErrorCode(err), "%v", err)
	})

	t.Run("Standard", func(t *testing.T) { testStandard(t, n, p, q) })

	t.Run("AuthRefused", func(t *testing.T) {
		for name, c := range map[string]*sfn.Client{
			"wrong token": sfnClient(n, "not-a-strata-token", "us-east-1"),
			"no token":    sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.url), RetryMaxAttempts: 1, Credentials: aws.AnonymousCredentials{}}),
		} {
			_, err := c.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
			require.Equal(t, "UnrecognizedClientException", apiErrorCode(err), "%s: %v", name, err)
		}
		read := sfnClient(n, projectToken(t, n, "p", record.ScopeRead), "us-east-1")
		_, err := read.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		require.NoError(t, err, "a read token lists")
		_, err = read.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("r"), Definition: aws.String(threePass), RoleArn: aws.String("x")})
		require.Equal(t, "AccessDeniedException", apiErrorCode(err), "a read token does not create: %v", err)
	})

	t.Run("TokenOfEveryProject", func(t *testing.T) {
		all, err := n.c.TokenCreate(ctx, apitype.TokenCreateRequest{Name: "sfn-all"})
		require.NoError(t, err)
		create(t, p, "of-p", threePass)
		// The region names the project.
		list, err := sfnClient(n, all.Token, "p").ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		require.NoError(t, err)
		var names []string
		for _, m := range list.StateMachines {
			names = append(names, *m.Name)
		}
		require.Contains(t, names, "of-p")
		// A Bearer token of every project without X-Strata-Project is
		// refused, AWS-shaped.
		code, hdr, body := sfnPost(t, n.url, "ListStateMachines", "Bearer "+all.Token, `{}`)
		require.Equal(t, http.StatusBadRequest, code)
		require.Equal(t, "application/x-amz-json-1.0", hdr.Get("Content-Type"))
		require.JSONEq(t, `{"__type":"AccessDeniedException","message":"token sfn-all is of every project: name the project as the region (AWS_REGION=<project>) or, with a Bearer token, in X-Strata-Project"}`, body)
		code, _, body = sfnPost(t, n.url, "TagResource", "Bearer "+all.Token, `{}`)
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, body, `"__type":"UnknownOperationException"`)
	})

	t.Run("ProjectIsolation", func(t *testing.T) {
		pArn := create(t, p, "private", threePass)
		// q's token cannot reach p's machine, even by p's exact ARN.
		_, err := q.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(pArn)})
		var missing *types.StateMachineDoesNotExist
		require.ErrorAs(t, err, &missing)
		_, err = q.StartSyncExecution(ctx, &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(pArn)})
		require.ErrorAs(t, err, &missing)
		list, err := q.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
		require.NoError(t, err)
		for _, m := range list.StateMachines {
			require.NotEqual(t, "private", *m.Name)
		}
		// A machine of q naming p's function fails as if it did not exist.
		for _, res := range []string{"adder", "arn:aws:lambda:us-east-1:123456789012:function:adder"} {
			attack := create(t, q, fmt.Sprintf("attack-%d", strings.Count(res, ":")), fmt.Sprintf(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":%q,"End":true}}}`, res))
			out := runSync(t, q, attack, `{"a":1,"b":2}`)
			require.Equal(t, types.SyncExecutionStatusFailed, out.Status)
			require.Equal(t, "Lambda.ResourceNotFoundException", *out.Error)
		}
		viaInvoke := create(t, q, "attack-invoke", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"adder","Payload":{}},"End":true}}}`)
		out := runSync(t, q, viaInvoke, `{}`)
		require.Equal(t, types.SyncExecutionStatusFailed, out.Status)
		require.Equal(t, "Lambda.ResourceNotFoundException", *out.Error)
		// q's own function works from q's machine.
		own := create(t, q, "own", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"q-adder","End":true}}}`)
		out = runSync(t, q, own, `{"a":1,"b":2}`)
		require.Equal(t, types.SyncExecutionStatusSucceeded, out.Status)
	})
}
