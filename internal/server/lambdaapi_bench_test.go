package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// BenchmarkLambdaInvokeAPI measures a warm RequestResponse invocation of
// the hello guest through the Lambda Invoke API over loopback: with a
// Bearer token and a plain HTTP client (what the API adds to
// BenchmarkHandleHTTP's route: token check, name and project check), and
// with the AWS SDK's Lambda client (its SigV4 signing and middleware
// included).
func BenchmarkLambdaInvokeAPI(b *testing.B) {
	ctx := context.Background()
	srv, c, sha := benchNode(b, wasmtest.Guest(b, wasmtest.Hello))
	fc := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 1}
	if _, err := c.Deploy(ctx, apitype.Spec{Project: "bench",
		Functions: []apitype.FunctionSpec{{Name: "hello", ModuleSHA256: sha, Config: fc}}}, false); err != nil {
		b.Fatal(err)
	}
	tok, err := c.TokenCreate(ctx, apitype.TokenCreateRequest{Name: "bench", Project: "bench", Scope: record.ScopeDeploy})
	if err != nil {
		b.Fatal(err)
	}
	url := srv.URL() + "/2015-03-31/functions/hello/invocations"
	payload := []byte(`{"name":"world"}`)
	b.Run("bearer", func(b *testing.B) {
		hc := &http.Client{}
		call := func() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(payload))
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("invoke: %d", resp.StatusCode)
			}
		}
		call()
		b.ReportAllocs()
		for b.Loop() {
			call()
		}
	})
	b.Run("sdk", func(b *testing.B) {
		lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(tok.Token, "unused", "")})
		in := &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: payload}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := lc.Invoke(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
