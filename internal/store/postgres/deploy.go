package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// DeploymentApply applies a project's deploy in one transaction. Deploys are
// rare, so they are serialised outright with an advisory lock: under READ
// COMMITTED two overlapping deploys of one project would otherwise each
// delete the old routes, then clash on inserting the new ones.
func (s *Store) DeploymentApply(ctx context.Context, p store.DeploymentApplyParams) (*store.DeploymentApplyResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var res *store.DeploymentApplyResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = &store.DeploymentApplyResult{Versions: make([]record.Version, 0, len(p.NewVersions))}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("deploy")); err != nil {
			return fmt.Errorf("take deploy lock: %w", err)
		}
		// The route set is replaced wholesale; dropping it first also
		// frees the functions about to be removed from their routes.
		if _, err := tx.Exec(ctx, `DELETE FROM routes WHERE project = $1`, p.Project); err != nil {
			return fmt.Errorf("clear routes: %w", err)
		}
		if len(p.RemoveFunctions) > 0 {
			// Only this project's: a name owned by another project is
			// left alone. Versions go with it (ON DELETE CASCADE).
			if _, err := tx.Exec(ctx, `DELETE FROM functions WHERE project = $1 AND name = ANY($2)`,
				p.Project, p.RemoveFunctions); err != nil {
				return fmt.Errorf("remove functions: %w", err)
			}
		}
		for _, nv := range p.NewVersions {
			v, err := newVersion(ctx, tx, p.Project, nv, now)
			if err != nil {
				return err
			}
			res.Versions = append(res.Versions, *v)
		}
		if p.CheckRoutes != nil {
			if err := checkRoutes(ctx, tx, p.Project, p.CheckRoutes); err != nil {
				return err
			}
		}
		for _, r := range p.Routes {
			if err := insertRoute(ctx, tx, p.Project, r); err != nil {
				return err
			}
		}
		if p.Events != nil {
			if err := applyEvents(ctx, tx, p.Project, p.Events); err != nil {
				return err
			}
		}
		if p.Bindings != nil {
			return applyBindings(ctx, tx, p.Project, p.Bindings)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deploy project %s: %w", p.Project, err)
	}
	return res, nil
}

func newVersion(ctx context.Context, tx pgx.Tx, project string, nv store.NewVersionParams, now time.Time) (*record.Version, error) {
	var owner string
	err := tx.QueryRow(ctx, `SELECT project FROM functions WHERE name = $1`, nv.Function).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO functions (name, project, active_version, created_at, updated_at) VALUES ($1, $2, 0, $3, $3)`,
			nv.Function, project, now); err != nil {
			return nil, fmt.Errorf("create function %s: %w", nv.Function, err)
		}
	case err != nil:
		return nil, fmt.Errorf("look up function %s: %w", nv.Function, err)
	case owner != project:
		return nil, fmt.Errorf("function %s belongs to project %s: %w", nv.Function, owner, store.ErrConflict)
	}

	// The upsert's row lock would keep numbers distinct even without the
	// deploy lock.
	var number int
	if err := tx.QueryRow(ctx, `INSERT INTO version_counters (function, last_number) VALUES ($1, 1)
		ON CONFLICT (function) DO UPDATE SET last_number = version_counters.last_number + 1
		RETURNING last_number`, nv.Function).Scan(&number); err != nil {
		return nil, fmt.Errorf("allocate version of %s: %w", nv.Function, err)
	}
	cfg, err := json.Marshal(nv.Config)
	if err != nil {
		return nil, fmt.Errorf("encode config of %s@%d: %w", nv.Function, number, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO versions (function, number, module_sha256, config, created_at) VALUES ($1, $2, $3, $4, $5)`,
		nv.Function, number, nv.ModuleSHA256, string(cfg), now); err != nil {
		return nil, fmt.Errorf("insert version %s@%d: %w", nv.Function, number, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE functions SET active_version = $1, updated_at = $2 WHERE name = $3`,
		number, now, nv.Function); err != nil {
		return nil, fmt.Errorf("activate %s@%d: %w", nv.Function, number, err)
	}
	return &record.Version{
		Function:     nv.Function,
		Number:       number,
		ModuleSHA256: nv.ModuleSHA256,
		Config:       nv.Config,
		CreatedAt:    now,
	}, nil
}

// insertRoute adds one route of project. The routes of project were deleted
// earlier in the transaction, so any row still holding (method, path) is
// another project's.
func insertRoute(ctx context.Context, tx pgx.Tx, project string, r record.Route) error {
	var owner string
	err := tx.QueryRow(ctx, `SELECT project FROM functions WHERE name = $1`, r.Function).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("route %s %s: function %s: %w", r.Method, r.Path, r.Function, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("route %s %s: look up function %s: %w", r.Method, r.Path, r.Function, err)
	case owner != project:
		return fmt.Errorf("route %s %s: function %s belongs to project %s: %w", r.Method, r.Path, r.Function, owner, store.ErrConflict)
	}
	err = tx.QueryRow(ctx, `SELECT project FROM routes WHERE method = $1 AND path = $2`, r.Method, r.Path).Scan(&owner)
	switch {
	case err == nil:
		return fmt.Errorf("route %s %s belongs to project %s: %w", r.Method, r.Path, owner, store.ErrConflict)
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("route %s %s: look up owner: %w", r.Method, r.Path, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO routes (method, path, project, function, workflow, async, rate_limit, rate_burst)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.Method, r.Path, project, r.Function, cleanText(r.Workflow), r.Async, r.RateLimit, r.RateBurst); err != nil {
		if isUnique(err) {
			return fmt.Errorf("route %s %s: %w", r.Method, r.Path, store.ErrConflict)
		}
		return fmt.Errorf("insert route %s %s: %w", r.Method, r.Path, err)
	}
	return nil
}

// FunctionList returns every function, sorted by name in byte order (COLLATE
// "C", as SQLite sorts, whatever the database's collation).
func (s *Store) FunctionList(ctx context.Context) ([]record.Function, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, project, active_version, created_at, updated_at FROM functions ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Function, error) {
		var f record.Function
		err := row.Scan(&f.Name, &f.Project, &f.ActiveVersion, &f.CreatedAt, &f.UpdatedAt)
		f.CreatedAt, f.UpdatedAt = utc(f.CreatedAt), utc(f.UpdatedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return nilIfEmpty(out), nil
}

// FunctionSetActiveVersion repoints a function at one of its versions.
func (s *Store) FunctionSetActiveVersion(ctx context.Context, name string, version int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE functions SET active_version = $2, updated_at = $3
		WHERE name = $1 AND EXISTS (SELECT 1 FROM versions WHERE function = $1 AND number = $2)`,
		name, version, s.now())
	if err != nil {
		return fmt.Errorf("activate %s@%d: %w", name, version, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = s.pool.QueryRow(ctx, `SELECT 1 FROM functions WHERE name = $1`, name).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("activate %s@%d: function %s: %w", name, version, name, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("activate %s@%d: %w", name, version, err)
	}
	return fmt.Errorf("activate %s@%d: version %d: %w", name, version, version, store.ErrNotFound)
}

// VersionList returns a function's versions, newest first; ErrNotFound if
// the function does not exist. A function always has a version (it is
// created with one), so an empty result means the function is gone.
func (s *Store) VersionList(ctx context.Context, function string) ([]record.Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT function, number, module_sha256, config, created_at FROM versions
		WHERE function = $1 ORDER BY number DESC`, function)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Version, error) { return scanVersion(row) })
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("list versions: function %s: %w", function, store.ErrNotFound)
	}
	return out, nil
}

func scanVersion(row pgx.Row) (record.Version, error) {
	var v record.Version
	var cfg []byte
	if err := row.Scan(&v.Function, &v.Number, &v.ModuleSHA256, &cfg, &v.CreatedAt); err != nil {
		return v, err
	}
	if err := json.Unmarshal(cfg, &v.Config); err != nil {
		return v, fmt.Errorf("decode config of %s@%d: %w", v.Function, v.Number, err)
	}
	v.CreatedAt = utc(v.CreatedAt)
	return v, nil
}

// RouteList returns every route, sorted by path then method in byte order.
func (s *Store) RouteList(ctx context.Context) ([]record.Route, error) {
	rows, err := s.pool.Query(ctx, `SELECT project, method, path, function, workflow, async, rate_limit, rate_burst FROM routes ORDER BY path COLLATE "C", method COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Route, error) {
		var r record.Route
		err := row.Scan(&r.Project, &r.Method, &r.Path, &r.Function, &r.Workflow, &r.Async, &r.RateLimit, &r.RateBurst)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return nilIfEmpty(out), nil
}

// nilIfEmpty keeps "nothing" as a nil slice on both backends.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// checkRoutes calls check with the routes of every project but project, as
// the deploy's transaction sees them (under the deploy lock, so no other
// deploy commits meanwhile).
func checkRoutes(ctx context.Context, tx pgx.Tx, project string, check func([]record.Route) error) error {
	rows, err := tx.Query(ctx, `SELECT project, method, path, function FROM routes WHERE project <> $1`, project)
	if err != nil {
		return fmt.Errorf("list other projects' routes: %w", err)
	}
	others, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Route, error) {
		var r record.Route
		err := row.Scan(&r.Project, &r.Method, &r.Path, &r.Function)
		return r, err
	})
	if err != nil {
		return fmt.Errorf("list other projects' routes: %w", err)
	}
	return check(others)
}

func (q queries) FunctionGet(ctx context.Context, name string) (*record.Function, error) {
	r, err := q.q.FunctionGet(ctx, name)
	if err != nil {
		return nil, notFound(err)
	}
	return &record.Function{Name: r.Name, Project: r.Project, ActiveVersion: int(r.ActiveVersion),
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}, nil
}

func (q queries) VersionGet(ctx context.Context, function string, number int) (*record.Version, error) {
	r, err := q.q.VersionGet(ctx, function, int32(number))
	if err != nil {
		return nil, notFound(err)
	}
	return sqlstore.DecodeVersion(r.Function, int(r.Number), r.ModuleSha256, r.Config, r.CreatedAt)
}
