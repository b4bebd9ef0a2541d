package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// lambdaClient is the real AWS SDK Lambda client pointed at n, with token
// as the access key id (the secret is ignored by Strata).
func lambdaClient(n *node, token, region string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       region,
		BaseEndpoint: aws.String(n.url),
		Credentials:  credentials.NewStaticCredentialsProvider(token, "ignored-secret", ""),
		// One try: a refusal must show as it is, not be retried.
		RetryMaxAttempts: 1,
	})
}

// lambdaPost sends one raw Invoke request and returns the answer.
func lambdaPost(t *testing.T, url, function, auth string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/2015-03-31/functions/"+function+"/invocations", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// TestLambdaInvokeAPI drives the Lambda Invoke API with the real AWS SDK
// for Go v2 against a real node (SQLite store, a Go guest on wazero with
// events: lambda): RequestResponse, Event (durable, run from the async
// queue with the payload as it is), DryRun, the log tail, qualifiers,
// function errors (a 500 answer, a trap, a timeout) and the AWS-shaped
// refusals; and attacks project isolation with another project's token.
func TestLambdaInvokeAPI(t *testing.T) {
	testLambdaInvokeAPI(t, startNode(t, ""))
}

// TestLambdaInvokeAPIOnPostgres is the same on a node whose store is
// PostgreSQL (Event invocations queue there).
func TestLambdaInvokeAPIOnPostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	testLambdaInvokeAPI(t, startNode(t, withSearchPath(pg, testSchema(t, pg))))
}

func testLambdaInvokeAPI(t *testing.T, n *node) {
	ctx := context.Background()
	guest := wasmtest.BuildGuest(t, "testdata/invokeapi")
	cfg := cfgOf(record.KindReactor)
	cfg.Events = record.EventsLambda
	cfg.TimeoutMS = 1000
	require.NoError(t, n.deploy(t, "p", fn{name: "echo", wasm: guest, config: cfg}))
	require.NoError(t, n.deploy(t, "q", fn{name: "qecho", wasm: guest, config: cfgOf(record.KindReactor)}))
	pTok := projectToken(t, n, "p", record.ScopeDeploy)
	p := lambdaClient(n, pTok, "us-east-1")
	q := lambdaClient(n, projectToken(t, n, "q", record.ScopeDeploy), "us-east-1")

	invoke := func(t *testing.T, c *lambda.Client, in *lambda.InvokeInput) *lambda.InvokeOutput {
		t.Helper()
		out, err := c.Invoke(ctx, in)
		require.NoError(t, err)
		return out
	}

	t.Run("RequestResponse", func(t *testing.T) {
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"a":1,"b":[true,null]}`)})
		assert.Equal(t, int32(200), out.StatusCode)
		assert.Nil(t, out.FunctionError)
		assert.Equal(t, "1", aws.ToString(out.ExecutedVersion))
		assert.Nil(t, out.LogResult, "no tail unless asked")
		// The payload as it is, as the JSON body of a POST /: not an
		// API Gateway event, though the function takes Lambda shapes.
		assert.JSONEq(t, `{"got":{"a":1,"b":[true,null]},"method":"POST","path":"/","contentType":"application/json"}`, string(out.Payload))

		empty := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo")})
		assert.JSONEq(t, `{"got":{},"method":"POST","path":"/","contentType":"application/json"}`, string(empty.Payload), "no payload is {}")
	})

	t.Run("NamesAndQualifiers", func(t *testing.T) {
		arn := "arn:aws:lambda:strata:" + sfn.Account("p") + ":function:echo"
		for _, name := range []string{arn, arn + ":1", arn + ":$LATEST", "echo:1", sfn.Account("p") + ":function:echo"} {
			out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`1`)})
			assert.Nil(t, out.FunctionError, name)
			assert.JSONEq(t, `1`, mustField(t, out.Payload, "got"), name)
		}
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("1"), Payload: []byte(`2`)})
		assert.Equal(t, "1", aws.ToString(out.ExecutedVersion))
		var nf *types.ResourceNotFoundException
		_, err := p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("7")})
		require.ErrorAs(t, err, &nf)
		assert.Contains(t, err.Error(), "active version only, now 1")
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("prod")})
		require.ErrorAs(t, err, &nf, "no aliases")
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Qualifier: aws.String("7"), InvocationType: types.InvocationTypeEvent})
		require.ErrorAs(t, err, &nf, "Event checks the qualifier before it queues")
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo:1"), Qualifier: aws.String("2")})
		var bad *types.InvalidParameterValueException
		require.ErrorAs(t, err, &bad, "two qualifiers that disagree")
	})

	t.Run("LogTail", func(t *testing.T) {
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), LogType: types.LogTypeTail, Payload: []byte(`{"log":"hello from the tail"}`)})
		logs, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		require.NoError(t, err)
		assert.Contains(t, string(logs), "START RequestId: ")
		assert.Contains(t, string(logs), "\nhello from the tail\n")
		assert.Contains(t, string(logs), "\nEND RequestId: ")
		assert.Contains(t, string(logs), "\nREPORT RequestId: ")

		// Many lines: the last 4 KB, ending with the REPORT line.
		long := strings.Repeat("x", 100)
		out = invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), LogType: types.LogTypeTail,
			Payload: []byte(fmt.Sprintf(`{"log":%q,"lines":200}`, long))})
		logs, err = base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
		require.NoError(t, err)
		assert.Len(t, logs, 4096)
		assert.Contains(t, string(logs), long+"\nEND RequestId: ")
		assert.NotContains(t, string(logs), "START RequestId", "the start is cut, the end kept")
	})

	t.Run("FunctionErrors", func(t *testing.T) {
		for _, c := range []struct{ payload, errorType, message string }{
			{`{"fail":"bad input"}`, "BadInput", "bad input"},
			{`{"panic":true}`, "Runtime.ExitError", "handler panicked"},
			{`{"sleepMS":5000}`, "Sandbox.Timedout", "timed out after 1s"},
		} {
			out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), LogType: types.LogTypeTail, Payload: []byte(c.payload)})
			assert.Equal(t, int32(200), out.StatusCode, c.payload)
			assert.Equal(t, "Unhandled", aws.ToString(out.FunctionError), c.payload)
			var fe struct{ ErrorType, ErrorMessage string }
			require.NoError(t, json.Unmarshal(out.Payload, &fe), string(out.Payload))
			assert.Equal(t, c.errorType, fe.ErrorType, c.payload)
			assert.Contains(t, fe.ErrorMessage, c.message, c.payload)
			logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
			if c.errorType != "BadInput" {
				assert.Contains(t, string(logs), "invocation failed: ", "the platform's line is in the tail")
			}
			if c.errorType == "Runtime.ExitError" {
				assert.Contains(t, string(logs), "asked to panic", "the panic's text is in the tail")
			}
		}
		// The node goes on serving.
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`3`)})
		assert.Nil(t, out.FunctionError)
	})

	// The request context's Done closes before the deadline, with
	// DeadlineExceeded, early enough for the handler to answer.
	t.Run("ContextDeadline", func(t *testing.T) {
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"waitDone":true}`)})
		require.Nil(t, out.FunctionError, string(out.Payload))
		assert.JSONEq(t, `{"err":"context deadline exceeded","beforeDeadline":true}`, string(out.Payload))
	})

	t.Run("DryRun", func(t *testing.T) {
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeDryRun})
		assert.Equal(t, int32(204), out.StatusCode)
	})

	t.Run("Event", func(t *testing.T) {
		marker := fmt.Sprintf("event payload %d", time.Now().UnixNano())
		out := invoke(t, p, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(fmt.Sprintf(`{"log":%q}`, marker))})
		assert.Equal(t, int32(202), out.StatusCode)
		// The guest prints the payload's "log" field: found only if the
		// payload arrived as it is, not wrapped as an API Gateway event.
		line := waitLog(t, n, "echo", func(e apitype.LogEntry) bool { return e.Line == marker })
		assert.Equal(t, "stdout", line.Stream)
	})

	t.Run("Refusals", func(t *testing.T) {
		var nf *types.ResourceNotFoundException
		_, err := p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
		require.ErrorAs(t, err, &nf)
		assert.Contains(t, err.Error(), "Function not found: arn:aws:lambda:strata:"+sfn.Account("p")+":function:nope")

		var badContent *types.InvalidRequestContentException
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"a":`)})
		require.ErrorAs(t, err, &badContent)

		var tooLarge *types.RequestTooLargeException
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`"` + strings.Repeat("a", 6<<20) + `"`)})
		require.ErrorAs(t, err, &tooLarge)
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(`"` + strings.Repeat("a", 1<<20) + `"`)})
		require.ErrorAs(t, err, &tooLarge, "an Event payload over 1 MiB")

		// Raw: the error's type is in X-Amzn-ErrorType and the body.
		status, hdr, body := lambdaPost(t, n.url, "nope", "Bearer "+pTok, nil, `{}`)
		assert.Equal(t, http.StatusNotFound, status)
		assert.Equal(t, "ResourceNotFoundException", hdr.Get("X-Amzn-ErrorType"))
		assert.Contains(t, body, `"Type":"User"`)

		status, hdr, _ = lambdaPost(t, n.url, "echo", "", nil, `{}`)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, "UnrecognizedClientException", hdr.Get("X-Amzn-ErrorType"))
		status, hdr, _ = lambdaPost(t, n.url, "echo", "Bearer st_not-a-token", nil, `{}`)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Equal(t, "UnrecognizedClientException", hdr.Get("X-Amzn-ErrorType"))

		read := lambdaClient(n, projectToken(t, n, "p", record.ScopeRead), "us-east-1")
		_, err = read.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")})
		assert.Equal(t, "AccessDeniedException", apiErrorCode(err), "a read token may not invoke: %v", err)
	})

	t.Run("Bearer", func(t *testing.T) {
		status, hdr, body := lambdaPost(t, n.url, "echo", "Bearer "+pTok, map[string]string{"X-Amz-Log-Type": "Tail"}, `{"log":"bearer"}`)
		require.Equal(t, http.StatusOK, status, body)
		assert.JSONEq(t, `{"log":"bearer"}`, mustField(t, []byte(body), "got"))
		assert.Equal(t, "1", hdr.Get("X-Amz-Executed-Version"))
		assert.NotEmpty(t, hdr.Get("X-Amzn-RequestId"))
		assert.NotEmpty(t, hdr.Get("X-Amz-Log-Result"))
	})

	// Project isolation: q's token reaches none of p's functions, by
	// name, by ARN or by a project header, in any invocation type, and
	// the answer is exactly the one for a function that does not exist.
	t.Run("ProjectIsolation", func(t *testing.T) {
		arnP := "arn:aws:lambda:strata:" + sfn.Account("p") + ":function:echo"
		for _, name := range []string{"echo", arnP, "echo:1", sfn.Account("p") + ":function:echo", "arn:aws:lambda:strata:" + sfn.Account("q") + ":function:echo"} {
			for _, typ := range []types.InvocationType{types.InvocationTypeRequestResponse, types.InvocationTypeEvent, types.InvocationTypeDryRun} {
				_, err := q.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: typ, Payload: []byte(`{"log":"attack"}`)})
				var nf *types.ResourceNotFoundException
				require.ErrorAs(t, err, &nf, "%s %s", name, typ)
				assert.NotContains(t, err.Error(), sfn.Account("p"), "the answer names only the caller's own project")
			}
		}
		// A project token cannot pick another project with the header
		// or the region.
		qTok := projectToken(t, n, "q", record.ScopeDeploy)
		status, _, _ := lambdaPost(t, n.url, "echo", "Bearer "+qTok, map[string]string{"X-Strata-Project": "p"}, `{}`)
		assert.Equal(t, http.StatusNotFound, status)
		_, err := lambdaClient(n, qTok, "p").Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")})
		assert.Equal(t, "ResourceNotFoundException", apiErrorCode(err))
		// q's own function works for q, and not for p.
		out := invoke(t, q, &lambda.InvokeInput{FunctionName: aws.String("qecho"), Payload: []byte(`5`)})
		assert.JSONEq(t, `5`, mustField(t, out.Payload, "got"))
		_, err = p.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("qecho")})
		assert.Equal(t, "ResourceNotFoundException", apiErrorCode(err))
		// Nothing of the attack ran in p.
		require.NoError(t, n.srv.inv.SyncLogs(ctx))
		found := false
		require.NoError(t, n.c.Logs(ctx, client.LogsParams{Function: "echo"}, func(e apitype.LogEntry) error {
			found = found || e.Line == "attack"
			return nil
		}))
		assert.False(t, found, "no attack payload reached p's function")

		// A token of every project names its project as the region: the
		// dev token strata dev adds (Server.AddToken) is one.
		devTok := NewToken()
		require.NoError(t, n.srv.AddToken(ctx, devTok, "dev"))
		admin := lambdaClient(n, devTok, "p")
		out = invoke(t, admin, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`6`)})
		assert.JSONEq(t, `6`, mustField(t, out.Payload, "got"))
		_, err = admin.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("qecho")})
		assert.Equal(t, "ResourceNotFoundException", apiErrorCode(err), "region p reaches p only")
		_, err = lambdaClient(n, devTok, "us-east-1").Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")})
		assert.Equal(t, "ResourceNotFoundException", apiErrorCode(err), "a region that is no deployed project reaches nothing")
	})
}

// mustField returns field of a JSON object as JSON text.
func mustField(t *testing.T, b []byte, field string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return string(m[field])
}
