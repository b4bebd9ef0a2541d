package lambdaapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// PathPrefix is where the API lives on the public listener: the gateway
// hands it every request under this path, before the routes (a route
// under it is shadowed).
const PathPrefix = gateway.LambdaAPIPrefix

// MaxPayload is the largest payload of a synchronous invocation: 6 MiB, as
// Lambda's. An Event invocation's is events.MaxEventBytes.
const MaxPayload = 6 << 20

// MaxLogTail is how much of an invocation's logs X-Amz-Log-Result carries
// (the end of them), as Lambda's 4 KB.
const MaxLogTail = 4 << 10

// Region is the region of the ARNs the API answers with, as package sfn's.
const Region = "strata"

// Header names of the protocol.
const (
	hdrInvocationType = "X-Amz-Invocation-Type"
	hdrLogType        = "X-Amz-Log-Type"
	hdrLogResult      = "X-Amz-Log-Result"
	hdrFunctionError  = "X-Amz-Function-Error"
	hdrExecVersion    = "X-Amz-Executed-Version"
	hdrRequestID      = "X-Amzn-Requestid"
	hdrErrorType      = "X-Amzn-Errortype"
)

// Invoker runs a function; the invoke package's Invoker implements it.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// AsyncInvoker stores an Event invocation durably; the events engine
// implements it.
type AsyncInvoker interface {
	InvokeAsyncPayload(ctx context.Context, function string, req *wire.Request, traceParent string) (*apitype.SendResult, error)
}

// Config configures a Handler. Invoker, Async, Authenticate and ProjectOf
// are required.
type Config struct {
	Invoker Invoker
	Async   AsyncInvoker
	// Authenticate returns the Strata API token whose secret is token
	// (package api's check, with its cache); an error means refused.
	Authenticate func(ctx context.Context, token string) (record.Token, error)
	// ProjectOf names the project of a deployed function ("": none),
	// from memory.
	ProjectOf func(function string) string
	// Account is the account id of a project in ARNs (sfn.Account), so
	// the ARNs of both APIs agree.
	Account func(project string) string
	// ActiveVersion is the version of a function this node runs (0:
	// none), for the Qualifier of Event and DryRun invocations; nil:
	// their qualifier is not checked.
	ActiveVersion func(function string) int
	Logger        *slog.Logger
}

// Handler serves the Lambda Invoke API.
type Handler struct{ cfg Config }

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Account == nil {
		cfg.Account = func(p string) string { return p }
	}
	return &Handler{cfg: cfg}
}

// ServeHTTP serves one request under PathPrefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		e, ok := err.(*apiError)
		if !ok {
			h.cfg.Logger.Error("lambda invoke API request failed", "path", r.URL.Path, "err", err)
		}
		writeError(w, e)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	// The name may be an ARN, so it is taken from the escaped path:
	// clients escape the colons, and a slash inside it must not split it.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), PathPrefix)
	esc, ok2 := strings.CutSuffix(rest, "/invocations")
	if !ok || !ok2 || esc == "" || strings.Contains(esc, "/") {
		return errorf(http.StatusNotFound, errUnknownOperation, "Strata's Lambda API serves Invoke only (POST %s{FunctionName}/invocations), not %s %s", PathPrefix, r.Method, r.URL.Path)
	}
	if r.Method != http.MethodPost {
		return errorf(http.StatusMethodNotAllowed, errUnknownOperation, "Invoke is POST, not %s", r.Method)
	}
	c, err := h.authenticate(r)
	if err != nil {
		return err
	}
	raw, err := url.PathUnescape(esc)
	if err != nil {
		return errorf(http.StatusBadRequest, errValidation, "the function name %q is not a valid path segment: %v", esc, err)
	}
	name, qualifier, err := h.parseName(c.project, raw)
	if err != nil {
		return err
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		if qualifier != "" && qualifier != q {
			return errorf(http.StatusBadRequest, errInvalidParameter, "The derived qualifier from the function name does not match the specified qualifier.")
		}
		qualifier = q
	}
	version := 0
	if qualifier != "" && qualifier != "$LATEST" {
		n, err := strconv.Atoi(qualifier)
		if err != nil || n < 1 {
			return errorf(http.StatusNotFound, errNotFound, "Function not found: %s:%s (Strata has no aliases: a qualifier is $LATEST or a version number)", h.arn(c.project, name), qualifier)
		}
		version = n
	}
	// A function of another project is as absent as one that does not
	// exist; the invoker checks again against the version it runs.
	if h.cfg.ProjectOf(name) != c.project {
		return h.notFound(c.project, name)
	}

	switch t := r.Header.Get(hdrInvocationType); t {
	case "", "RequestResponse":
		return h.invoke(w, r, c.project, name, version)
	case "Event":
		return h.invokeEvent(w, r, c.project, name, version)
	case "DryRun":
		if err := h.checkVersion(c.project, name, version); err != nil {
			return err
		}
		w.Header().Set(hdrRequestID, newRequestID())
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return errorf(http.StatusBadRequest, errInvalidParameter, "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, got %q", t)
	}
}

// checkVersion refuses a qualifier that names another version than the
// active one, for DryRun and Event, which run nothing now (a
// RequestResponse invocation is checked by the invoker against the
// version it runs).
func (h *Handler) checkVersion(project, name string, version int) error {
	if version == 0 || h.cfg.ActiveVersion == nil {
		return nil
	}
	if active := h.cfg.ActiveVersion(name); active != version {
		return h.versionNotActive(project, name, version, active)
	}
	return nil
}
