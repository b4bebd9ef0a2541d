package strata

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

type greeting struct {
	Name string `json:"name"`
}

type myError struct{ why string }

func (e *myError) Error() string { return e.why }

// TestLambdaForms: every handler form lambda.Start accepts runs, with its
// input decoded from the payload, its result encoded, and its error
// answered as Lambda's error object with status 500.
func TestLambdaForms(t *testing.T) {
	payload := []byte(`{"name":"ada"}`)
	for _, c := range []struct {
		name    string
		handler any
		status  int
		body    string
	}{
		{"func()", func() {}, 200, "null"},
		{"func() error", func() error { return nil }, 200, "null"},
		{"func() error failing", func() error { return &myError{"no"} }, 500, `{"errorMessage":"no","errorType":"myError"}` + "\n"},
		{"func(in) error", func(g greeting) error { return errors.New("bad " + g.Name) }, 500, `{"errorMessage":"bad ada","errorType":"errorString"}` + "\n"},
		{"func() (out, error)", func() (int, error) { return 7, nil }, 200, "7"},
		{"func(in) (out, error)", func(g greeting) (string, error) { return "hi " + g.Name, nil }, 200, `"hi ada"`},
		{"func(ctx) error", func(ctx context.Context) error {
			if InvocationID(ctx) != "inv-9" {
				return errors.New("not the request's context")
			}
			return nil
		}, 200, "null"},
		{"func(ctx, in) (out, error)", func(ctx context.Context, g greeting) (map[string]string, error) {
			return map[string]string{"hello": g.Name, "id": InvocationID(ctx)}, nil
		}, 200, `{"hello":"ada","id":"inv-9"}`},
		{"func(ctx, *in) (*out, error)", func(_ context.Context, g *greeting) (*greeting, error) { return &greeting{Name: g.Name + "!"}, nil }, 200, `{"name":"ada!"}`},
		{"LambdaHandler", lambdaFunc(func(_ context.Context, p []byte) ([]byte, error) { return append([]byte("raw:"), p...), nil }), 200, `raw:{"name":"ada"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := lambdaHandler(c.handler)
			require.NoError(t, err)
			resp, code, _ := serveWith(t, lambdaHTTP(h), &wire.Request{Method: "POST", Path: "/", Body: payload, InvocationID: "inv-9"})
			require.Equal(t, codeOK, code)
			require.Equal(t, c.status, resp.Status)
			require.Equal(t, c.body, string(resp.Body))
		})
	}

	t.Run("bad input", func(t *testing.T) {
		h, _ := lambdaHandler(func(g greeting) error { return nil })
		resp, _, _ := serveWith(t, lambdaHTTP(h), &wire.Request{Method: "POST", Path: "/", Body: []byte(`[1]`)})
		require.Equal(t, 500, resp.Status)
		require.Contains(t, string(resp.Body), `"errorType":"UnmarshalTypeError"`)
	})
}

type lambdaFunc func(context.Context, []byte) ([]byte, error)

func (f lambdaFunc) Invoke(ctx context.Context, p []byte) ([]byte, error) { return f(ctx, p) }

// TestLambdaRefusesOtherForms: a handler lambda.Start would refuse panics
// at registration with the reason.
func TestLambdaRefusesOtherForms(t *testing.T) {
	for _, c := range []struct {
		handler any
		want    string
	}{
		{"not a function", "not a function"},
		{fmt.Sprint, "variadic"},
		{func(a, b, c int) error { return nil }, "at most 2"},
		{func(a int, ctx context.Context) error { return nil }, "the first must be a context.Context"},
		{func() (int, int) { return 0, 0 }, "the second must be an error"},
		{func() int { return 0 }, "it must be an error"},
		{func() (int, string, error) { return 0, "", nil }, "at most 2"},
	} {
		_, err := lambdaHandler(c.handler)
		require.ErrorContains(t, err, c.want)
	}
	old, oldBy := handler, registeredBy
	t.Cleanup(func() { handler, registeredBy = old, oldBy })
	handler = nil
	require.PanicsWithValue(t, "strata.Lambda: nil handler", func() { Lambda(nil) })
	Lambda(func() error { return nil })
	require.Panics(t, func() { Lambda(func() error { return nil }) }, "a second handler")
}
