package lambdaapi

import (
	"net/http"
	"strings"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
)

// caller is who sent a request: the project it acts on.
type caller struct {
	project string
}

// authenticate finds the request's token and the project it acts on, as
// the Step Functions API does (gateway.AWSCredential): a project's token
// acts on its project; a token of every project names one as the SigV4
// region or in X-Strata-Project. Invoking runs code, so it takes scope
// deploy, as the admin API's invoke does.
func (h *Handler) authenticate(r *http.Request) (*caller, error) {
	token, region := gateway.AWSCredential(r)
	if token == "" {
		return nil, errorf(http.StatusForbidden, errUnrecognizedClient, "The security token included in the request is invalid. (pass a Strata API token as the access key id, or as a Bearer token)")
	}
	tok, err := h.cfg.Authenticate(r.Context(), token)
	if err != nil {
		if gateway.Status(err) == http.StatusUnauthorized {
			return nil, errorf(http.StatusForbidden, errUnrecognizedClient, "The security token included in the request is invalid.")
		}
		return nil, err
	}
	if tok.Scope != record.ScopeDeploy && tok.Scope != record.ScopeAdmin {
		return nil, errorf(http.StatusForbidden, errAccessDenied, "token %s has scope %s; Invoke needs scope deploy", tok.Name, tok.Scope)
	}
	if tok.Project != "" {
		return &caller{project: tok.Project}, nil
	}
	if region == "" {
		return nil, errorf(http.StatusForbidden, errAccessDenied, "token %s is of every project: name the project as the region (AWS_REGION=<project>) or, with a Bearer token, in %s", tok.Name, gateway.AWSProjectHeader)
	}
	if err := deploy.ValidateName(region); err != nil {
		return nil, errorf(http.StatusForbidden, errAccessDenied, "token %s is of every project, and the region %q it names is no project name: %v", tok.Name, region, err)
	}
	return &caller{project: region}, nil
}

// parseName takes the function name and qualifier out of FunctionName as
// Lambda accepts it: a name (my-function), a name with a qualifier
// (my-function:3), a partial ARN (123456789012:function:my-function) or
// an ARN (arn:aws:lambda:<region>:<account>:function:my-function[:3]). An
// ARN or partial ARN of another account (project) is not found: a token
// reaches its own project only. The region of an ARN is not checked (a
// client may sign for any region).
func (h *Handler) parseName(project, s string) (name, qualifier string, err error) {
	parts := strings.Split(s, ":")
	account := ""
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" && len(parts) <= 8:
		account, name = parts[4], parts[6]
		if len(parts) == 8 {
			qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function" && len(parts) <= 4:
		account, name = parts[0], parts[2]
		if len(parts) == 4 {
			qualifier = parts[3]
		}
	case len(parts) <= 2:
		name = parts[0]
		if len(parts) == 2 {
			qualifier = parts[1]
		}
	default:
		return "", "", errorf(http.StatusBadRequest, errValidation, "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: a function name, name:qualifier or function ARN", s)
	}
	if err := deploy.ValidateName(name); err != nil {
		return "", "", errorf(http.StatusBadRequest, errValidation, "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: %v", name, err)
	}
	if parts[0] == "arn" && qualifier == "" && len(parts) == 8 {
		return "", "", errorf(http.StatusBadRequest, errValidation, "the ARN %q ends with an empty qualifier", s)
	}
	if account != "" && account != h.cfg.Account(project) {
		return "", "", h.notFound(project, name)
	}
	return name, qualifier, nil
}

// arn is the ARN of function name of project.
func (h *Handler) arn(project, name string) string {
	return "arn:aws:lambda:" + Region + ":" + h.cfg.Account(project) + ":function:" + name
}

// notFound is the answer for a function that is not the caller's: absent,
// or another project's; the message names only the caller's project.
func (h *Handler) notFound(project, name string) error {
	return errorf(http.StatusNotFound, errNotFound, "Function not found: %s", h.arn(project, name))
}

func (h *Handler) versionNotActive(project, name string, version, active int) error {
	return errorf(http.StatusNotFound, errNotFound, "Function not found: %s:%d (Strata runs a function's active version only, now %d; `strata rollback` makes an earlier version active)", h.arn(project, name), version, active)
}
