package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestLambdaGoAdapter runs an aws-lambda-go-style handler
// (func(ctx, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error))
// registered with strata.Lambda, built to Wasm, deployed with events:
// lambda: through a route (an API Gateway event in, its structured
// response out) and through the Lambda Invoke API with the AWS SDK; its
// returned error fails the invocation in both.
func TestLambdaGoAdapter(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	cfg := cfgOf(record.KindReactor)
	cfg.Events = record.EventsLambda
	require.NoError(t, n.deploy(t, "lgo", fn{name: "hi", wasm: wasmtest.BuildGuest(t, "testdata/lambdago"), config: cfg, routes: routes("GET /hi/{name}")}))

	resp, err := http.Get(n.url + "/hi/ada")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	assert.Equal(t, "hello ada", string(body))
	assert.Equal(t, "GET /hi/{name}", resp.Header.Get("X-Route-Key"))
	assert.Equal(t, []string{"seen=1; Path=/"}, resp.Header.Values("Set-Cookie"))

	resp, err = http.Get(n.url + "/hi/ada?fail=1")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "a returned error fails the invocation")

	c := lambdaClient(n, projectToken(t, n, "lgo", record.ScopeDeploy), "us-east-1")
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hi"),
		Payload: []byte(`{"version":"2.0","routeKey":"GET /hi/{name}","rawPath":"/hi/bob","pathParameters":{"name":"bob"}}`)})
	require.NoError(t, err)
	require.Nil(t, out.FunctionError, string(out.Payload))
	var r struct {
		StatusCode int
		Body       string
		Cookies    []string
	}
	require.NoError(t, json.Unmarshal(out.Payload, &r))
	assert.Equal(t, 201, r.StatusCode)
	assert.Equal(t, "hello bob", r.Body)

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hi"), Payload: []byte(`{"queryStringParameters":{"fail":"1"}}`)})
	require.NoError(t, err)
	assert.Equal(t, "Unhandled", aws.ToString(out.FunctionError))
	assert.JSONEq(t, `{"errorMessage":"asked to fail","errorType":"errorString"}`, string(out.Payload))
}

// TestTwoHandlersRefusedAtDeploy: a guest that registers two handlers
// panics in its init, so its deploy fails with the SDK's message naming
// both registrations.
func TestTwoHandlersRefusedAtDeploy(t *testing.T) {
	n := startNode(t, "")
	err := n.deploy(t, "two", fn{name: "two", wasm: wasmtest.BuildGuest(t, "testdata/twohandlers"), config: cfgOf(record.KindReactor)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "strata.HandleEvent at ")
	assert.Contains(t, err.Error(), "already has a handler, registered by strata.HandleFunc at ")
}
