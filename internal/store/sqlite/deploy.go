package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// DeploymentApply applies a project's deploy in one write transaction. With a
// single writer connection, deploys are serialised, which is what makes
// concurrent deploys of one function get distinct version numbers.
func (s *Store) DeploymentApply(ctx context.Context, p store.DeploymentApplyParams) (*store.DeploymentApplyResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	res := &store.DeploymentApplyResult{Versions: make([]record.Version, 0, len(p.NewVersions))}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The route set is replaced wholesale; dropping it first also
		// frees the functions about to be removed from their routes.
		if _, err := tx.ExecContext(ctx, `DELETE FROM routes WHERE project = ?`, p.Project); err != nil {
			return fmt.Errorf("clear routes: %w", err)
		}
		for _, name := range p.RemoveFunctions {
			// Only this project's: a name owned by another project is
			// left alone. Versions go with it (ON DELETE CASCADE).
			if _, err := tx.ExecContext(ctx, `DELETE FROM functions WHERE name = ? AND project = ?`, name, p.Project); err != nil {
				return fmt.Errorf("remove function %s: %w", name, err)
			}
		}
		for _, nv := range p.NewVersions {
			v, err := s.newVersion(ctx, tx, p.Project, nv, now)
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

func (s *Store) newVersion(ctx context.Context, tx *sql.Tx, project string, nv store.NewVersionParams, now time.Time) (*record.Version, error) {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT project FROM functions WHERE name = ?`, nv.Function).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO functions (name, project, active_version, created_at, updated_at) VALUES (?, ?, 0, ?, ?)`,
			nv.Function, project, micros(now), micros(now)); err != nil {
			return nil, fmt.Errorf("create function %s: %w", nv.Function, err)
		}
	case err != nil:
		return nil, fmt.Errorf("look up function %s: %w", nv.Function, err)
	case owner != project:
		return nil, fmt.Errorf("function %s belongs to project %s: %w", nv.Function, owner, store.ErrConflict)
	}

	var number int
	if err := tx.QueryRowContext(ctx, `INSERT INTO version_counters (function, last_number) VALUES (?, 1)
		ON CONFLICT (function) DO UPDATE SET last_number = last_number + 1
		RETURNING last_number`, nv.Function).Scan(&number); err != nil {
		return nil, fmt.Errorf("allocate version of %s: %w", nv.Function, err)
	}
	cfg, err := json.Marshal(nv.Config)
	if err != nil {
		return nil, fmt.Errorf("encode config of %s@%d: %w", nv.Function, number, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO versions (function, number, module_sha256, config, created_at) VALUES (?, ?, ?, ?, ?)`,
		nv.Function, number, nv.ModuleSHA256, string(cfg), micros(now)); err != nil {
		return nil, fmt.Errorf("insert version %s@%d: %w", nv.Function, number, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE functions SET active_version = ?, updated_at = ? WHERE name = ?`,
		number, micros(now), nv.Function); err != nil {
		return nil, fmt.Errorf("activate %s@%d: %w", nv.Function, number, err)
	}
	return &record.Version{
		Function:     nv.Function,
		Number:       number,
		ModuleSHA256: nv.ModuleSHA256,
		Config:       nv.Config,
		CreatedAt:    fromMicros(micros(now)),
	}, nil
}

// insertRoute adds one route of project. The routes of project were deleted
// earlier in the transaction, so any row still holding (method, path) is
// another project's.
func insertRoute(ctx context.Context, tx *sql.Tx, project string, r record.Route) error {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT project FROM functions WHERE name = ?`, r.Function).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("route %s %s: function %s: %w", r.Method, r.Path, r.Function, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("route %s %s: look up function %s: %w", r.Method, r.Path, r.Function, err)
	case owner != project:
		return fmt.Errorf("route %s %s: function %s belongs to project %s: %w", r.Method, r.Path, r.Function, owner, store.ErrConflict)
	}
	err = tx.QueryRowContext(ctx, `SELECT project FROM routes WHERE method = ? AND path = ?`, r.Method, r.Path).Scan(&owner)
	switch {
	case err == nil:
		return fmt.Errorf("route %s %s belongs to project %s: %w", r.Method, r.Path, owner, store.ErrConflict)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("route %s %s: look up owner: %w", r.Method, r.Path, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO routes (method, path, project, function, workflow, async, rate_limit, rate_burst)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Method, r.Path, project, r.Function, cleanText(r.Workflow), r.Async, r.RateLimit, r.RateBurst); err != nil {
		if isUnique(err) {
			return fmt.Errorf("route %s %s: %w", r.Method, r.Path, store.ErrConflict)
		}
		return fmt.Errorf("insert route %s %s: %w", r.Method, r.Path, err)
	}
	return nil
}

// FunctionList returns every function, sorted by name.
func (s *Store) FunctionList(ctx context.Context) ([]record.Function, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, project, active_version, created_at, updated_at FROM functions ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	defer rows.Close()
	var out []record.Function
	for rows.Next() {
		var f record.Function
		var created, updated int64
		if err := rows.Scan(&f.Name, &f.Project, &f.ActiveVersion, &created, &updated); err != nil {
			return nil, fmt.Errorf("list functions: %w", err)
		}
		f.CreatedAt, f.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	return out, nil
}

// FunctionSetActiveVersion repoints a function at one of its versions.
func (s *Store) FunctionSetActiveVersion(ctx context.Context, name string, version int) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE functions SET active_version = ?, updated_at = ?
			WHERE name = ? AND EXISTS (SELECT 1 FROM versions WHERE function = ? AND number = ?)`,
			version, micros(s.now()), name, name, version)
		if err != nil {
			return fmt.Errorf("activate %s@%d: %w", name, version, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM functions WHERE name = ?`, name).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("activate %s@%d: function %s: %w", name, version, name, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("activate %s@%d: %w", name, version, err)
		}
		return fmt.Errorf("activate %s@%d: version %d: %w", name, version, version, store.ErrNotFound)
	})
}

// VersionList returns a function's versions, newest first; ErrNotFound if
// the function does not exist.
func (s *Store) VersionList(ctx context.Context, function string) ([]record.Version, error) {
	// One read transaction so the existence check and the list agree.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM functions WHERE name = ?`, function).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list versions: function %s: %w", function, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT function, number, module_sha256, config, created_at FROM versions
		WHERE function = ? ORDER BY number DESC`, function)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	defer rows.Close()
	var out []record.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", function, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", function, err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanVersion(sc scanner) (*record.Version, error) {
	var v record.Version
	var cfg string
	var created int64
	if err := sc.Scan(&v.Function, &v.Number, &v.ModuleSHA256, &cfg, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cfg), &v.Config); err != nil {
		return nil, fmt.Errorf("decode config of %s@%d: %w", v.Function, v.Number, err)
	}
	v.CreatedAt = fromMicros(created)
	return &v, nil
}

// RouteList returns every route, sorted by path then method.
func (s *Store) RouteList(ctx context.Context) ([]record.Route, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT project, method, path, function, workflow, async, rate_limit, rate_burst FROM routes ORDER BY path, method`)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	defer rows.Close()
	var out []record.Route
	for rows.Next() {
		var r record.Route
		if err := rows.Scan(&r.Project, &r.Method, &r.Path, &r.Function, &r.Workflow, &r.Async, &r.RateLimit, &r.RateBurst); err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return out, nil
}

// checkRoutes calls check with the routes of every project but project, as
// the deploy's transaction sees them.
func checkRoutes(ctx context.Context, tx *sql.Tx, project string, check func([]record.Route) error) error {
	rows, err := tx.QueryContext(ctx, `SELECT project, method, path, function FROM routes WHERE project <> ?`, project)
	if err != nil {
		return fmt.Errorf("list other projects' routes: %w", err)
	}
	defer rows.Close()
	var others []record.Route
	for rows.Next() {
		var r record.Route
		if err := rows.Scan(&r.Project, &r.Method, &r.Path, &r.Function); err != nil {
			return fmt.Errorf("list other projects' routes: %w", err)
		}
		others = append(others, r)
	}
	if err := rows.Err(); err != nil {
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
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}, nil
}

func (q queries) VersionGet(ctx context.Context, function string, number int) (*record.Version, error) {
	r, err := q.q.VersionGet(ctx, function, int64(number))
	if err != nil {
		return nil, notFound(err)
	}
	return sqlstore.DecodeVersion(r.Function, int(r.Number), r.ModuleSha256, []byte(r.Config), fromMicros(r.CreatedAt))
}
