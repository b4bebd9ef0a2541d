package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/sdk/go/wire"
)

// lambdaInvoke is the optimised Lambda integration's resource.
const lambdaInvoke = "arn:aws:states:::lambda:invoke"

// tasks runs a machine's Task states as functions of its project.
type tasks struct {
	h       *Handler
	project string
}

var _ asl.Tasks = (*tasks)(nil)

// Invoke runs resource, one of: a function name; a Lambda function ARN
// (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]),
// whose result is the function's JSON body; or lambda:invoke with
// Parameters FunctionName and Payload, whose result is wrapped as AWS
// wraps it (Payload, StatusCode, ...).
func (t *tasks) Invoke(ctx context.Context, resource string, params json.RawMessage, token string) (json.RawMessage, error) {
	if token != "" || strings.HasPrefix(resource, lambdaInvoke+".") {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: "Strata does not support the resource '" + resource + "' (callbacks with .waitForTaskToken and .sync come later)"}
	}
	if resource == lambdaInvoke {
		var p struct {
			FunctionName string          `json:"FunctionName"`
			Payload      json.RawMessage `json:"Payload"`
		}
		if err := json.Unmarshal(params, &p); err != nil || p.FunctionName == "" {
			return nil, &asl.Error{Name: asl.ErrRuntime, Cause: "The Parameters of lambda:invoke must name a FunctionName"}
		}
		payload := p.Payload
		if len(payload) == 0 {
			payload = json.RawMessage("{}")
		}
		status, id, body, err := t.call(ctx, functionName(p.FunctionName), payload)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{
			"ExecutedVersion":     "$LATEST",
			"Payload":             body,
			"SdkHttpMetadata":     map[string]any{"HttpStatusCode": status, "HttpHeaders": map[string]string{"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}},
			"SdkResponseMetadata": map[string]any{"RequestId": id},
			"StatusCode":          status,
		})
	}
	if strings.HasPrefix(resource, "arn:") && !strings.HasPrefix(resource, "arn:aws:lambda:") {
		return nil, &asl.Error{Name: asl.ErrTaskFailed, Cause: "Strata does not support the resource '" + resource + "': a Task names a function, a Lambda function ARN or " + lambdaInvoke}
	}
	_, _, body, err := t.call(ctx, functionName(resource), params)
	return body, err
}

// functionName takes the name out of a Lambda ARN or a partial ARN
// (name:qualifier); the region, account and qualifier are ignored, since
// only the machine's project is reached anyway.
func functionName(s string) string {
	if rest, ok := strings.CutPrefix(s, "arn:aws:lambda:"); ok {
		parts := strings.Split(rest, ":")
		if len(parts) >= 4 && parts[2] == "function" {
			return parts[3]
		}
		return rest
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

// call invokes function name of the task's project with payload as a
// POST / request. A failure is an *asl.Error as AWS reports a Lambda
// failure: the function's errorType (else Lambda.Unknown), the body as
// the cause. The status and invocation id are for lambda:invoke's
// wrapper.
func (t *tasks) call(ctx context.Context, name string, payload json.RawMessage) (int, string, json.RawMessage, error) {
	// A function of another project is as absent as one that does not
	// exist: the error says nothing of other projects.
	if !t.h.inProject(ctx, name, t.project) {
		return 0, "", nil, &asl.Error{Name: "Lambda.ResourceNotFoundException",
			Cause: "Function not found: " + name + " (in project " + t.project + ")"}
	}
	res, err := t.h.cfg.Invoker.Invoke(ctx, invoke.Request{Function: name, Trigger: "invoke", Wire: &wire.Request{
		Method: http.MethodPost, Path: "/", Body: payload,
		Headers: []wire.Header{{Name: "Content-Type", Values: []string{"application/json"}}},
	}})
	if err != nil {
		if ctx.Err() != nil {
			return 0, "", nil, ctx.Err()
		}
		var he interface{ LambdaError() (string, string) }
		if errors.As(err, &he) {
			// A process's handler threw: AWS names the error by the
			// handler's errorType, the error object as the cause.
			typ, msg := he.LambdaError()
			b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
			return 0, "", nil, &asl.Error{Name: typ, Cause: string(b)}
		}
		return 0, "", nil, &asl.Error{Name: lambdaErrorName(err), Cause: err.Error()}
	}
	body := res.Response.Body
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	isJSON := json.Valid(body)
	if isJSON {
		_ = json.Unmarshal(body, &fe)
	}
	if res.Response.Status >= 300 || fe.ErrorType != "" {
		name := fe.ErrorType
		if name == "" {
			name = "Lambda.Unknown"
		}
		cause := string(body)
		if !isJSON {
			// The cause is always JSON at AWS: the error wrapped.
			b, _ := json.Marshal(map[string]string{"errorType": name, "errorMessage": string(body)})
			cause = string(b)
		}
		return 0, "", nil, &asl.Error{Name: name, Cause: cause}
	}
	if !isJSON {
		// A body that is not JSON is the JSON string of its text.
		body, _ = json.Marshal(string(body))
	}
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	return res.Response.Status, res.InvocationID, body, nil
}

// inProject reports whether function name is deployed in project.
func (h *Handler) inProject(ctx context.Context, name, project string) bool {
	if h.cfg.ProjectOf != nil {
		return h.cfg.ProjectOf(name) == project
	}
	f, err := h.cfg.Store.FunctionGet(ctx, name)
	return err == nil && f.Project == project
}

// lambdaErrorName names an invocation failure as the Lambda integration
// does.
func lambdaErrorName(err error) string {
	switch {
	case invoke.IsThrottled(err):
		return "Lambda.TooManyRequestsException"
	case errors.Is(err, invoke.ErrLoading), invoke.IsLoading(err):
		return "Lambda.ServiceException"
	default:
		return "Lambda.Unknown"
	}
}
