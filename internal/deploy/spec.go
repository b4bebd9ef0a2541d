package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
)

// Spec is a whole project as the CLI wants it deployed: every function with
// the digest of its already uploaded module, its config, routes and
// triggers, the project's queues and topics, and its binding resources:
// databases, KV namespaces and the names of the secrets it uses (never
// their values). It is the body of the admin API's deploy call.
type Spec struct {
	Project   string         `json:"project"`
	Functions []FunctionSpec `json:"functions"`
	Queues    []QueueSpec    `json:"queues,omitempty"`
	Topics    []TopicSpec    `json:"topics,omitempty"`
	Databases []DatabaseSpec `json:"databases,omitempty"`
	KV        []KVSpec       `json:"kv,omitempty"`
	Secrets   []string       `json:"secrets,omitempty"`
}

// FunctionSpec is one function of a Spec.
type FunctionSpec struct {
	Name         string                `json:"name"`
	ModuleSHA256 string                `json:"module_sha256"`
	Config       record.FunctionConfig `json:"config"`
	Routes       []RouteSpec           `json:"routes,omitempty"`

	// Triggers besides routes: a user queue the function consumes, topics
	// it subscribes to, a schedule.
	Queue    *QueueTrigger `json:"queue,omitempty"`
	Topics   []string      `json:"topics,omitempty"`
	Schedule *ScheduleSpec `json:"schedule,omitempty"`

	// Retries of async invokes, topic messages and scheduled fires after
	// the first attempt, and the queue that gets events that failed them
	// all. They configure the function's internal queues rather than its
	// version, so changing them makes no new version. A spec without
	// "retries" means 0: the manifest fills in DefaultRetries.
	Retries    int    `json:"retries"`
	DeadLetter string `json:"dead_letter,omitempty"`
}

// RouteSpec is one route of a function. Method is "*" for any method.
type RouteSpec struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Async routes store the request, answer 202 and invoke later.
	Async bool `json:"async,omitempty"`
	// RateLimit in requests per second (0: none) with a token bucket of
	// RateBurst; both set or both zero.
	RateLimit float64 `json:"rate_limit,omitempty"`
	RateBurst int     `json:"rate_burst,omitempty"`
	// Workflow, when set, makes the route start an execution of this
	// workflow instead of invoking the function; it must be one of the
	// function's own (Config.Workflows). Not with Async.
	Workflow string `json:"workflow,omitempty"`
}

// Validate re-checks a Spec on the server: the CLI validated the manifest,
// but the API must not trust its caller. Every problem is reported; the
// error wraps ErrInvalidSpec.
func (s Spec) Validate() error {
	var errs []error
	if err := ValidateName(s.Project); err != nil {
		errs = append(errs, fmt.Errorf("project: %w", err))
	}
	if len(s.Functions) == 0 {
		errs = append(errs, errors.New("functions: at least one function is required"))
	}
	seen := make(map[string]bool, len(s.Functions))
	type owner struct {
		fn string
		rt RouteSpec
	}
	routes := make(map[string]owner)
	for i, f := range s.Functions {
		where := fmt.Sprintf("functions[%d]", i)
		if f.Name != "" {
			where = fmt.Sprintf("function %q", f.Name)
		}
		if err := ValidateName(f.Name); err != nil {
			errs = append(errs, fmt.Errorf("functions[%d].name: %w", i, err))
		} else if seen[f.Name] {
			errs = append(errs, fmt.Errorf("%s: appears twice", where))
		}
		seen[f.Name] = true
		if err := ValidateSHA256(f.ModuleSHA256); err != nil {
			errs = append(errs, fmt.Errorf("%s: module_sha256: %w", where, err))
		}
		if err := ValidateConfig(f.Config); err != nil {
			errs = append(errs, fmt.Errorf("%s: config: %w", where, err))
		}
		for _, r := range f.Routes {
			p, err := route.New(r.Method, r.Path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: route %s %s: %w", where, r.Method, r.Path, err))
				continue
			}
			if prev, ok := routes[p.Key()]; ok {
				errs = append(errs, fmt.Errorf("%s: route %s %s clashes with %s %s of function %q",
					where, r.Method, r.Path, prev.rt.Method, prev.rt.Path, prev.fn))
				continue
			}
			routes[p.Key()] = owner{fn: f.Name, rt: r}
		}
	}
	errs = append(errs, s.validateEvents()...)
	errs = append(errs, s.validateBindings()...)
	errs = append(errs, s.validateWorkflows()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}
	return nil
}

// storeRoutes lists the Spec's routes as the store keeps them, sorted.
func (s Spec) storeRoutes() []record.Route {
	var out []record.Route
	for _, f := range s.Functions {
		for _, r := range f.Routes {
			out = append(out, record.Route{
				Project: s.Project, Method: r.Method, Path: r.Path, Function: f.Name,
				Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: r.RateBurst,
			})
		}
	}
	slices.SortFunc(out, compareRoutes)
	return out
}

func compareRoutes(a, b record.Route) int {
	if c := cmp.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Method, b.Method); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Function, b.Function); c != 0 {
		return c
	}
	return cmp.Compare(a.Project, b.Project)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
