package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// benchSfn starts a node with an EXPRESS three-Pass machine in project
// bench and returns its URL, an admin token and the machine's ARN.
func benchSfn(b *testing.B) (string, string, string) {
	srv, admin, _ := benchNode(b, wasmtest.Guest(b, wasmtest.Hello))
	created, err := admin.TokenCreate(context.Background(), apitype.TokenCreateRequest{Name: "sfn-bench"})
	if err != nil {
		b.Fatal(err)
	}
	tok := created.Token
	// A token of every project names its project as the region.
	c := sfnClient(&node{url: srv.URL()}, tok, "bench")
	out, err := c.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{Name: aws.String("three"),
		Definition: aws.String(threePass), RoleArn: aws.String("unused"), Type: types.StateMachineTypeExpress})
	if err != nil {
		b.Fatal(err)
	}
	return srv.URL(), tok, *out.StateMachineArn
}

// BenchmarkStepFunctionsSyncHTTP measures StartSyncExecution of a
// three-Pass EXPRESS machine over loopback HTTP, clients in parallel:
// authentication (cached), the machine read from the store, the cached
// parse, the run and the answer. executions/s is the node's throughput.
func BenchmarkStepFunctionsSyncHTTP(b *testing.B) {
	url, tok, arn := benchSfn(b)
	body := []byte(`{"stateMachineArn":"` + arn + `","input":"{\"in\":1}"}`)
	b.ReportAllocs()
	b.SetParallelism(8) // 8 clients per core: the node, not one client's latency, is measured
	b.RunParallel(func(pb *testing.PB) {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		for pb.Next() {
			req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "AWSStepFunctions.StartSyncExecution")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Strata-Project", "bench")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"status":"SUCCEEDED"`)) {
				b.Fatalf("StartSyncExecution: %d %s", resp.StatusCode, out)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}

// BenchmarkStepFunctionsSyncSDK is the same through the AWS SDK for Go
// v2, whose request signing and middleware run on the same cores.
func BenchmarkStepFunctionsSyncSDK(b *testing.B) {
	url, tok, arn := benchSfn(b)
	in := &sfn.StartSyncExecutionInput{StateMachineArn: aws.String(arn), Input: aws.String(`{"in":1}`)}
	b.ReportAllocs()
	b.SetParallelism(8) // 8 clients per core: the node, not one client's latency, is measured
	b.RunParallel(func(pb *testing.PB) {
		c := sfnClient(&node{url: url}, tok, "bench")
		for pb.Next() {
			out, err := c.StartSyncExecution(context.Background(), in)
			if err != nil {
				b.Fatal(err)
			}
			if out.Status != types.SyncExecutionStatusSucceeded {
				b.Fatalf("status %s", out.Status)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
}
