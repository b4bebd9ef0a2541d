package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// TargetHeader is the header that names the operation; the gateway hands
// a request carrying it to the Handler.
const TargetHeader = "X-Amz-Target"

const (
	targetPrefix = "AWSStepFunctions."
	contentType  = "application/x-amz-json-1.0"
	// maxRequest bounds a request body: a definition (1 MiB at AWS) or
	// an input (256 KiB), with room for the JSON around them.
	maxRequest = 2 << 20
)

// Invoker runs a function; the invoke package's Invoker implements it.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// Store is what the Handler reads and writes.
type Store interface {
	store.StateMachines
	FunctionGet(ctx context.Context, name string) (*record.Function, error)
}

// Config configures a Handler. Store, Invoker and Authenticate are
// required.
type Config struct {
	Store   Store
	Invoker Invoker
	// Authenticate returns the Strata API token whose secret is token
	// (package api's check, with its cache); an error means refused.
	Authenticate func(ctx context.Context, token string) (record.Token, error)
	Logger       *slog.Logger
	// Executions runs STANDARD executions (the flow engine); without it
	// only EXPRESS machines run.
	Executions Executions
	// ProjectOf, when set, names the project of a deployed function ("":
	// none) from memory; else each Task reads the function from the
	// store.
	ProjectOf func(function string) string
}

// Handler serves the Step Functions API. Stop ends the executions it
// runs in the background.
type Handler struct {
	cfg Config
	ops map[string]op
	// machines caches what executions start from (runnable).
	machines sync.Map // machineKey → *cachedMachine
	ctx      context.Context
	cancel   context.CancelCauseFunc
	bg       sync.WaitGroup
	// maxDuration ends an execution TIMED_OUT (maxExpressDuration;
	// tests shorten it).
	maxDuration time.Duration
	// defs caches parsed definitions of STANDARD executions by the
	// SHA-256 of their text; ndefs counts them (standard.go).
	defs  sync.Map
	ndefs atomic.Int64
}

// op is one operation: need is the token scope it takes; fn decodes its
// input from body and returns the output to encode.
type op struct {
	need string
	fn   func(ctx context.Context, c *caller, body []byte) (any, error)
}

// caller is who sent a request: the project it acts on.
type caller struct {
	project string
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	h := &Handler{cfg: cfg, ctx: ctx, cancel: cancel, maxDuration: maxExpressDuration}
	h.ops = map[string]op{
		"CreateStateMachine":             {record.ScopeDeploy, h.createStateMachine},
		"UpdateStateMachine":             {record.ScopeDeploy, h.updateStateMachine},
		"DeleteStateMachine":             {record.ScopeDeploy, h.deleteStateMachine},
		"DescribeStateMachine":           {record.ScopeRead, h.describeStateMachine},
		"ListStateMachines":              {record.ScopeRead, h.listStateMachines},
		"ValidateStateMachineDefinition": {record.ScopeRead, h.validateDefinition},
		"StartSyncExecution":             {record.ScopeDeploy, h.startSyncExecution},
		"StartExecution":                 {record.ScopeDeploy, h.startExecution},
		"DescribeExecution":              {record.ScopeRead, h.describeExecution},
		"ListExecutions":                 {record.ScopeRead, h.listExecutions},
		"GetExecutionHistory":            {record.ScopeRead, h.getExecutionHistory},
		"StopExecution":                  {record.ScopeDeploy, h.stopExecution},
		"RedriveExecution":               {record.ScopeDeploy, h.redriveExecution},
		"SendTaskSuccess":                {record.ScopeDeploy, h.sendTaskSuccess},
		"SendTaskFailure":                {record.ScopeDeploy, h.sendTaskFailure},
		"SendTaskHeartbeat":              {record.ScopeDeploy, h.sendTaskHeartbeat},
	}
	return h
}

// Stop cancels the background executions and waits for them to end.
// Idempotent.
func (h *Handler) Stop() {
	h.cancel(errors.New("server stopping"))
	h.bg.Wait()
}

// ServeHTTP serves one operation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.Header.Get(TargetHeader), targetPrefix)
	o, known := h.ops[name]
	if !ok || !known {
		writeError(w, errorf(errUnknownOperation, "Operation %q is not supported by Strata's Step Functions API", name))
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, errorf(errSerialization, "Step Functions requests are POST, not %s", r.Method))
		return
	}
	c, err := h.authenticate(r, o.need)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil {
		writeError(w, errorf(errSerialization, "read request: %v", err))
		return
	}
	if len(body) > maxRequest {
		writeError(w, errorf(errValidation, "request body exceeds %d bytes", maxRequest))
		return
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	out, err := o.fn(r.Context(), c, body)
	if err != nil {
		var nf *store.NotFoundError
		if !errors.As(err, &nf) {
			if _, isAPI := err.(*apiError); !isAPI {
				h.cfg.Logger.Error("step functions operation failed", "operation", name, "project", c.project, "err", err)
			}
		}
		writeError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// decode reads an operation's input; an unknown field is not an error
// (clients send fields Strata ignores, such as tags).
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(errSerialization, "the request body is not valid JSON for this operation: %v", err)
	}
	return nil
}

// scopeRank orders token scopes as package api does: a token may use an
// operation whose scope ranks at or below its own.
var scopeRank = map[string]int{record.ScopeRead: 1, record.ScopeDeploy: 2, record.ScopeAdmin: 3}

// ProjectHeader names the project a token of every project acts on when
// it comes as a Bearer token; with SigV4 the region of the credential
// scope names it.
const ProjectHeader = gateway.AWSProjectHeader

// authenticate finds the request's token and the project it acts on. The
// token is the access key id of a SigV4 Authorization header
// (AWS4-HMAC-SHA256 Credential=<token>/<date>/<region>/states/aws4_request)
// or a Bearer token. The signature is not verified: the token itself is
// the secret, so the request must travel over TLS.
func (h *Handler) authenticate(r *http.Request, need string) (*caller, error) {
	token, region := gateway.AWSCredential(r)
	if token == "" {
		return nil, errorf(errUnrecognizedClient, "The security token included in the request is invalid. (pass a Strata API token as the access key id)")
	}
	tok, err := h.cfg.Authenticate(r.Context(), token)
	if err != nil {
		if gateway.Status(err) == http.StatusUnauthorized {
			return nil, errorf(errUnrecognizedClient, "The security token included in the request is invalid.")
		}
		return nil, err
	}
	if scopeRank[tok.Scope] < scopeRank[need] {
		return nil, errorf(errAccessDenied, "token %s has scope %s; this operation needs scope %s", tok.Name, tok.Scope, need)
	}
	if tok.Project != "" {
		return &caller{project: tok.Project}, nil
	}
	// A token of every project names its project: the SigV4 region
	// (AWS_REGION=<project>) or the X-Strata-Project header.
	if region == "" {
		return nil, errorf(errAccessDenied, "token %s is of every project: name the project as the region (AWS_REGION=<project>) or, with a Bearer token, in %s", tok.Name, ProjectHeader)
	}
	if err := deploy.ValidateName(region); err != nil {
		return nil, errorf(errAccessDenied, "token %s is of every project, and the region %q it names is no project name: %v", tok.Name, region, err)
	}
	return &caller{project: region}, nil
}

// epoch is a time as the AWS JSON protocol writes timestamps: seconds
// since 1970 as a number, to the millisecond.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// machineTTL is how long an execution start trusts a machine read from
// the store. AWS documents the same eventual consistency: executions
// started shortly after UpdateStateMachine or DeleteStateMachine may
// still use the previous definition. This node's own updates and deletes
// take effect at once (forget); another node's within machineTTL.
const machineTTL = time.Second

type machineKey struct{ project, name string }

// cachedMachine is a machine with its parsed definition, as read at at.
type cachedMachine struct {
	m   *record.StateMachine
	def *asl.Definition
	at  time.Time
}

// runnable returns the machine named name of project with its parsed
// definition, from the cache when it is fresh: a start costs neither a
// store read nor a parse on the hot path.
func (h *Handler) runnable(ctx context.Context, project, name string) (*record.StateMachine, *asl.Definition, error) {
	k := machineKey{project, name}
	now := time.Now()
	if v, ok := h.machines.Load(k); ok {
		if c := v.(*cachedMachine); now.Sub(c.at) < machineTTL {
			return c.m, c.def, nil
		}
	}
	m, err := h.cfg.Store.StateMachineGet(ctx, project, name)
	if err != nil {
		return nil, nil, err
	}
	def, err := asl.Parse([]byte(m.Definition))
	if err != nil {
		// Stored definitions were valid when stored; one that no
		// longer parses (an older Strata accepted it) is reported.
		return nil, nil, errorf(errInvalidDefinition, "%s", err.Error())
	}
	h.machines.Store(k, &cachedMachine{m: m, def: def, at: now})
	return m, def, nil
}

// forget drops a machine from the cache after this node updated or
// deleted it.
func (h *Handler) forget(project, name string) {
	h.machines.Delete(machineKey{project, name})
}
