package pool

// The background filler: one goroutine per pool at a time, started on
// demand, that creates instances off the request path until the pool has
// what it wants, then exits. It is how provisioned instances come back
// after a discard and how a rising burst finds instances ready.

// fillReason says why the filler creates an instance (for Stats and logs).
type fillReason int

const (
	fillProvisioned fillReason = iota + 1 // idle+busy is below Provisioned
	fillAhead                             // concurrency is rising
)

func (r fillReason) String() string {
	if r == fillProvisioned {
		return "provisioned"
	}
	return "ahead of demand"
}

// liveLocked counts the instances that exist or are being created: idle
// ones, one per invocation in flight (warm, or being cold-started) and
// background starts. The caller holds p.mu.
func (p *Pool) liveLocked() int { return len(p.idle) + p.busy + p.starting }

// nextFillLocked reports whether the filler should create one more
// instance now, and why. The caller holds p.mu.
func (p *Pool) nextFillLocked() (fillReason, bool) {
	if p.closed || p.command || p.liveLocked() >= p.cfg.MaxInstances {
		return 0, false
	}
	if p.liveLocked() < p.cfg.Provisioned {
		return fillProvisioned, true
	}
	// Ahead of demand: about one idle instance for every two in flight,
	// so the next requests of a burst start warm, without building a
	// large idle reserve for a burst that may already be over.
	if p.ahead && len(p.idle)+p.starting < p.busy/2+1 {
		return fillAhead, true
	}
	return 0, false
}

// startFillerLocked starts the filler unless it is running or has nothing
// to do. It never blocks. The caller holds p.mu.
func (p *Pool) startFillerLocked() {
	if p.filling || p.closed {
		return
	}
	if _, ok := p.nextFillLocked(); !ok {
		p.ahead = false
		return
	}
	p.filling = true
	p.bg.Add(1)
	go p.fill()
}

// fill creates instances one at a time while nextFillLocked asks for them.
// It stops at the first failure (the reap loop's next tick tries again), so
// a module that cannot start does not make it spin.
func (p *Pool) fill() {
	defer p.bg.Done()
	for {
		p.mu.Lock()
		reason, ok := p.nextFillLocked()
		if !ok {
			p.filling, p.ahead = false, false
			p.mu.Unlock()
			return
		}
		p.starting++
		p.mu.Unlock()

		// Only provisioned instances (a promise to the function) may push
		// other pools' idle instances out of the memory budget.
		inst, err := p.instantiate(p.bgCtx, reason == fillProvisioned)

		p.mu.Lock()
		p.starting--
		if err != nil {
			p.filling, p.ahead = false, false
			closed := p.closed
			if !closed && !isBudget(err) {
				p.stats.PrewarmErrors++
			}
			p.mu.Unlock()
			if !closed && !isBudget(err) {
				p.log.Warn("background instantiation failed", logModule, p.m.Name(), logReason, reason.String(), logErr, err)
			}
			return
		}
		// Requests may have cold-started instances of their own meanwhile.
		if p.closed || len(p.idle)+p.busy >= p.cfg.MaxInstances {
			p.filling, p.ahead = false, false
			p.mu.Unlock()
			p.closeInstance(inst)
			return
		}
		p.putIdleLocked(inst)
		if reason == fillProvisioned {
			p.stats.Replenished++
		} else {
			p.stats.PrewarmedAhead++
		}
		p.mu.Unlock()
	}
}

// Log attribute keys.
const (
	logModule = "module"
	logReason = "reason"
	logErr    = "err"
)
