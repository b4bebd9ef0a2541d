package invoke

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/lambda"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// pathShaper sends the guest to /shaped and answers 201 with what the guest
// said, or fails the answer when bad is set.
type pathShaper struct {
	invs []lambda.Invocation
	bad  bool
}

func (s *pathShaper) LambdaRequest(inv lambda.Invocation, req *wire.Request) (*wire.Request, error) {
	s.invs = append(s.invs, inv)
	return &wire.Request{Method: "POST", Path: "/shaped", Body: []byte(req.Path)}, nil
}

func (s *pathShaper) LambdaResponse(resp *wire.Response) (*wire.Response, error) {
	if s.bad {
		return nil, fmt.Errorf("%w: statusCode is missing", lambda.ErrBadResponse)
	}
	return &wire.Response{Status: 201, Body: resp.Body}, nil
}

// TestShaperFollowsTheVersion: the Shaper is used only for a version with
// events: lambda, with the invocation's id and project; a bad answer fails
// the invocation, is metered as an error and logged for the function.
func TestShaperFollowsTheVersion(t *testing.T) {
	b := setup(t)
	bin := wasmtest.Guest(t, wasmtest.Hello)
	b.deploy(t, "hello", bin, helloCfg)
	ctx := context.Background()

	s := &pathShaper{}
	r := req("/plain")
	r.Shaper = s
	res, err := b.inv.Invoke(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Shaped || len(s.invs) != 0 || res.Response.Status != 200 || !strings.Contains(string(res.Response.Body), "/plain") {
		t.Fatalf("a CloudEvents version was shaped: shaped=%v calls=%d %d %s", res.Shaped, len(s.invs), res.Response.Status, res.Response.Body)
	}

	lam := helloCfg
	lam.Events = record.EventsLambda
	b.deploy(t, "hello", bin, lam)
	r = req("/plain")
	r.Shaper = s
	res, err = b.inv.Invoke(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Shaped || res.Response.Status != 201 || !strings.Contains(string(res.Response.Body), "/shaped") {
		t.Fatalf("a Lambda version was not shaped: shaped=%v %d %s", res.Shaped, res.Response.Status, res.Response.Body)
	}
	if len(s.invs) != 1 || s.invs[0].Account != "p" || s.invs[0].Function != "hello" || s.invs[0].RequestID != res.InvocationID || s.invs[0].Time.IsZero() {
		t.Fatalf("shaper saw %+v (invocation %s)", s.invs, res.InvocationID)
	}

	s.bad = true
	r = req("/plain")
	r.Shaper = s
	res, err = b.inv.Invoke(ctx, r)
	if !IsBadLambdaResponse(err) || IsGuestFailure(err) || res == nil || res.InvocationID == "" {
		t.Fatalf("bad answer: %v", err)
	}
	if err := b.inv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	us, err := b.st.UsageList(ctx, store.UsageListParams{Function: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	last := us[len(us)-1]
	if last.InvocationID != res.InvocationID || last.Outcome != record.OutcomeError || !strings.Contains(last.Error, "statusCode is missing") {
		t.Fatalf("usage of the bad answer: %+v", last)
	}
	logs, err := b.st.LogList(ctx, store.LogListParams{InvocationID: res.InvocationID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range logs {
		found = found || l.Stream == "platform" && strings.Contains(l.Line, "invalid Lambda response: statusCode is missing")
	}
	if !found {
		t.Fatalf("no platform log line of the bad answer: %+v", logs)
	}
}
