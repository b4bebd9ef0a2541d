package sfn

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// parseDefinition parses a definition as CreateStateMachine does: a
// problem is InvalidDefinition with asl's AWS-worded message.
func parseDefinition(def string) (*asl.Definition, error) {
	if def == "" {
		return nil, errorf(errMissingParameter, "Missing required parameter: definition")
	}
	d, err := asl.Parse([]byte(def))
	if err != nil {
		return nil, errorf(errInvalidDefinition, "%s", err.Error())
	}
	return d, nil
}

// notExist maps the store's not-found to AWS's StateMachineDoesNotExist.
func notExist(err error, arn string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(errDoesNotExist, "State Machine Does Not Exist: '%s'", arn)
	}
	return err
}

type createInput struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
	RoleArn    string `json:"roleArn"`
	Type       string `json:"type"`
}

func (h *Handler) createStateMachine(ctx context.Context, c *caller, body []byte) (any, error) {
	var in createInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Name == "" {
		return nil, errorf(errMissingParameter, "Missing required parameter: name")
	}
	if err := checkName("state machine", in.Name); err != nil {
		return nil, err
	}
	switch in.Type {
	case "":
		in.Type = record.StateMachineStandard // AWS's default
	case record.StateMachineStandard, record.StateMachineExpress:
	default:
		return nil, errorf(errValidation, "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]", in.Type)
	}
	if _, err := parseDefinition(in.Definition); err != nil {
		return nil, err
	}
	arn := machineArn(c.project, in.Name)
	m, err := h.cfg.Store.StateMachineCreate(ctx, record.StateMachine{Project: c.project, Name: in.Name, Type: in.Type,
		Definition: in.Definition, RoleArn: in.RoleArn})
	if errors.Is(err, store.ErrConflict) {
		// AWS answers a repeated, identical create with the existing
		// machine (idempotent), and a different one with an error.
		old, gerr := h.cfg.Store.StateMachineGet(ctx, c.project, in.Name)
		if gerr != nil {
			return nil, gerr
		}
		if old.Type != in.Type || old.Definition != in.Definition || old.RoleArn != in.RoleArn {
			return nil, errorf(errAlreadyExists, "State Machine Already Exists: '%s'", arn)
		}
		m = old
	} else if err != nil {
		return nil, err
	}
	return struct {
		StateMachineArn string `json:"stateMachineArn"`
		CreationDate    epoch  `json:"creationDate"`
	}{arn, epoch(m.CreatedAt)}, nil
}

type arnInput struct {
	StateMachineArn string `json:"stateMachineArn"`
}

// machine reads the machine a request names by ARN.
func (h *Handler) machine(ctx context.Context, c *caller, arn string) (*record.StateMachine, error) {
	name, err := machineName(c.project, arn)
	if err != nil {
		return nil, err
	}
	m, err := h.cfg.Store.StateMachineGet(ctx, c.project, name)
	if err != nil {
		return nil, notExist(err, arn)
	}
	return m, nil
}

type machineOutput struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	Definition      string `json:"definition"`
	RoleArn         string `json:"roleArn"`
	Type            string `json:"type"`
	CreationDate    epoch  `json:"creationDate"`
	RevisionID      string `json:"revisionId,omitempty"`
	Logging         struct {
		Level                string `json:"level"`
		IncludeExecutionData bool   `json:"includeExecutionData"`
	} `json:"loggingConfiguration"`
}

func (h *Handler) describeStateMachine(ctx context.Context, c *caller, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := h.machine(ctx, c, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	out := machineOutput{StateMachineArn: machineArn(m.Project, m.Name), Name: m.Name, Status: "ACTIVE",
		Definition: m.Definition, RoleArn: m.RoleArn, Type: m.Type, CreationDate: epoch(m.CreatedAt)}
	if m.Revision > 1 {
		// AWS reports a revision id once a machine has been updated.
		out.RevisionID = revisionID(m)
	}
	out.Logging.Level = "OFF"
	return out, nil
}

// revisionID is a machine revision's id: its number, as text.
func revisionID(m *record.StateMachine) string {
	return strconv.FormatInt(m.Revision, 10)
}

type updateInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Definition      *string `json:"definition"`
	RoleArn         *string `json:"roleArn"`
}

func (h *Handler) updateStateMachine(ctx context.Context, c *caller, body []byte) (any, error) {
	var in updateInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := h.machine(ctx, c, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if in.Definition == nil && in.RoleArn == nil {
		return nil, errorf(errMissingParameter, "Either the definition, the roleArn, the loggingConfiguration or the tracingConfiguration must be specified")
	}
	def, role := m.Definition, m.RoleArn
	if in.Definition != nil {
		if _, err := parseDefinition(*in.Definition); err != nil {
			return nil, err
		}
		def = *in.Definition
	}
	if in.RoleArn != nil {
		role = *in.RoleArn
	}
	up, err := h.cfg.Store.StateMachineUpdate(ctx, c.project, m.Name, def, role)
	if err != nil {
		return nil, notExist(err, in.StateMachineArn)
	}
	h.forget(c.project, m.Name)
	return struct {
		UpdateDate epoch  `json:"updateDate"`
		RevisionID string `json:"revisionId"`
	}{epoch(up.UpdatedAt), revisionID(up)}, nil
}

func (h *Handler) deleteStateMachine(ctx context.Context, c *caller, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	name, err := machineName(c.project, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	// Deleting a machine that does not exist succeeds, as at AWS
	// (DeleteStateMachine is idempotent).
	if _, err := h.cfg.Store.StateMachineDelete(ctx, c.project, name); err != nil {
		return nil, err
	}
	h.forget(c.project, name)
	return struct{}{}, nil
}

type listInput struct {
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

type listItem struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	CreationDate    epoch  `json:"creationDate"`
}

// ListStateMachines pages by name: nextToken is the last name of the
// page, base64-encoded (opaque to clients, as AWS's is).
func (h *Handler) listStateMachines(ctx context.Context, c *caller, body []byte) (any, error) {
	var in listInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, errorf(errValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
	}
	limit := in.MaxResults
	if limit == 0 {
		limit = 100
	}
	var after string
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, errorf(errInvalidToken, "Invalid Token: '%s'", in.NextToken)
		}
		after = string(b)
	}
	// One more than asked tells whether there is a next page.
	ms, err := h.cfg.Store.StateMachinesList(ctx, store.StateMachinesListParams{Project: c.project, After: after, Limit: limit + 1})
	if err != nil {
		return nil, err
	}
	var out struct {
		StateMachines []listItem `json:"stateMachines"`
		NextToken     string     `json:"nextToken,omitempty"`
	}
	out.StateMachines = []listItem{}
	if len(ms) > limit {
		ms = ms[:limit]
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(ms[limit-1].Name))
	}
	for _, m := range ms {
		out.StateMachines = append(out.StateMachines, listItem{machineArn(m.Project, m.Name), m.Name, m.Type, epoch(m.CreatedAt)})
	}
	return out, nil
}

type validateInput struct {
	Definition string `json:"definition"`
	Type       string `json:"type"`
	MaxResults int    `json:"maxResults"`
}

type diagnostic struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

// validateDefinition answers as AWS's ValidateStateMachineDefinition: OK,
// or FAIL with one ERROR diagnostic per problem (up to maxResults).
func (h *Handler) validateDefinition(ctx context.Context, c *caller, body []byte) (any, error) {
	var in validateInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Definition == "" {
		return nil, errorf(errMissingParameter, "Missing required parameter: definition")
	}
	out := struct {
		Result      string       `json:"result"`
		Diagnostics []diagnostic `json:"diagnostics"`
		Truncated   bool         `json:"truncated"`
	}{Result: "OK", Diagnostics: []diagnostic{}}
	_, err := asl.Parse([]byte(in.Definition))
	var de *asl.DefinitionError
	if errors.As(err, &de) {
		out.Result = "FAIL"
		max := in.MaxResults
		if max <= 0 {
			max = 100
		}
		for i, d := range de.Diagnostics {
			if i == max {
				out.Truncated = true
				break
			}
			out.Diagnostics = append(out.Diagnostics, diagnostic{Severity: "ERROR", Code: d.Code, Message: d.Message, Location: d.Location})
		}
	} else if err != nil {
		return nil, err
	}
	return out, nil
}
