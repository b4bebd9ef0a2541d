package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// DeployQueries are the statements on functions, versions and routes.
type DeployQueries interface {
	// DeployLock serialises deploys, until the transaction ends. Under
	// PostgreSQL's READ COMMITTED two overlapping deploys of one project
	// would each delete the old routes, then clash on inserting the new
	// ones; SQLite's single writer serialises them already.
	DeployLock(ctx context.Context) error

	// FunctionProject returns the project owning a function.
	FunctionProject(ctx context.Context, name string) (string, error)
	FunctionGet(ctx context.Context, name string) (*record.Function, error)
	// FunctionList returns every function, by name in byte order.
	FunctionList(ctx context.Context) ([]record.Function, error)
	// FunctionInsert creates a function with no active version yet.
	FunctionInsert(ctx context.Context, name, project string, at time.Time) error
	// FunctionDelete deletes a function of project (its versions go with
	// it); another project's function of that name is left alone.
	FunctionDelete(ctx context.Context, name, project string) error
	// FunctionActivate points a function at one of its versions and
	// reports whether both existed.
	FunctionActivate(ctx context.Context, name string, number int, at time.Time) (bool, error)

	// VersionNext allocates a function's next version number. The counter
	// outlives the function, so a name added again continues its numbering.
	VersionNext(ctx context.Context, function string) (int, error)
	// VersionInsert stores a version; config is its FunctionConfig as JSON.
	VersionInsert(ctx context.Context, v *record.Version, config []byte) error
	VersionGet(ctx context.Context, function string, number int) (*record.Version, error)
	// VersionList returns a function's versions, newest first.
	VersionList(ctx context.Context, function string) ([]record.Version, error)

	// RouteOwner returns the project owning the route (method, path).
	RouteOwner(ctx context.Context, method, path string) (string, error)
	RouteInsert(ctx context.Context, project string, r record.Route) error
	RouteDeleteProject(ctx context.Context, project string) error
	// RouteList returns every route, by path then method in byte order.
	RouteList(ctx context.Context) ([]record.Route, error)
}

// DecodeVersion builds a Version from its stored columns; config is the
// FunctionConfig as JSON. Adapters call it so decoding is written once.
func DecodeVersion(function string, number int, moduleSHA256 string, config []byte, createdAt time.Time) (record.Version, error) {
	v := record.Version{Function: function, Number: number, ModuleSHA256: moduleSHA256, CreatedAt: createdAt.UTC()}
	if err := json.Unmarshal(config, &v.Config); err != nil {
		return v, fmt.Errorf("decode config of %s@%d: %w", function, number, err)
	}
	return v, nil
}

// DeploymentApply applies a project's deploy in one write transaction:
// either everything lands or nothing does.
func (s *Store) DeploymentApply(ctx context.Context, p store.DeploymentApplyParams) (*store.DeploymentApplyResult, error) {
	defer s.op("DeploymentApply", time.Now())
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.nowUTC()
	var res *store.DeploymentApplyResult
	err := s.d.InTx(ctx, func(q Queries) error {
		res = &store.DeploymentApplyResult{Versions: make([]record.Version, 0, len(p.NewVersions))}
		if err := q.DeployLock(ctx); err != nil {
			return fmt.Errorf("take deploy lock: %w", err)
		}
		// The route set is replaced wholesale; dropping it first also
		// frees the functions about to be removed from their routes.
		if err := q.RouteDeleteProject(ctx, p.Project); err != nil {
			return fmt.Errorf("clear routes: %w", err)
		}
		for _, name := range p.RemoveFunctions {
			if err := q.FunctionDelete(ctx, name, p.Project); err != nil {
				return fmt.Errorf("remove function %s: %w", name, err)
			}
		}
		for _, nv := range p.NewVersions {
			v, err := newVersion(ctx, q, p.Project, nv, now)
			if err != nil {
				return err
			}
			res.Versions = append(res.Versions, *v)
		}
		if p.CheckRoutes != nil {
			// Under the deploy lock, so no other deploy commits meanwhile.
			// Every route, then filtered: deploys are rare, and one
			// listing query serves RouteList too.
			all, err := q.RouteList(ctx)
			if err != nil {
				return fmt.Errorf("list other projects' routes: %w", err)
			}
			var others []record.Route
			for _, r := range all {
				if r.Project != p.Project {
					others = append(others, r)
				}
			}
			if err := p.CheckRoutes(others); err != nil {
				return err
			}
		}
		for _, r := range p.Routes {
			if err := s.insertRoute(ctx, q, p.Project, r); err != nil {
				return err
			}
		}
		if p.Events != nil {
			if err := s.applyEvents(ctx, q, p.Project, p.Events); err != nil {
				return err
			}
		}
		if p.Bindings != nil {
			return applyBindings(ctx, q, p.Project, p.Bindings)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deploy project %s: %w", p.Project, err)
	}
	return res, nil
}

// newVersion creates the function if it is new (refusing another project's),
// numbers the version and makes it active.
func newVersion(ctx context.Context, q Queries, project string, nv store.NewVersionParams, now time.Time) (*record.Version, error) {
	owner, err := q.FunctionProject(ctx, nv.Function)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := q.FunctionInsert(ctx, nv.Function, project, now); err != nil {
			return nil, fmt.Errorf("create function %s: %w", nv.Function, err)
		}
	case err != nil:
		return nil, fmt.Errorf("look up function %s: %w", nv.Function, err)
	case owner != project:
		return nil, fmt.Errorf("function %s belongs to project %s: %w", nv.Function, owner, store.ErrConflict)
	}
	number, err := q.VersionNext(ctx, nv.Function)
	if err != nil {
		return nil, fmt.Errorf("allocate version of %s: %w", nv.Function, err)
	}
	cfg, err := json.Marshal(nv.Config)
	if err != nil {
		return nil, fmt.Errorf("encode config of %s@%d: %w", nv.Function, number, err)
	}
	v := &record.Version{Function: nv.Function, Number: number, ModuleSHA256: nv.ModuleSHA256, Config: nv.Config, CreatedAt: now}
	if err := q.VersionInsert(ctx, v, cfg); err != nil {
		return nil, fmt.Errorf("insert version %s@%d: %w", nv.Function, number, err)
	}
	if _, err := q.FunctionActivate(ctx, nv.Function, number, now); err != nil {
		return nil, fmt.Errorf("activate %s@%d: %w", nv.Function, number, err)
	}
	return v, nil
}

// insertRoute adds one route of project. The routes of project were deleted
// earlier in the transaction, so any row still holding (method, path) is
// another project's.
func (s *Store) insertRoute(ctx context.Context, q Queries, project string, r record.Route) error {
	owner, err := q.FunctionProject(ctx, r.Function)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("route %s %s: function %s: %w", r.Method, r.Path, r.Function, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("route %s %s: look up function %s: %w", r.Method, r.Path, r.Function, err)
	case owner != project:
		return fmt.Errorf("route %s %s: function %s belongs to project %s: %w", r.Method, r.Path, r.Function, owner, store.ErrConflict)
	}
	owner, err = q.RouteOwner(ctx, r.Method, r.Path)
	switch {
	case err == nil:
		return fmt.Errorf("route %s %s belongs to project %s: %w", r.Method, r.Path, owner, store.ErrConflict)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("route %s %s: look up owner: %w", r.Method, r.Path, err)
	}
	r.Workflow = CleanText(r.Workflow)
	if err := q.RouteInsert(ctx, project, r); err != nil {
		if s.d.IsUnique(err) {
			return fmt.Errorf("route %s %s: %w", r.Method, r.Path, store.ErrConflict)
		}
		return fmt.Errorf("insert route %s %s: %w", r.Method, r.Path, err)
	}
	return nil
}

// FunctionGet returns one function.
func (s *Store) FunctionGet(ctx context.Context, name string) (*record.Function, error) {
	defer s.op("FunctionGet", time.Now())
	f, err := s.d.Read().FunctionGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("function", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get function %s: %w", name, err)
	}
	return f, nil
}

// FunctionList returns every function, sorted by name in byte order.
func (s *Store) FunctionList(ctx context.Context) ([]record.Function, error) {
	defer s.op("FunctionList", time.Now())
	fs, err := s.d.Read().FunctionList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return fs, nil
}

// FunctionSetActiveVersion repoints a function at one of its versions.
func (s *Store) FunctionSetActiveVersion(ctx context.Context, name string, version int) error {
	defer s.op("FunctionSetActiveVersion", time.Now())
	return s.d.InTx(ctx, func(q Queries) error {
		ok, err := q.FunctionActivate(ctx, name, version, s.nowUTC())
		if err != nil {
			return fmt.Errorf("activate %s@%d: %w", name, version, err)
		}
		if ok {
			return nil
		}
		// Say which of the two is missing.
		_, err = q.FunctionProject(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return store.NotFound("function", name)
		}
		if err != nil {
			return fmt.Errorf("activate %s@%d: %w", name, version, err)
		}
		return store.NotFound("version", fmt.Sprintf("%s@%d", name, version))
	})
}

// VersionGet returns one version of a function.
func (s *Store) VersionGet(ctx context.Context, function string, number int) (*record.Version, error) {
	defer s.op("VersionGet", time.Now())
	v, err := s.d.Read().VersionGet(ctx, function, number)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("version", fmt.Sprintf("%s@%d", function, number))
	}
	if err != nil {
		return nil, fmt.Errorf("get version %s@%d: %w", function, number, err)
	}
	return v, nil
}

// VersionList returns a function's versions, newest first; ErrNotFound if
// the function does not exist. A function always has a version (it is
// created with one, in the same transaction), so an empty list means the
// function is not there, with no second query to disagree with the first.
func (s *Store) VersionList(ctx context.Context, function string) ([]record.Version, error) {
	defer s.op("VersionList", time.Now())
	vs, err := s.d.Read().VersionList(ctx, function)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	if len(vs) == 0 {
		return nil, store.NotFound("function", function)
	}
	return vs, nil
}

// RouteList returns every route, sorted by path then method in byte order.
func (s *Store) RouteList(ctx context.Context) ([]record.Route, error) {
	defer s.op("RouteList", time.Now())
	rs, err := s.d.Read().RouteList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return rs, nil
}
