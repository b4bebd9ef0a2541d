package bindings

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// Refresh closes opened databases whose configuration changed (a deploy
// changed the URL, engine or max_connections, or removed the database) or
// whose URL references a secret set after the database was opened (a
// rotated password), so the next use opens them again with what is
// current. The server calls it after deploys and on its sync tick, with
// what the store lists; queries in flight finish on the old connections,
// which close once returned.
func (b *Bindings) Refresh(ctx context.Context, dbs []record.DatabaseConfig, secrets []record.SecretInfo) {
	want := make(map[string]record.DatabaseConfig, len(dbs))
	for _, d := range dbs {
		if d.MaxConnections <= 0 {
			d.MaxConnections = DefaultMaxConnections
		}
		want[d.Name] = d
	}
	setAt := make(map[string]time.Time, len(secrets))
	for _, s := range secrets {
		setAt[s.Project+"/"+s.Name] = s.UpdatedAt
	}
	b.mu.Lock()
	var stale []*database
	for name, d := range b.dbs {
		select {
		case <-d.ready:
		default:
			continue // still opening: it reads the current config anyway
		}
		w, ok := want[name]
		if ok && w.Engine == d.cfg.Engine && w.URL == d.cfg.URL && w.MaxConnections == d.cfg.MaxConnections && !rotated(d, setAt) {
			continue
		}
		delete(b.dbs, name)
		stale = append(stale, d)
	}
	b.mu.Unlock()
	for _, d := range stale {
		if d.eng == nil {
			continue
		}
		b.log.Info("database configuration changed; reopening on next use", "database", d.cfg.Name)
		b.bg.Add(1)
		go func(d *database) {
			defer b.bg.Done()
			// Close waits for connections in use to come back.
			_ = d.eng.close()
		}(d)
	}
}

// rotated reports whether a secret the database URL references was set
// after the database was opened.
func rotated(d *database, setAt map[string]time.Time) bool {
	for _, m := range secretRef.FindAllStringSubmatch(d.cfg.URL, -1) {
		if t, ok := setAt[d.cfg.Project+"/"+m[1]]; ok && t.After(d.openedAt) {
			return true
		}
	}
	return false
}
