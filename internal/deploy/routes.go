package deploy

import (
	"errors"
	"fmt"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
	"github.com/stratahq/strata/internal/store"
)

// RouteOwnershipConflicts refuses the routes of project that would take
// paths another project owns. Each route claims a part of the path space
// (route.Claim: a literal path, or a literal prefix and everything under
// it when the route has a parameter); a route whose claim overlaps a claim
// of another project's deployed route is refused, whatever the methods, with
// the owning project and its route named. The first deploy wins; a project
// may always redeploy its own routes.
//
// Checking claims rather than exact matches is what keeps projects apart:
// any two routes that could match one request have overlapping claims, so
// no route of one project can shadow (a literal beats a parameter) or catch
// (a catch-all takes what nothing else matches) a request meant for
// another's. others holds every project's routes, from the store, so the
// check sees what other nodes deployed.
func RouteOwnershipConflicts(project string, routes, others []record.Route) []error {
	type owned struct {
		r record.Route
		c route.Claim
	}
	var theirs []owned
	for _, o := range others {
		if o.Project == project {
			continue
		}
		p, err := route.New(o.Method, o.Path)
		if err != nil {
			continue // the gateway cannot serve it either
		}
		theirs = append(theirs, owned{o, p.Claim()})
	}
	var errs []error
	for _, r := range routes {
		p, err := route.New(r.Method, r.Path)
		if err != nil {
			continue // reported by validation
		}
		mine := p.Claim()
		for _, o := range theirs {
			if !mine.Overlaps(o.c) {
				continue
			}
			var why string
			switch {
			case o.c.Covers(mine):
				why = fmt.Sprintf("project %q owns %s", o.r.Project, o.c)
				if o.c.Open {
					why += " and every path under it"
				}
			default: // mine is the wider claim
				why = fmt.Sprintf("it would take %s and every path under it, where project %q serves %s", mine, o.r.Project, o.r.Path)
			}
			errs = append(errs, fmt.Errorf("route %s %s of function %q overlaps %s %s of project %q (function %q): %s; "+
				"paths belong to the first project that deploys a route on them: choose a path outside it, or remove the route from project %q first: %w",
				r.Method, r.Path, r.Function, o.r.Method, o.r.Path, o.r.Project, o.r.Function, why, o.r.Project, store.ErrConflict))
			break // one owner named per route is enough to act on
		}
	}
	return errs
}

// routeCheck is DeploymentApplyParams.CheckRoutes for a deploy of project
// with routes: the ownership check again, inside the store's transaction,
// so two nodes planning at once cannot both take one path.
func routeCheck(project string, routes []record.Route) func(others []record.Route) error {
	return func(others []record.Route) error {
		if errs := RouteOwnershipConflicts(project, routes, others); len(errs) > 0 {
			return errors.Join(errs...)
		}
		return nil
	}
}
