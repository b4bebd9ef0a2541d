package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// StateMachineQueries are the statements on Step Functions state machines.
type StateMachineQueries interface {
	// MachineInsert inserts m with revision 1 and both times now, and
	// reports whether it did (false: the name is taken in the project).
	MachineInsert(ctx context.Context, m record.StateMachine, now time.Time) (bool, error)
	// MachineGet returns a machine (store.ErrNotFound: none).
	MachineGet(ctx context.Context, project, name string) (*record.StateMachine, error)
	// MachineUpdate sets definition and role, raises the revision and
	// stamps now; false when there is no such machine.
	MachineUpdate(ctx context.Context, project, name, definition, roleArn string, now time.Time) (bool, error)
	// MachinesList returns up to limit machines of project named after
	// after, by name.
	MachinesList(ctx context.Context, project, after string, limit int) ([]record.StateMachine, error)
	// MachineDelete deletes a machine and reports whether it existed.
	MachineDelete(ctx context.Context, project, name string) (bool, error)
}

const machinesDefaultLimit = 100

func machineNotFound(project, name string) error {
	return &store.NotFoundError{Kind: "state machine", Name: name, More: "in project " + project}
}

// StateMachineCreate stores a new state machine (store.StateMachines).
func (s *Store) StateMachineCreate(ctx context.Context, m record.StateMachine) (*record.StateMachine, error) {
	defer s.op("StateMachineCreate", time.Now())
	var got *record.StateMachine
	err := s.d.InTx(ctx, func(q Queries) error {
		ok, err := q.MachineInsert(ctx, m, s.nowUTC())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("state machine %s exists in project %s: %w", m.Name, m.Project, store.ErrConflict)
		}
		got, err = q.MachineGet(ctx, m.Project, m.Name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create state machine %s of project %s: %w", m.Name, m.Project, err)
	}
	return got, nil
}

// StateMachineGet returns one state machine (store.StateMachines).
func (s *Store) StateMachineGet(ctx context.Context, project, name string) (*record.StateMachine, error) {
	defer s.op("StateMachineGet", time.Now())
	m, err := s.d.Read().MachineGet(ctx, project, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, machineNotFound(project, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get state machine %s of project %s: %w", name, project, err)
	}
	return m, nil
}

// StateMachineUpdate replaces a machine's definition and role
// (store.StateMachines).
func (s *Store) StateMachineUpdate(ctx context.Context, project, name, definition, roleArn string) (*record.StateMachine, error) {
	defer s.op("StateMachineUpdate", time.Now())
	var got *record.StateMachine
	err := s.d.InTx(ctx, func(q Queries) error {
		ok, err := q.MachineUpdate(ctx, project, name, definition, roleArn, s.nowUTC())
		if err != nil {
			return err
		}
		if !ok {
			return machineNotFound(project, name)
		}
		got, err = q.MachineGet(ctx, project, name)
		return err
	})
	var nf *store.NotFoundError
	if errors.As(err, &nf) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("update state machine %s of project %s: %w", name, project, err)
	}
	return got, nil
}

// StateMachinesList pages a project's state machines (store.StateMachines).
func (s *Store) StateMachinesList(ctx context.Context, p store.StateMachinesListParams) ([]record.StateMachine, error) {
	defer s.op("StateMachinesList", time.Now())
	if p.Limit <= 0 {
		p.Limit = machinesDefaultLimit
	}
	ms, err := s.d.Read().MachinesList(ctx, p.Project, p.After, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list state machines of project %s: %w", p.Project, err)
	}
	return ms, nil
}

// StateMachineDelete removes a state machine (store.StateMachines).
func (s *Store) StateMachineDelete(ctx context.Context, project, name string) (bool, error) {
	defer s.op("StateMachineDelete", time.Now())
	var ok bool
	err := s.d.Write(ctx, func(q Queries) error {
		var err error
		ok, err = q.MachineDelete(ctx, project, name)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delete state machine %s of project %s: %w", name, project, err)
	}
	return ok, nil
}
