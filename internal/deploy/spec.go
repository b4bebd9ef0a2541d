package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
)

// Validate re-checks a Spec on the server: the CLI validated the manifest,
// but the API must not trust its caller. Every problem is reported; the
// error wraps ErrInvalidSpec.
func Validate(s apitype.Spec) error {
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
		rt apitype.RouteSpec
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
	errs = append(errs, validateEvents(s)...)
	errs = append(errs, validateBindings(s)...)
	errs = append(errs, validateWorkflows(s)...)
	errs = append(errs, validateObjects(s)...)
	errs = append(errs, validateStateMachines(s)...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, errors.Join(errs...))
	}
	return nil
}

// storeRoutes lists the Spec's routes as the store keeps them, sorted.
func storeRoutes(s apitype.Spec) []record.Route {
	var out []record.Route
	for _, f := range s.Functions {
		for _, r := range f.Routes {
			out = append(out, record.Route{
				Project: s.Project, Method: r.Method, Path: r.Path, Function: f.Name,
				Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: r.RateBurst,
				Object: r.Object, ObjectParam: r.ObjectParam, WebSocket: r.WebSocket,
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
