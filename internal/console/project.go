package console

import (
	"context"
	"errors"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// How pages enforce projects. A session's token has a project, or none
// (every project). Every page that names a thing by URL (a function, a
// queue, an execution, a trace) loads it and answers 404 when it belongs
// to another project, exactly as for a thing that does not exist, so a
// project-scoped token learns nothing of other projects' names. Listings
// keep only the token's project's rows. Traces and executions are read
// through store and engine calls that take the project and filter
// themselves (TraceGet, TraceList, Flows.Get/List/History).

// sees reports whether s may read project's data.
func (s *session) sees(project string) bool { return s.tok.Project == "" || s.tok.Project == project }

// notFound is a 404 naming what was asked for.
func notFound(kind, name string) error { return store.NotFound(kind, name) }

// function loads a function the session may see.
func (c *Console) function(ctx context.Context, s *session, name string) (*record.Function, error) {
	f, err := c.cfg.Store.FunctionGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.sees(f.Project) {
		return nil, notFound("function", name)
	}
	return f, err
}

// functions lists the functions the session may see.
func (c *Console) functions(ctx context.Context, s *session) ([]record.Function, error) {
	fns, err := c.cfg.Store.FunctionList(ctx)
	if err != nil {
		return nil, err
	}
	out := fns[:0:0]
	for _, f := range fns {
		if s.sees(f.Project) {
			out = append(out, f)
		}
	}
	return out, nil
}

// functionFilter is the UsageSeries filter of the session: nil (every
// function) for a token of every project, else its project's functions.
func (c *Console) functionFilter(ctx context.Context, s *session) ([]string, error) {
	if s.tok.Project == "" {
		return nil, nil
	}
	fns, err := c.functions(ctx, s)
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, f := range fns {
		names = append(names, f.Name)
	}
	return names, nil
}

// queue loads a queue the session may see.
func (c *Console) queue(ctx context.Context, s *session, name string) (*record.QueueConfig, error) {
	q, err := c.cfg.Store.QueueGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.sees(q.Project) {
		return nil, notFound("queue", name)
	}
	return q, err
}

// flowProject is the project argument of the engine's calls for s.
func (s *session) flowProject() string { return s.tok.Project }
