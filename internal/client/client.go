// Package client is the Go client of Strata's admin API, used by the CLI.
// It speaks only HTTP and JSON, so it works the same against `strata dev`
// and a remote `strata server`.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
)

// Client talks to one Strata server.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
}

// New returns a client for base with the admin token.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{}}
}

// APIError is an error answered by the server.
type APIError struct {
	Status  int
	Message string
}

// Error puts a refusal's (4xx) message first with its status after it:
// `execution "x" not found (404)`; "server answered 404 Not Found:
// execution "x" not found" said it twice. A server error (5xx) keeps the
// longer form: the message alone could read as the user's mistake.
func (e *APIError) Error() string {
	if e.Status >= 400 && e.Status < 500 && e.Message != "" {
		// The status goes at the end of the first line: a message of
		// several lines (a guest's panic and stack) reads on below it.
		first, rest, multi := strings.Cut(e.Message, "\n")
		if multi {
			return fmt.Sprintf("%s (%d)\n%s", first, e.Status, rest)
		}
		return fmt.Sprintf("%s (%d)", e.Message, e.Status)
	}
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+apitype.Prefix+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		// The URL error repeats the whole request URL; the cause (e.g.
		// "connection refused") is what the user needs.
		var ue *url.Error
		if errors.As(err, &ue) && ctx.Err() == nil {
			err = ue.Err
		}
		return nil, &UnreachableError{Base: c.Base, Err: err}
	}
	return resp, nil
}

// UnreachableError is a request that got no answer from the server (the
// CLI's exit code 3).
type UnreachableError struct {
	Base string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Strata at %s (is the server running?): %v", e.Base, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb apitype.ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		return &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	return &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
}

func (c *Client) getJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	hdr := http.Header{}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
		hdr.Set("Content-Type", "application/json")
	}
	resp, err := c.do(ctx, method, path, body, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Ping checks that the server is reachable and the token is valid.
func (c *Client) Ping(ctx context.Context) error {
	return c.getJSON(ctx, http.MethodGet, "/whoami", nil, nil)
}

// UploadBlob uploads module bytes unless the server has them already.
// It reports whether bytes were sent.
func (c *Client) UploadBlob(ctx context.Context, sha string, data []byte) (bool, error) {
	resp, err := c.do(ctx, http.MethodHead, "/blobs/"+sha, nil, nil)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return false, nil
	case http.StatusNotFound:
	default:
		return false, &APIError{Status: resp.StatusCode, Message: "check module " + sha}
	}
	resp, err = c.do(ctx, http.MethodPut, "/blobs/"+sha, bytes.NewReader(data), http.Header{"Content-Type": {"application/wasm"}})
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return false, decodeError(resp)
	}
	return true, nil
}

// Deploy sends a deploy spec; with plan it only computes the plan.
func (c *Client) Deploy(ctx context.Context, spec apitype.Spec, plan bool) (*apitype.DeployResult, error) {
	var out apitype.DeployResult
	err := c.getJSON(ctx, http.MethodPost, "/deploy?plan="+strconv.FormatBool(plan), spec, &out)
	return &out, err
}

// Functions lists deployed functions.
func (c *Client) Functions(ctx context.Context) ([]apitype.FunctionInfo, error) {
	var out []apitype.FunctionInfo
	return out, c.getJSON(ctx, http.MethodGet, "/functions", nil, &out)
}

// Versions lists a function's versions, newest first.
func (c *Client) Versions(ctx context.Context, fn string) ([]apitype.VersionInfo, error) {
	var out []apitype.VersionInfo
	return out, c.getJSON(ctx, http.MethodGet, "/functions/"+url.PathEscape(fn)+"/versions", nil, &out)
}

// Rollback repoints a function to an earlier version.
func (c *Client) Rollback(ctx context.Context, fn string, version int) error {
	return c.getJSON(ctx, http.MethodPost, "/functions/"+url.PathEscape(fn)+"/rollback", apitype.RollbackRequest{Version: version}, nil)
}

// InvokeResult is a function's answer to a direct invoke.
type InvokeResult struct {
	Status       int
	Header       http.Header
	Body         []byte
	InvocationID string
}

// Invoke runs a function directly with body; method and path default to
// POST and "/".
func (c *Client) Invoke(ctx context.Context, fn, method, path string, body []byte) (*InvokeResult, error) {
	hdr := http.Header{}
	if method != "" {
		hdr.Set(apitype.HeaderMethod, method)
	}
	if path != "" {
		hdr.Set(apitype.HeaderPath, path)
	}
	if json.Valid(body) {
		hdr.Set("Content-Type", "application/json")
	}
	return c.invoke(ctx, "/functions/"+url.PathEscape(fn)+"/invoke", body, hdr)
}

// InvokeEvent runs a function directly with body wrapped as the
// CloudEvent its source (queue, topic or schedule; name picks one when the
// function has several) would send; an empty body sends a sample event.
func (c *Client) InvokeEvent(ctx context.Context, fn, source, name string, body []byte, contentType string) (*InvokeResult, error) {
	hdr := http.Header{}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	q := url.Values{"event": {source}}
	if name != "" {
		q.Set("source", name)
	}
	return c.invoke(ctx, "/functions/"+url.PathEscape(fn)+"/invoke?"+q.Encode(), body, hdr)
}

func (c *Client) invoke(ctx context.Context, path string, body []byte, hdr http.Header) (*InvokeResult, error) {
	resp, err := c.do(ctx, http.MethodPost, path, bytes.NewReader(body), hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	id := resp.Header.Get(apitype.HeaderInvocationID)
	// A platform error (no such function, timeout, trap, throttle) has
	// Strata's JSON error body; a function's own answer is passed through.
	if resp.Header.Get(apitype.HeaderVersion) == "" && resp.StatusCode >= 400 {
		var eb apitype.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			return &InvokeResult{Status: resp.StatusCode, Header: resp.Header, Body: b, InvocationID: id},
				&APIError{Status: resp.StatusCode, Message: eb.Error}
		}
	}
	return &InvokeResult{Status: resp.StatusCode, Header: resp.Header, Body: b, InvocationID: id}, nil
}

// LogsParams selects log lines (GET /logs); zero values do not filter.
type LogsParams struct {
	Function   string
	Invocation string
	After      int64  // lines with a greater id
	Since      string // a duration back from now (10m) or an RFC 3339 time
	Until      string // lines before this: a duration back from now or an RFC 3339 time
	Trace      string // lines of invocations in this trace (32 hex)
	Tail       int    // only the last Tail lines (then following continues)
	Level      string // minimum level: debug, info, warn, error
	Follow     bool
	// OnConnect, if set, is called once the server has accepted the
	// request, before any line (the CLI says "reconnected" there).
	OnConnect func()
}

// Logs calls fn for each log line until the stream ends (or, when
// following, until ctx is done).
func (c *Client) Logs(ctx context.Context, p LogsParams, fn func(apitype.LogEntry) error) error {
	q := url.Values{}
	if p.Function != "" {
		q.Set("function", p.Function)
	}
	if p.After > 0 {
		q.Set("after", strconv.FormatInt(p.After, 10))
	}
	if p.Invocation != "" {
		q.Set("invocation", p.Invocation)
	}
	if p.Since != "" {
		q.Set("since", p.Since)
	}
	if p.Until != "" {
		q.Set("until", p.Until)
	}
	if p.Trace != "" {
		q.Set("trace", p.Trace)
	}
	if p.Tail > 0 {
		q.Set("tail", strconv.Itoa(p.Tail))
	}
	if p.Level != "" {
		q.Set("level", p.Level)
	}
	q.Set("follow", strconv.FormatBool(p.Follow))
	resp, err := c.do(ctx, http.MethodGet, "/logs?"+q.Encode(), nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if p.OnConnect != nil {
		p.OnConnect()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e apitype.LogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("decode log line: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		return err
	}
	return nil
}

// Usage fetches the usage report for the last since (0 = everything).
func (c *Client) Usage(ctx context.Context, function string, since time.Duration) (*apitype.UsageReport, error) {
	q := url.Values{}
	if function != "" {
		q.Set("function", function)
	}
	if since > 0 {
		q.Set("since", since.String())
	}
	var out apitype.UsageReport
	return &out, c.getJSON(ctx, http.MethodGet, "/usage?"+q.Encode(), nil, &out)
}
