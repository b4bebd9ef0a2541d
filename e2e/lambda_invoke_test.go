package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// lambdaClient is the AWS SDK's Lambda client for the dev server d, as a
// user configures it: the dev token as the access key id, the project as
// the region.
func lambdaClient(d *dev, project string) *lambda.Client {
	return lambda.New(lambda.Options{Region: project, BaseEndpoint: aws.String(d.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(d.token, "unused", "")})
}

// TestLambdaInvokeWithDevToken: the Lambda Invoke API of the real binary,
// under `strata dev`, takes the dev token (.strata/dev.json) as the AWS
// SDK's access key id, the project named as the region; or as a Bearer
// token with X-Strata-Project.
func TestLambdaInvokeWithDevToken(t *testing.T) {
	t.Parallel()
	d := startDev(t, "hello")
	client := func(region string) *lambda.Client { return lambdaClient(d, region) }
	out, err := client("hello").Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatalf("invoke with the dev token: %v", err)
	}
	if out.StatusCode != 200 || string(out.Payload) != "hello, !\n" || out.FunctionError != nil {
		t.Fatalf("invoke: %d %q %v", out.StatusCode, out.Payload, aws.ToString(out.FunctionError))
	}
	_, err = client("other").Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("hello")})
	var nf *types.ResourceNotFoundException
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("a region that names another project: %v (want %T)", err, nf)
	}

	r := do(t, "POST", d.url+"/2015-03-31/functions/hello/invocations", []byte(`{}`),
		map[string]string{"Authorization": "Bearer " + d.token, "X-Strata-Project": "hello", "X-Amz-Invocation-Type": "DryRun"})
	if r.status != http.StatusNoContent {
		t.Fatalf("DryRun with a Bearer dev token: %d %s", r.status, r.body)
	}
	r = do(t, "POST", d.url+"/2015-03-31/functions/hello/invocations", []byte(`{}`), map[string]string{"Authorization": "Bearer wrong"})
	if r.status != http.StatusForbidden || r.header.Get("X-Amzn-ErrorType") != "UnrecognizedClientException" {
		t.Fatalf("a wrong token: %d %s %v", r.status, r.body, r.header)
	}
}
