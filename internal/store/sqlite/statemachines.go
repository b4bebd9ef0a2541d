package sqlite

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The state machines area of sqlstore.Queries.

func (q queries) MachineInsert(ctx context.Context, m record.StateMachine, now time.Time) (bool, error) {
	n, err := q.Queries.StateMachineInsert(ctx, sqlitedb.StateMachineInsertParams{Project: m.Project, Name: m.Name,
		Type: m.Type, Definition: m.Definition, RoleArn: m.RoleArn, Now: micros(now)})
	return n > 0, err
}

func (q queries) MachineGet(ctx context.Context, project, name string) (*record.StateMachine, error) {
	r, err := q.Queries.StateMachineGet(ctx, project, name)
	return sqlstore.One(r, notFound(err), stateMachine)
}

func (q queries) MachineUpdate(ctx context.Context, project, name, definition, roleArn string, now time.Time) (bool, error) {
	n, err := q.Queries.StateMachineUpdate(ctx, sqlitedb.StateMachineUpdateParams{Definition: definition, RoleArn: roleArn,
		Now: micros(now), Project: project, Name: name})
	return n > 0, err
}

func (q queries) MachinesList(ctx context.Context, project, after string, limit int) ([]record.StateMachine, error) {
	rows, err := q.Queries.StateMachineList(ctx, project, after, int64(limit))
	return sqlstore.Rows(rows, stateMachine), err
}

func (q queries) MachineDelete(ctx context.Context, project, name string) (bool, error) {
	n, err := q.Queries.StateMachineDelete(ctx, project, name)
	return n > 0, err
}

func stateMachine(r sqlitedb.StateMachine) record.StateMachine {
	return record.StateMachine{Project: r.Project, Name: r.Name, Type: r.Type, Definition: r.Definition, RoleArn: r.RoleArn,
		Revision: r.Revision, CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
}
