package lambdaapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeInvoker answers every invocation with the payload, and records the
// request.
type fakeInvoker struct {
	got invoke.Request
	err error // when set, every invocation fails with it
}

func (f *fakeInvoker) Invoke(_ context.Context, r invoke.Request) (*invoke.Result, error) {
	f.got = r
	if f.err != nil {
		return &invoke.Result{InvocationID: "inv-1", Version: 4}, f.err
	}
	if r.Logs != nil {
		r.Logs(record.LogLine{Line: "line one"})
	}
	return &invoke.Result{InvocationID: "inv-1", Version: 4, Duration: time.Millisecond,
		Response: &wire.Response{Status: 200, Body: r.Wire.Body}}, nil
}

type fakeAsync struct{}

func (fakeAsync) InvokeAsyncPayload(context.Context, string, *wire.Request, string) (*apitype.SendResult, error) {
	return &apitype.SendResult{ID: "ev-1"}, nil
}

func newTestHandler(inv *fakeInvoker) *Handler {
	return New(Config{Invoker: inv, Async: fakeAsync{},
		Authenticate: func(_ context.Context, tok string) (record.Token, error) {
			switch tok {
			case "tok-a":
				return record.Token{Name: "a", Project: "a", Scope: record.ScopeDeploy}, nil
			case "tok-all":
				return record.Token{Name: "all", Scope: record.ScopeAdmin}, nil
			}
			return record.Token{}, gateway.Errorf(http.StatusUnauthorized, "no")
		},
		ProjectOf: func(fn string) string { return map[string]string{"fa": "a", "fb": "b"}[fn] },
		Account:   func(p string) string { return "acct-" + p },
	})
}

func post(h http.Handler, path, auth string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestNamesAndProjects(t *testing.T) {
	inv := &fakeInvoker{}
	h := newTestHandler(inv)
	sig := func(tok, region string) string {
		return "AWS4-HMAC-SHA256 Credential=" + tok + "/20261203/" + region + "/lambda/aws4_request, SignedHeaders=host, Signature=x"
	}
	for _, c := range []struct {
		name, auth string
		status     int
		errType    string
	}{
		{"fa", sig("tok-a", "us-east-1"), 200, ""},
		{"arn:aws:lambda:any:acct-a:function:fa", sig("tok-a", "x"), 200, ""},
		{"arn%3Aaws%3Alambda%3Aany%3Aacct-a%3Afunction%3Afa%3A4", "Bearer tok-a", 200, ""},
		{"acct-a:function:fa", "Bearer tok-a", 200, ""},
		{"fb", "Bearer tok-a", 404, errNotFound},
		{"arn:aws:lambda:any:acct-b:function:fb", "Bearer tok-a", 404, errNotFound},
		{"arn:aws:lambda:any:acct-b:function:fa", "Bearer tok-a", 404, errNotFound},
		{"fb", sig("tok-all", "b"), 200, ""},
		{"fa", sig("tok-all", "b"), 404, errNotFound},
		{"fa", sig("tok-all", ""), 403, errAccessDenied},
		{"fa", "Bearer tok-all", 403, errAccessDenied},
		{"fa", "Bearer nope", 403, errUnrecognizedClient},
		{"fa", "", 403, errUnrecognizedClient},
		{"bad.name", "Bearer tok-a", 400, errValidation},
		{"a:b:c:d:e", "Bearer tok-a", 400, errValidation},
		{"fa:prod", "Bearer tok-a", 404, errNotFound},
	} {
		w := post(h, PathPrefix+c.name+"/invocations", c.auth, nil, `{"x":1}`)
		assert.Equal(t, c.status, w.Code, "%s %s: %s", c.name, c.auth, w.Body)
		assert.Equal(t, c.errType, w.Header().Get("X-Amzn-ErrorType"), c.name)
		if c.status == 404 && (c.auth == "Bearer tok-a" || strings.Contains(c.auth, "=tok-a/")) {
			assert.NotContains(t, w.Body.String(), "acct-b", "a refusal names no other project")
		}
	}
	w := post(h, PathPrefix+"fa:4/invocations", "Bearer tok-a", nil, `{}`)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, 4, inv.got.Version, "the qualifier reaches the invoker")
	assert.Equal(t, "a", inv.got.Project, "the invoker checks the project again")
	w = post(h, PathPrefix+"fa/invocations?Qualifier=5", "Bearer tok-a", map[string]string{hdrInvocationType: "Nope"}, `{}`)
	assert.Equal(t, 400, w.Code)
	assert.Equal(t, errInvalidParameter, w.Header().Get("X-Amzn-ErrorType"))
	w = post(h, PathPrefix+"fa/aliases", "Bearer tok-a", nil, `{}`)
	assert.Equal(t, 404, w.Code)
	assert.Equal(t, errUnknownOperation, w.Header().Get("X-Amzn-ErrorType"))
}

func TestPayloadsAndTail(t *testing.T) {
	h := newTestHandler(&fakeInvoker{})
	w := post(h, PathPrefix+"fa/invocations", "Bearer tok-a", nil, `not json`)
	assert.Equal(t, 400, w.Code)
	assert.Equal(t, errInvalidContent, w.Header().Get("X-Amzn-ErrorType"))
	w = post(h, PathPrefix+"fa/invocations", "Bearer tok-a", nil, `"`+strings.Repeat("a", MaxPayload)+`"`)
	assert.Equal(t, 413, w.Code)
	assert.Equal(t, errTooLarge, w.Header().Get("X-Amzn-ErrorType"))
	w = post(h, PathPrefix+"fa/invocations", "Bearer tok-a", map[string]string{hdrLogType: "Tail"}, ``)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "{}", w.Body.String(), "an empty payload is {}")
	assert.Equal(t, "4", w.Header().Get(hdrExecVersion))
	logs, err := base64.StdEncoding.DecodeString(w.Header().Get(hdrLogResult))
	require.NoError(t, err)
	assert.Equal(t, "START RequestId: inv-1 Version: $LATEST\nline one\nEND RequestId: inv-1\nREPORT RequestId: inv-1\tDuration: 1.00 ms\tVersion: 4\n", string(logs))
	w = post(h, PathPrefix+"fa/invocations", "Bearer tok-a", map[string]string{hdrInvocationType: "Event"}, `{}`)
	assert.Equal(t, 202, w.Code)
	assert.Equal(t, "ev-1", w.Header().Get(hdrRequestID))
	w = post(h, PathPrefix+"fa/invocations", "Bearer tok-a", map[string]string{hdrInvocationType: "DryRun"}, `{}`)
	assert.Equal(t, 204, w.Code)
}

// A function stopped over its CPU limit is the function's failure, as a
// timeout is: 200 with X-Amz-Function-Error and the error in the body.
func TestCPULimitIsAFunctionError(t *testing.T) {
	h := newTestHandler(&fakeInvoker{err: &wasm.CPULimitError{Module: "fa@4", Limit: 50 * time.Millisecond}})
	w := post(h, PathPrefix+"fa/invocations", "Bearer tok-a", nil, `{}`)
	require.Equal(t, 200, w.Code)
	assert.Equal(t, "Unhandled", w.Header().Get(hdrFunctionError))
	assert.Equal(t, "inv-1", w.Header().Get(hdrRequestID))
	assert.JSONEq(t, `{"errorType":"Sandbox.CPUTimeLimitExceeded","errorMessage":"fa@4: exceeded CPU time limit of 50 ms"}`, w.Body.String())
}

func TestLogTailKeepsTheEnd(t *testing.T) {
	var tail logTail
	for i := 0; i < 1000; i++ {
		tail.add(record.LogLine{Line: strings.Repeat("y", 50)})
	}
	assert.LessOrEqual(t, len(tail.buf), 4*MaxLogTail+51, "bounded memory")
	b, _ := base64.StdEncoding.DecodeString(tail.result(&invoke.Result{InvocationID: "i"}, 0))
	assert.Len(t, b, MaxLogTail)
	assert.True(t, strings.HasSuffix(string(b), "REPORT RequestId: i\tDuration: 0.00 ms\tVersion: 0\n"))
}
