package wasm

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

func TestParseCGI(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  int
		headers []wire.Header
		body    string
		err     string
	}{
		{name: "minimal", in: "Content-Type: text/plain\n\nhi", status: 200,
			headers: []wire.Header{{Name: "Content-Type", Values: []string{"text/plain"}}}, body: "hi"},
		{name: "crlf and status", in: "Status: 418 I'm a teapot\r\nx-a: 1\r\nX-A: 2\r\n\r\n\r\nbody\r\n", status: 418,
			headers: []wire.Header{{Name: "X-A", Values: []string{"1", "2"}}}, body: "\r\nbody\r\n"},
		{name: "bare status", in: "Status: 204\n\n", status: 204},
		{name: "redirect", in: "Location: /elsewhere\n\n", status: 302,
			headers: []wire.Header{{Name: "Location", Values: []string{"/elsewhere"}}}},
		{name: "empty headers", in: "\nraw", status: 200, body: "raw"},
		{name: "nothing", in: "", err: "wrote nothing to stdout"},
		{name: "no blank line", in: "hello world", err: "no blank line"},
		{name: "not a header", in: "hello world\n\n", err: `malformed CGI header line "hello world"`},
		{name: "bad status", in: "Status: abc\n\n", err: `malformed CGI Status header "abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := parseCGI([]byte(tt.in))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.Status)
			require.Equal(t, tt.headers, resp.Headers)
			require.Equal(t, tt.body, string(resp.Body))
		})
	}
}

func TestCGIEnv(t *testing.T) {
	env := map[string]string{}
	for _, kv := range cgiEnv(&wire.Request{
		Path: "/a\x00b", RemoteAddr: "[::1]:80",
		Headers: []wire.Header{{Name: "x-request-id", Values: []string{"1", "2"}}, {Name: "Proxy", Values: []string{"evil"}},
			{Name: "Content-Length", Values: []string{"999"}}},
		Params: []wire.Param{{Name: "user-id", Value: "u"}},
		Body:   []byte("abc"),
	}) {
		env[kv[0]] = kv[1]
	}
	require.Equal(t, "GET", env["REQUEST_METHOD"])
	require.Equal(t, "/ab", env["PATH_INFO"], "NUL stripped")
	require.Equal(t, "::1", env["REMOTE_ADDR"])
	require.Equal(t, "1, 2", env["HTTP_X_REQUEST_ID"])
	require.Equal(t, "u", env["X_STRATA_PARAM_USER_ID"])
	require.Equal(t, "3", env["CONTENT_LENGTH"])
	_, proxy := env["HTTP_PROXY"]
	require.False(t, proxy)
	_, cl := env["HTTP_CONTENT_LENGTH"]
	require.False(t, cl)
}
