// Package fetch is outbound HTTP for Strata functions. A guest has no
// network: the host makes the request for it, after checking the URL
// against the function's allow-list (fetch: in the manifest) and refusing
// private addresses unless fetch_private is set.
//
//	resp, err := fetch.Get(r.Context(), "https://api.example.org/v1/things")
//
// or, with any code that takes an *http.Client:
//
//	client := fetch.Client()
//	resp, err := client.Post(url, "application/json", body)
//
// The host follows up to 5 redirects itself (each checked against the
// allow-list), so the response is the final one and resp.Request.URL its
// URL. It adds the invocation's traceparent unless the request sets one.
// Bodies are at most 6 MiB each way and are buffered whole. The request's
// context deadline (and http.Client.Timeout) is passed to the host, which
// also stops at the invocation's deadline and after 30 s.
//
// The package uses only the standard library and works only inside a
// Strata function (GOOS=wasip1).
package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// MaxBodyBytes is the largest request or response body the host moves.
const MaxBodyBytes = 6 << 20

// Transport is an http.RoundTripper whose round trip is the host's fetch.
// The zero value is ready to use.
type Transport struct{}

var _ http.RoundTripper = (*Transport)(nil)

// Client returns an *http.Client that fetches through the host.
func Client() *http.Client { return &http.Client{Transport: &Transport{}} }

// Get fetches url with GET.
func Get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return (&Transport{}).RoundTrip(req)
}

// RoundTrip implements http.RoundTripper.
func (*Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	fr, err := request(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s %s: %w", req.Method, req.URL, err)
	}
	body, err := json.Marshal(fr)
	if err != nil {
		return nil, fmt.Errorf("fetch %s %s: encode request: %w", req.Method, req.URL, err)
	}
	var ans wire.FetchResponse
	err = hostcall.Call(hostcall.Fetch, body, func(answer []byte) error { return json.Unmarshal(answer, &ans) })
	if err != nil {
		// The host's message already names the URL ("fetch https://...:
		// host ... is not in the fetch allow-list ..."); http.Client adds
		// the method.
		return nil, err
	}
	return response(req, &ans), nil
}

// request builds the host's request, consuming and closing req.Body.
func request(req *http.Request) (*wire.FetchRequest, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.URL == nil {
		return nil, errors.New("request has no URL")
	}
	fr := &wire.FetchRequest{Method: req.Method, URL: req.URL.String()}
	if fr.Method == "" {
		fr.Method = http.MethodGet
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		fr.TimeoutMS = int64((left + time.Millisecond - 1) / time.Millisecond)
	}
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		if len(b) > MaxBodyBytes {
			return nil, fmt.Errorf("request body above %d bytes", MaxBodyBytes)
		}
		fr.Body = b
	}
	names := make([]string, 0, len(req.Header))
	for name := range req.Header {
		names = append(names, name)
	}
	slices.Sort(names) // a stable request, easier to read in tests and logs
	for _, name := range names {
		fr.Headers = append(fr.Headers, wire.FetchHeader{Name: name, Values: req.Header[name]})
	}
	return fr, nil
}

func response(req *http.Request, ans *wire.FetchResponse) *http.Response {
	h := make(http.Header, len(ans.Headers))
	for _, fh := range ans.Headers {
		name := http.CanonicalHeaderKey(fh.Name)
		h[name] = append(h[name], fh.Values...)
	}
	resp := &http.Response{
		Status:        strconv.Itoa(ans.Status) + " " + http.StatusText(ans.Status),
		StatusCode:    ans.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(ans.Body)),
		ContentLength: int64(len(ans.Body)),
		Request:       req,
	}
	resp.Status = strings.TrimSpace(resp.Status)
	if ans.URL != "" && ans.URL != req.URL.String() {
		// The host followed redirects: report where the body came from, as
		// net/http's client does.
		if u, err := url.Parse(ans.URL); err == nil {
			final := req.Clone(req.Context())
			final.URL = u
			final.Host = u.Host
			resp.Request = final
		}
	}
	return resp
}
