package lambdaapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// readPayload reads the request's payload, at most limit bytes, and checks
// that it is JSON, as Lambda does. An empty payload is the empty object.
func readPayload(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, errInvalidContent, "read the payload: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, errTooLarge, "Request must be smaller than %d bytes for the %s invocation type", limit, invocationType(r))
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(body) {
		return nil, errorf(http.StatusBadRequest, errInvalidContent, "Could not parse request body into json: the payload is not valid JSON")
	}
	return body, nil
}

func invocationType(r *http.Request) string {
	if t := r.Header.Get(hdrInvocationType); t != "" {
		return t
	}
	return "RequestResponse"
}

// payloadRequest is the request that carries a payload to a function: a
// POST / with the payload as its JSON body, as a direct invoke is (and
// as package sfn's Task states call functions).
func payloadRequest(payload []byte) *wire.Request {
	return &wire.Request{Method: http.MethodPost, Path: "/", Body: payload,
		Headers: []wire.Header{{Name: "Content-Type", Values: []string{"application/json"}}}}
}

// invoke runs a RequestResponse invocation and answers its result.
func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, project, name string, version int) error {
	payload, err := readPayload(r, MaxPayload)
	if err != nil {
		return err
	}
	var tail *logTail
	req := invoke.Request{Function: name, Trigger: "invoke", TraceParent: r.Header.Get("Traceparent"),
		Wire: payloadRequest(payload), Project: project, Version: version}
	if strings.EqualFold(r.Header.Get(hdrLogType), "Tail") {
		tail = &logTail{}
		req.Logs = tail.add
	}
	res, err := h.cfg.Invoker.Invoke(r.Context(), req)
	var fnErr *functionError
	var he handlerError
	switch {
	case err == nil:
		if s := res.Response.Status; s < 200 || s > 299 {
			fnErr = answerError(res.Response)
		}
	case r.Context().Err() != nil:
		return nil // the caller went away: nobody to answer
	case invoke.IsNoFunction(err):
		return h.notFound(project, name)
	case errors.Is(err, invoke.ErrVersionNotActive):
		active := 0
		if h.cfg.ActiveVersion != nil {
			active = h.cfg.ActiveVersion(name)
		}
		return h.versionNotActive(project, name, version, active)
	case invoke.IsThrottled(err):
		return errorf(http.StatusTooManyRequests, errTooManyRequests, "Rate Exceeded. (%v)", err)
	case invoke.IsLoading(err):
		return errorf(http.StatusBadGateway, errNotReady, "The function is still loading on this node; retry shortly. (%v)", err)
	case invoke.IsTimeout(err):
		fnErr = &functionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("%s %s Task timed out: %v", time.Now().UTC().Format(time.RFC3339), res.InvocationID, err)}
	case invoke.IsCPULimit(err):
		// Lambda has no CPU limit of its own; like its timeout, the
		// function's failure, reported in the body as an error of the
		// sandbox.
		fnErr = &functionError{Type: "Sandbox.CPUTimeLimitExceeded", Message: err.Error()}
	case invoke.IsResponseTooLarge(err):
		fnErr = &functionError{Type: "Function.ResponseSizeTooLarge", Message: err.Error()}
	case errors.As(err, &he):
		// A process's handler reported its own error object: Lambda
		// answers it as the handler built it.
		typ, msg := he.LambdaError()
		fnErr = &functionError{Type: typ, Message: msg}
	case invoke.IsGuestFailure(err):
		fnErr = &functionError{Type: "Runtime.ExitError", Message: err.Error()}
	default:
		// A failure of the platform, not of the function.
		return err
	}
	if res == nil {
		return err
	}
	hd := w.Header()
	hd.Set(hdrRequestID, res.InvocationID)
	hd.Set("X-Strata-Invocation-Id", res.InvocationID)
	if res.Version != 0 {
		hd.Set(hdrExecVersion, strconv.Itoa(res.Version))
	}
	if tail != nil {
		hd.Set(hdrLogResult, tail.result(res, version))
	}
	hd.Set("Content-Type", "application/json")
	var body []byte
	if fnErr != nil {
		hd.Set(hdrFunctionError, "Unhandled")
		body, _ = json.Marshal(fnErr)
	} else {
		body = res.Response.Body
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// handlerError is a failure whose handler reported its own error object
// (process.HandlerError: a Node.js, Python or provided handler that threw
// or returned an error through the Runtime API).
type handlerError interface {
	error
	LambdaError() (typ, message string)
}

// functionError is a function's failure as Lambda reports it in the
// answer's body.
type functionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// answerError is the failure of a function that answered a status other
// than 2xx: its body when it is already Lambda's error object, else the
// body's text as the message.
func answerError(resp *wire.Response) *functionError {
	var fe functionError
	if json.Unmarshal(resp.Body, &fe) == nil && fe.Message != "" {
		if fe.Type == "" {
			fe.Type = "Function.Status" + strconv.Itoa(resp.Status)
		}
		return &fe
	}
	msg := string(resp.Body)
	if len(msg) > MaxLogTail {
		msg = msg[:MaxLogTail] + "…"
	}
	return &functionError{Type: "Function.Status" + strconv.Itoa(resp.Status),
		Message: fmt.Sprintf("the function answered status %d: %s", resp.Status, strings.TrimSpace(msg))}
}

// invokeEvent stores an Event invocation durably and answers 202: the
// function runs it from its async queue, retried on failure then sent to
// its dead-letter queue, as any async invoke.
func (h *Handler) invokeEvent(w http.ResponseWriter, r *http.Request, project, name string, version int) error {
	if err := h.checkVersion(project, name, version); err != nil {
		return err
	}
	payload, err := readPayload(r, events.MaxEventBytes)
	if err != nil {
		return err
	}
	res, err := h.cfg.Async.InvokeAsyncPayload(r.Context(), name, payloadRequest(payload), r.Header.Get("Traceparent"))
	switch {
	case errors.Is(err, events.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, errTooLarge, "Request must be smaller than %d bytes for the Event invocation type", events.MaxEventBytes)
	case errors.Is(err, store.ErrNotFound):
		return h.notFound(project, name)
	case err != nil:
		return err
	}
	w.Header().Set(hdrRequestID, res.ID)
	w.Header().Set("X-Strata-Event-Id", res.ID)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// logTail keeps the end of an invocation's log lines, for
// X-Amz-Log-Result. Lines come from the invoking goroutine only
// (invoke.Request.Logs), so it needs no lock.
type logTail struct {
	buf []byte
}

func (t *logTail) add(l record.LogLine) {
	// Lines as the function printed them, as Lambda's log stream has
	// them; the platform's own (a timeout, a trap) among them.
	t.buf = append(t.buf, l.Line...)
	t.buf = append(t.buf, '\n')
	// Keep a little more than the tail needs, so a long run of lines
	// costs bounded memory.
	if len(t.buf) > 4*MaxLogTail {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-MaxLogTail:]...)
	}
}

// result is the base64 of the last MaxLogTail bytes of the invocation's
// log as Lambda writes it: START, the lines, END and REPORT.
func (t *logTail) result(res *invoke.Result, qualifier int) string {
	v := "$LATEST"
	if qualifier != 0 {
		v = strconv.Itoa(qualifier)
	}
	var b []byte
	b = fmt.Appendf(b, "START RequestId: %s Version: %s\n", res.InvocationID, v)
	b = append(b, t.buf...)
	b = fmt.Appendf(b, "END RequestId: %s\n", res.InvocationID)
	b = fmt.Appendf(b, "REPORT RequestId: %s\tDuration: %.2f ms\tVersion: %d\n", res.InvocationID, float64(res.Duration.Microseconds())/1000, res.Version)
	if len(b) > MaxLogTail {
		b = b[len(b)-MaxLogTail:]
	}
	return base64.StdEncoding.EncodeToString(b)
}

// newRequestID is a request id for answers that run nothing (DryRun).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}
