package strata

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

func serveWith(t *testing.T, h http.Handler, req *wire.Request) (*wire.Response, int32, string) {
	t.Helper()
	old := handler
	t.Cleanup(func() { handler = old })
	handler = h
	var logs bytes.Buffer
	s := &server{stderr: &logs}
	out, code := s.serve(wire.AppendRequest(nil, req))
	if code != codeOK {
		return nil, code, logs.String()
	}
	resp, err := wire.DecodeResponse(out)
	require.NoError(t, err)
	return resp, code, logs.String()
}

func TestServeBuildsRequest(t *testing.T) {
	deadline := time.UnixMilli(1_900_000_000_000)
	var seen *http.Request
	var body string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		body = string(b)
		w.Header().Set("X-Out", "1")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "id=%s", r.PathValue("id"))
	})
	resp, code, _ := serveWith(t, h, &wire.Request{
		Method: "POST", Path: "/items/42", RawQuery: "a=1&b=2", Host: "example.test",
		RemoteAddr: "10.0.0.1:5000",
		Headers:    []wire.Header{{Name: "content-type", Values: []string{"text/plain"}}, {Name: "X-Multi", Values: []string{"a", "b"}}},
		Params:     []wire.Param{{Name: "id", Value: "42"}},
		Body:       []byte("payload"), InvocationID: "inv-1", TraceParent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
		DeadlineMS: deadline.UnixMilli(),
	})
	require.Equal(t, codeOK, code)
	require.Equal(t, "POST", seen.Method)
	require.Equal(t, "/items/42", seen.URL.Path)
	require.Equal(t, "2", seen.URL.Query().Get("b"))
	require.Equal(t, "/items/42?a=1&b=2", seen.RequestURI)
	require.Equal(t, "example.test", seen.Host)
	require.Equal(t, "10.0.0.1:5000", seen.RemoteAddr)
	require.Equal(t, "text/plain", seen.Header.Get("Content-Type"))
	require.Equal(t, []string{"a", "b"}, seen.Header.Values("X-Multi"))
	require.Equal(t, "42", seen.PathValue("id"))
	require.Equal(t, int64(7), seen.ContentLength)
	require.Equal(t, "payload", body)
	require.Equal(t, "inv-1", InvocationID(seen.Context()))
	require.Equal(t, "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01", TraceParent(seen.Context()))
	dl, ok := Deadline(seen.Context())
	require.True(t, ok)
	require.True(t, dl.Equal(deadline))

	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, "id=42", string(resp.Body))
	require.Equal(t, []wire.Header{
		{Name: "Content-Type", Values: []string{"text/plain; charset=utf-8"}},
		{Name: "X-Out", Values: []string{"1"}},
	}, resp.Headers)
}

func TestServeDefaults(t *testing.T) {
	var seen *http.Request
	resp, code, _ := serveWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }), &wire.Request{Path: "/"})
	require.Equal(t, codeOK, code)
	require.Equal(t, http.MethodGet, seen.Method)
	require.Equal(t, http.NoBody, seen.Body)
	_, ok := seen.Context().Deadline()
	require.False(t, ok)
	require.Equal(t, "", InvocationID(seen.Context()))
	require.Equal(t, http.StatusOK, resp.Status)
	require.Empty(t, resp.Headers, "no body means no sniffed content type")
	require.Empty(t, resp.Body)
}

func TestServeKeepsExplicitContentTypeAndFirstStatus(t *testing.T) {
	resp, _, _ := serveWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		w.WriteHeader(http.StatusInternalServerError) // ignored, like net/http
		io.WriteString(w, `{"ok":true}`)
	}), &wire.Request{Path: "/"})
	require.Equal(t, http.StatusTeapot, resp.Status)
	require.Equal(t, []string{"application/json"}, resp.Headers[0].Values)
}

func TestServeRecoversPanic(t *testing.T) {
	_, code, logs := serveWith(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), &wire.Request{Path: "/"})
	require.Equal(t, codePanic, code)
	require.Contains(t, logs, "panic: boom")
	require.Contains(t, logs, "goroutine", "the stack is logged")
}

func TestServeWithoutHandler(t *testing.T) {
	_, code, logs := serveWith(t, nil, &wire.Request{Path: "/"})
	require.Equal(t, codeNoHandler, code)
	require.Contains(t, logs, "no handler registered")
}

func TestServeRejectsGarbage(t *testing.T) {
	handler = http.NotFoundHandler()
	defer func() { handler = nil }()
	var logs bytes.Buffer
	s := &server{stderr: &logs}
	_, code := s.serve([]byte{9, 9, 9})
	require.Equal(t, codeBadRequest, code)
	require.True(t, strings.Contains(logs.String(), "decode request"))
}

// The reused buffers must not leak one invocation's response into the next.
func TestServeReusesBuffersCleanly(t *testing.T) {
	n := 0
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("X-First", "yes")
			io.WriteString(w, "a long first body")
			return
		}
		io.WriteString(w, "second")
	})
	defer func() { handler = nil }()
	s := &server{stderr: io.Discard}
	_, code := s.serve(wire.AppendRequest(nil, &wire.Request{Path: "/"}))
	require.Equal(t, codeOK, code)
	out, code := s.serve(wire.AppendRequest(nil, &wire.Request{Path: "/"}))
	require.Equal(t, codeOK, code)
	resp, err := wire.DecodeResponse(out)
	require.NoError(t, err)
	require.Equal(t, "second", string(resp.Body))
	for _, h := range resp.Headers {
		require.NotEqual(t, "X-First", h.Name)
	}
}

func BenchmarkServe(b *testing.B) {
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s\n", r.PathValue("name"))
	})
	defer func() { handler = nil }()
	s := &server{stderr: io.Discard}
	req := wire.AppendRequest(nil, &wire.Request{Method: "GET", Path: "/hello/world", Params: []wire.Param{{Name: "name", Value: "world"}},
		Headers: []wire.Header{{Name: "Accept", Values: []string{"*/*"}}}})
	b.ReportAllocs()
	for b.Loop() {
		if _, code := s.serve(req); code != codeOK {
			b.Fatal(code)
		}
	}
}

// A handler may keep its request's strings: the next request, decoded into
// the same buffers, must not change them.
func TestKeptRequestStringsSurviveTheNextRequest(t *testing.T) {
	var kept []string
	var keptHeader http.Header
	var keptReq *http.Request
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keptReq == nil {
			keptReq, keptHeader = r, r.Header
			kept = []string{r.Method, r.URL.Path, r.URL.RawQuery, r.RequestURI, r.Host, r.RemoteAddr, r.PathValue("id"),
				r.Header.Get("X-One"), InvocationID(r.Context()), TraceParent(r.Context())}
		}
	})
	defer func() { handler = nil }()
	s := &server{stderr: io.Discard}
	first := &wire.Request{Method: "PATCH", Path: "/items/first", RawQuery: "q=first", Host: "first.test", RemoteAddr: "10.0.0.1:1",
		Headers: []wire.Header{{Name: "x-one", Values: []string{"first-value"}}}, Params: []wire.Param{{Name: "id", Value: "first"}},
		InvocationID: "inv-first", TraceParent: "00-11111111111111111111111111111111-1111111111111111-01"}
	_, code := s.serve(wire.AppendRequest(nil, first))
	require.Equal(t, codeOK, code)
	second := &wire.Request{Method: "GET", Path: "/items/XXXXXX", RawQuery: "q=XXXXXX", Host: "XXXXXX.test", RemoteAddr: "10.0.0.2:2",
		Headers: []wire.Header{{Name: "x-one", Values: []string{"XXXXXX-XXXXX"}}}, Params: []wire.Param{{Name: "id", Value: "XXXXXX"}},
		InvocationID: "inv-XXXXXX", TraceParent: "00-22222222222222222222222222222222-2222222222222222-01"}
	_, code = s.serve(wire.AppendRequest(nil, second))
	require.Equal(t, codeOK, code)
	require.Equal(t, []string{"PATCH", "/items/first", "q=first", "/items/first?q=first", "first.test", "10.0.0.1:1", "first",
		"first-value", "inv-first", "00-11111111111111111111111111111111-1111111111111111-01"}, kept)
	require.Equal(t, "first-value", keptHeader.Get("X-One"))
	require.Equal(t, "first", keptReq.PathValue("id"))
}

// TestContextDoneAtDeadline: the request context's Done closes before
// the host's deadline with DeadlineExceeded; a context derived from it
// (as database/sql and net/http derive theirs) follows; without a
// deadline Done is nil; and Err alone, never asking Done, reports the
// deadline once it has passed.
func TestContextDoneAtDeadline(t *testing.T) {
	var got error
	var derived error
	var before bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		require.NoError(t, ctx.Err())
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		<-ctx.Done()
		<-child.Done()
		got, derived = ctx.Err(), child.Err()
		dl, _ := ctx.Deadline()
		before = time.Now().Before(dl)
	})
	_, code, _ := serveWith(t, h, &wire.Request{Method: "GET", Path: "/", DeadlineMS: time.Now().Add(300 * time.Millisecond).UnixMilli()})
	require.Equal(t, codeOK, code)
	require.ErrorIs(t, got, context.DeadlineExceeded)
	require.ErrorIs(t, derived, context.DeadlineExceeded)
	require.True(t, before, "Done closes before the host's deadline, so the handler can answer")

	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Nil(t, r.Context().Done(), "no deadline: never done")
		require.NoError(t, r.Context().Err())
	})
	_, code, _ = serveWith(t, h, &wire.Request{Method: "GET", Path: "/"})
	require.Equal(t, codeOK, code)

	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // past the time Done would close
		got = r.Context().Err()
	})
	_, code, _ = serveWith(t, h, &wire.Request{Method: "GET", Path: "/", DeadlineMS: time.Now().Add(50 * time.Millisecond).UnixMilli()})
	require.Equal(t, codeOK, code)
	require.ErrorIs(t, got, context.DeadlineExceeded)
}

// TestSecondHandlerPanics: a function has one handler; a second
// registration of any core kind panics naming both places, rather than
// the last silently winning.
func TestSecondHandlerPanics(t *testing.T) {
	old, oldBy := handler, registeredBy
	t.Cleanup(func() { handler, registeredBy = old, oldBy })
	handler = nil
	HandleFunc(func(http.ResponseWriter, *http.Request) {})
	for name, second := range map[string]func(){
		"HandleHTTP":  func() { HandleHTTP(http.NotFoundHandler()) },
		"HandleFunc":  func() { HandleFunc(func(http.ResponseWriter, *http.Request) {}) },
		"HandleEvent": func() { HandleEvent(func(context.Context, Event) error { return nil }) },
		"HandleBatch": func() { HandleBatch(func(context.Context, []Event) ([]string, error) { return nil, nil }) },
	} {
		var msg string
		func() {
			defer func() { msg = fmt.Sprint(recover()) }()
			second()
		}()
		require.Contains(t, msg, "strata."+name+" at ", name)
		require.Contains(t, msg, "handler_test.go:", "the second registration's place")
		require.Contains(t, msg, "already has a handler, registered by strata.HandleFunc at ", name)
	}
	require.PanicsWithValue(t, "strata.HandleHTTP: nil handler", func() { HandleHTTP(nil) })
}

// TestContextEndsWithTheHandler: once the handler returns, its request's
// context is canceled (as net/http's), so goroutines it left waiting on
// it end.
func TestContextEndsWithTheHandler(t *testing.T) {
	var ctx context.Context
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
		require.NoError(t, ctx.Err())
		_ = ctx.Done()
	})
	_, code, _ := serveWith(t, h, &wire.Request{Method: "GET", Path: "/", DeadlineMS: time.Now().Add(time.Hour).UnixMilli()})
	require.Equal(t, codeOK, code)
	<-ctx.Done()
	require.ErrorIs(t, ctx.Err(), context.Canceled)

	_, code, _ = serveWith(t, h, &wire.Request{Method: "GET", Path: "/"})
	require.Equal(t, codeOK, code)
	<-ctx.Done()
	require.ErrorIs(t, ctx.Err(), context.Canceled)
}
