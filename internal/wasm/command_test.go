package wasm_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

func compileCGI(t *testing.T) *wasm.Module {
	t.Helper()
	m, err := testRuntime(t).Compile(context.Background(), wasmtest.BuildC(t, wasmtest.CGI),
		wasm.ModuleSpec{Name: "cgi@1", Env: map[string]string{"GREETING": "hello from env", "HTTP_X_TEST": "owner wins"}})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func TestCommandCGI(t *testing.T) {
	t.Parallel()
	m := compileCGI(t)
	require.Equal(t, wasm.KindCommand, m.Kind())
	_, err := m.Instantiate(context.Background())
	require.ErrorContains(t, err, "runs with RunCommand")

	var stderr bytes.Buffer
	resp, err := m.RunCommand(context.Background(), &wire.Request{
		Method: "PUT", Path: "/items/7", RawQuery: "a=1", RemoteAddr: "198.51.100.9:1234",
		Headers: []wire.Header{
			{Name: "Content-Type", Values: []string{"application/json"}},
			{Name: "X-Other", Values: []string{"v"}},
		},
		Params: []wire.Param{{Name: "id", Value: "7"}},
		Body:   []byte(`{"n":1}`),
	}, wasm.Output{Stderr: &stderr})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
	require.Equal(t, []wire.Header{
		{Name: "Content-Type", Values: []string{"text/plain"}},
		{Name: "X-Cgi", Values: []string{"yes"}},
	}, resp.Headers)
	require.Equal(t, "method=PUT\npath=/items/7\nquery=a=1\nprotocol=HTTP/1.1\ncontent_type=application/json\n"+
		"content_length=7\nremote=198.51.100.9\nheader.x_test=owner wins\nparam.id=7\nenv.GREETING=hello from env\n"+
		"body={\"n\":1}\n", string(resp.Body))
	require.Equal(t, "cgi guest handling PUT /items/7\n", stderr.String())
}

func TestCommandCGIResponses(t *testing.T) {
	t.Parallel()
	m := compileCGI(t)
	run := func(query string) (*wire.Response, error) {
		return m.RunCommand(context.Background(), &wire.Request{Method: "GET", Path: "/", RawQuery: query}, wasm.Output{})
	}

	resp, err := run("status=404")
	require.NoError(t, err)
	require.Equal(t, 404, resp.Status)

	resp, err = run("status=404&crlf=1")
	require.NoError(t, err)
	require.Equal(t, 404, resp.Status)
	require.Equal(t, "yes", resp.Headers[1].Values[0])
	require.True(t, bytes.HasPrefix(resp.Body, []byte("method=GET\n")))

	resp, err = run("binary=1")
	require.NoError(t, err)
	want := make([]byte, 256)
	for i := range want {
		want[i] = byte(i)
	}
	require.Equal(t, want, resp.Body)

	var stderr bytes.Buffer
	_, err = m.RunCommand(context.Background(), &wire.Request{RawQuery: "exit=3"}, wasm.Output{Stderr: &stderr})
	var trap *wasm.TrapError
	require.ErrorAs(t, err, &trap)
	require.Equal(t, "cgi@1", trap.Module)
	require.Contains(t, trap.Message, "exited with code 3")
	require.Contains(t, stderr.String(), "exiting with 3 on purpose")
}
