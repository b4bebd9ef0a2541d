package pool

import (
	"errors"
	"fmt"
	"sync"
)

// ErrMemoryBudget means a new instance would take the node's instances
// past their memory budget. It wraps ErrAtCapacity, so callers that
// answer 429 (or keep an event queued) for a busy function do the same.
var ErrMemoryBudget = fmt.Errorf("node memory budget for instances exhausted: %w", ErrAtCapacity)

// Budget is the node-wide memory budget of instances: every live instance
// (idle, busy, being started, or a command while it runs) holds its
// function's memory limit from it, whatever it actually uses, because a
// guest may grow to its limit at any moment and the node must not run out
// of memory when many do. A new instance that does not fit first makes
// pools give up idle instances (least recently used first, never below a
// pool's provisioned count); if it still does not fit it is refused with
// ErrMemoryBudget rather than risk the node. One project (Config.Project
// of its pools) may hold at most its share of the budget, so a project's
// memory-hungry functions cannot take the node's memory from the others,
// as ProjectConcurrency keeps them from taking its slots. A nil *Budget
// admits everything. It is safe for concurrent use.
//
// Lock order: Budget.mu is never held while a pool's lock is taken; pools
// call the budget without holding their own lock.
type Budget struct {
	limitMB   int64
	projectMB int64 // most one project may hold

	mu       sync.Mutex
	usedMB   int64
	projects map[string]int64 // MB held per project
	pools    map[*Pool]struct{}
}

// NewBudget returns a budget of limitMB megabytes of which one project may
// hold at most projectMB (< 1 or above limitMB: the whole budget);
// limitMB < 1 returns nil (no budget).
func NewBudget(limitMB, projectMB int64) *Budget {
	if limitMB < 1 {
		return nil
	}
	if projectMB < 1 || projectMB > limitMB {
		projectMB = limitMB
	}
	return &Budget{limitMB: limitMB, projectMB: projectMB, projects: map[string]int64{}, pools: map[*Pool]struct{}{}}
}

// BudgetStats is a snapshot of a Budget.
type BudgetStats struct {
	LimitMB   int64 // the budget
	ProjectMB int64 // the most one project may hold
	UsedMB    int64 // held by live instances
}

// Stats returns the budget's limit and what live instances hold.
func (b *Budget) Stats() BudgetStats {
	if b == nil {
		return BudgetStats{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetStats{LimitMB: b.limitMB, ProjectMB: b.projectMB, UsedMB: b.usedMB}
}

func (b *Budget) register(p *Pool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.pools[p] = struct{}{}
	b.mu.Unlock()
}

func (b *Budget) unregister(p *Pool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	delete(b.pools, p)
	b.mu.Unlock()
}

// tryAcquire reserves mb for project, or reports which limit it hit.
func (b *Budget) tryAcquire(project string, mb int64) (ok, projectFull bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.usedMB+mb > b.limitMB {
		return false, false
	}
	if b.projects[project]+mb > b.projectMB {
		return false, true
	}
	b.usedMB += mb
	b.projects[project] += mb
	return true, false
}

// acquire reserves mb for a new instance of p. When it does not fit and
// reclaim is set, other pools' (and p's own) idle instances are closed to
// make room: an idle instance is only a cache, a request is not.
func (b *Budget) acquire(p *Pool, mb int64, reclaim bool) error {
	if b == nil {
		return nil
	}
	if mb > b.projectMB {
		return fmt.Errorf("%s needs %d MB per instance, more than a project's share of the node's instance memory budget (%d of %d MB; raise --memory-budget or lower the function's memory): %w",
			p.m.Name(), mb, b.projectMB, b.limitMB, ErrMemoryBudget)
	}
	project := p.cfg.Project
	for {
		ok, projectFull := b.tryAcquire(project, mb)
		if ok {
			return nil
		}
		if !reclaim || !b.shedOne(p, projectFull) {
			b.mu.Lock()
			used, held := b.usedMB, b.projects[project]
			b.mu.Unlock()
			if projectFull {
				return fmt.Errorf("%s: a new %d MB instance does not fit in project %s's share of the node's instance memory (%d of %d MB held by its live instances): %w",
					p.m.Name(), mb, project, held, b.projectMB, ErrMemoryBudget)
			}
			return fmt.Errorf("%s: a new %d MB instance does not fit (%d of %d MB held by live instances): %w",
				p.m.Name(), mb, used, b.limitMB, ErrMemoryBudget)
		}
	}
}

// shedOne closes one idle instance of some pool (of self's project only
// when it is the project's share that is full), preferring pools other
// than self (whose idle instances it would otherwise reuse before
// cold-starting), and reports whether it closed one.
func (b *Budget) shedOne(self *Pool, sameProject bool) bool {
	b.mu.Lock()
	pools := make([]*Pool, 0, len(b.pools))
	for q := range b.pools {
		if q != self && (!sameProject || q.cfg.Project == self.cfg.Project) {
			pools = append(pools, q)
		}
	}
	b.mu.Unlock()
	pools = append(pools, self)
	for _, q := range pools {
		if q.shedIdle() {
			return true
		}
	}
	return false
}

func (b *Budget) release(project string, mb int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	// A release without its acquire would be a bug here; do not let it
	// turn into extra budget.
	b.usedMB = max(b.usedMB-mb, 0)
	if left := b.projects[project] - mb; left > 0 {
		b.projects[project] = left
	} else {
		delete(b.projects, project)
	}
	b.mu.Unlock()
}

// isBudget reports whether err is a memory-budget refusal (which the
// filler does not log as a failure: it is the budget doing its job).
func isBudget(err error) bool { return errors.Is(err, ErrMemoryBudget) }
