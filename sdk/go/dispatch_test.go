package strata

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/internal/dispatch"
	"github.com/stratahq/strata/sdk/go/wire"
)

// An object event goes to the objects hook, every other request to the
// handler; a function with only the hook answers plain requests 404.
func TestServeDispatchesObjectEvents(t *testing.T) {
	old := dispatch.Object
	t.Cleanup(func() { dispatch.Object = old })
	dispatch.Object = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "object "+r.Header.Get(wire.ObjectEventHeader))
	})
	plain := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "plain") })
	event := &wire.Request{Method: "POST", Path: "/", Headers: []wire.Header{{Name: "x-strata-object-event", Values: []string{"alarm"}}}}

	resp, code, _ := serveWith(t, plain, event)
	require.Equal(t, codeOK, code)
	require.Equal(t, "object alarm", string(resp.Body))

	resp, code, _ = serveWith(t, plain, &wire.Request{Path: "/"})
	require.Equal(t, codeOK, code)
	require.Equal(t, "plain", string(resp.Body))

	resp, code, _ = serveWith(t, nil, &wire.Request{Path: "/"})
	require.Equal(t, codeOK, code)
	require.Equal(t, http.StatusNotFound, resp.Status)
	require.Contains(t, string(resp.Body), "durable object events only")

	resp, code, _ = serveWith(t, nil, event)
	require.Equal(t, codeOK, code)
	require.Equal(t, "object alarm", string(resp.Body))
}

// Without the hook, the header means nothing: the handler gets the request.
func TestServeWithoutObjectsIgnoresTheHeader(t *testing.T) {
	require.Nil(t, dispatch.Object, "nothing in package strata's tests registers a class")
	resp, code, _ := serveWith(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "plain") }),
		&wire.Request{Path: "/", Headers: []wire.Header{{Name: wire.ObjectEventHeader, Values: []string{"fetch"}}}})
	require.Equal(t, codeOK, code)
	require.Equal(t, "plain", string(resp.Body))
}
