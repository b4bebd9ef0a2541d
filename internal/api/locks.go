package api

import (
	"context"
	"fmt"
	"sync"
)

// Lock order: a project lock (projectLocks.lock), then API.deployMu. A
// deploy holds its project's lock from planning to the end, and deployMu
// only while it reads the deployed state and plans, and while it applies:
// never while it compiles, so a slow compile of one project does not hold
// up deploys of the others.

// projectLocks serialises deploys and rollbacks per project.
type projectLocks struct {
	mu    sync.Mutex
	locks map[string]*projectLock
}

type projectLock struct {
	ch    chan struct{} // holds a token while locked
	users int           // holders and waiters; guarded by projectLocks.mu
}

// lock takes project's lock, giving up when ctx ends (the client went
// away while another deploy of the project ran). It returns the unlock.
func (p *projectLocks) lock(ctx context.Context, project string) (func(), error) {
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*projectLock{}
	}
	l := p.locks[project]
	if l == nil {
		l = &projectLock{ch: make(chan struct{}, 1)}
		p.locks[project] = l
	}
	l.users++
	p.mu.Unlock()
	drop := func() {
		p.mu.Lock()
		l.users--
		if l.users == 0 {
			delete(p.locks, project)
		}
		p.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, fmt.Errorf("wait for another deploy of project %s: %w", project, context.Cause(ctx))
	}
}
