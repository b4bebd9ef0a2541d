package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// NodeQueries are the statements on cluster membership (the nodes table).
type NodeQueries interface {
	// NodeJoin writes n's row as joining, started and heartbeat at now,
	// when there is none or the one there is gone, heartbeat at or before
	// stale, or at n.Addr; false when a live node holds n.ID elsewhere.
	// Race-free against concurrent joins: one upsert (PostgreSQL), or
	// statements in the single writer's transaction (SQLite).
	NodeJoin(ctx context.Context, n record.Node, now, stale time.Time) (bool, error)
	// NodeRow returns one node's row (store.ErrNotFound: none).
	NodeRow(ctx context.Context, id string) (record.Node, error)
	// NodeBeatAt stamps the row of id at addr; false when there is none.
	NodeBeatAt(ctx context.Context, id, addr, state string, load int, now time.Time) (bool, error)
	// NodesAll returns every row by id.
	NodesAll(ctx context.Context) ([]record.Node, error)
	// NodesExpire marks gone the rows silent since stale and deletes
	// gone rows silent since forget; it returns the ids it marked.
	NodesExpire(ctx context.Context, stale, forget time.Time) ([]string, error)
	// NodeReleaseAll ends, as of now, the workflow task leases and
	// message receipts that start with prefix and the object leases
	// owner holds; it returns the counts and the released messages'
	// queues (repeats allowed).
	NodeReleaseAll(ctx context.Context, owner, prefix string, now time.Time) (tasks, objects int, queues []string, err error)
}

func checkNodeState(state string) error {
	switch state {
	case record.NodeJoining, record.NodeServing, record.NodeDraining, record.NodeGone:
		return nil
	}
	return fmt.Errorf("node state %q: want joining, serving, draining or gone", state)
}

// NodeJoin records a starting node (store.Nodes).
func (s *Store) NodeJoin(ctx context.Context, p store.NodeJoinParams) error {
	defer s.op("NodeJoin", time.Now())
	if p.ID == "" || p.Addr == "" || p.Lease <= 0 {
		return fmt.Errorf("join node %q: an id, an address and a positive lease are required", p.ID)
	}
	now := s.nowUTC()
	n := record.Node{ID: p.ID, Addr: p.Addr, Version: p.Version}
	var ok bool
	var holder record.Node
	err := s.d.Write(ctx, func(q Queries) (err error) {
		if ok, err = q.NodeJoin(ctx, n, now, now.Add(-p.Lease)); err != nil || ok {
			return err
		}
		// Read in the same transaction: the holder that refused us.
		holder, err = q.NodeRow(ctx, p.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("join node %s: %w", p.ID, err)
	}
	if !ok {
		return fmt.Errorf("join node %s at %s: %w", p.ID, p.Addr, &store.NodeIDTakenError{Holder: holder})
	}
	return nil
}

// NodeHeartbeat stamps a node's row (store.Nodes).
func (s *Store) NodeHeartbeat(ctx context.Context, p store.NodeHeartbeatParams) error {
	defer s.op("NodeHeartbeat", time.Now())
	if err := checkNodeState(p.State); err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", p.ID, err)
	}
	now := s.nowUTC()
	var ok bool
	err := s.d.Write(ctx, func(q Queries) (err error) {
		ok, err = q.NodeBeatAt(ctx, p.ID, p.Addr, p.State, max(p.Load, 0), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", p.ID, err)
	}
	if !ok {
		return fmt.Errorf("heartbeat of node %s at %s: no such node at that address: %w", p.ID, p.Addr, store.ErrNotFound)
	}
	return nil
}

// NodeList returns every node (store.Nodes).
func (s *Store) NodeList(ctx context.Context) ([]record.Node, error) {
	defer s.op("NodeList", time.Now())
	ns, err := s.d.Read().NodesAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return ns, nil
}

// NodeExpire marks silent nodes gone and forgets old ones (store.Nodes).
func (s *Store) NodeExpire(ctx context.Context, p store.NodeExpireParams) ([]string, error) {
	defer s.op("NodeExpire", time.Now())
	if p.Lease <= 0 || p.Forget < p.Lease {
		return nil, errors.New("expire nodes: want a positive lease and a forget period at least as long")
	}
	now := s.nowUTC()
	var gone []string
	err := s.d.Write(ctx, func(q Queries) (err error) {
		gone, err = q.NodesExpire(ctx, now.Add(-p.Lease), now.Add(-p.Forget))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("expire nodes: %w", err)
	}
	return gone, nil
}

// NodeRelease ends every lease a node holds (store.Nodes).
func (s *Store) NodeRelease(ctx context.Context, id string) (store.NodeReleased, error) {
	defer s.op("NodeRelease", time.Now())
	if id == "" {
		return store.NodeReleased{}, errors.New("release node: an id is required")
	}
	// Flow leases and receipts are CleanText(owner)+"/"+token.
	prefix := CleanText(id) + "/"
	now := s.nowUTC()
	var r store.NodeReleased
	err := s.d.Write(ctx, func(q Queries) error {
		tasks, objects, queues, err := q.NodeReleaseAll(ctx, id, prefix, now)
		if err != nil {
			return err
		}
		r = store.NodeReleased{Tasks: tasks, Objects: objects, Messages: len(queues)}
		sort.Strings(queues)
		r.Queues = slices.Compact(queues)
		return nil
	})
	if err != nil {
		return store.NodeReleased{}, fmt.Errorf("release the leases of node %s: %w", id, err)
	}
	return r, nil
}
