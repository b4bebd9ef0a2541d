package pool

import "time"

// WaitFiller blocks until the pool's background filler is not running, so
// a test can read settled counters. It polls: the filler holds no channel
// a test could wait on, and it finishes within a few instantiations.
func WaitFiller(p *Pool) {
	for {
		p.mu.Lock()
		busy := p.filling || p.starting > 0
		p.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
