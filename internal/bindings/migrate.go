package bindings

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
)

const migrationsTable = "strata_migrations"

// Migrate applies, in name order, the migrations not yet recorded in the
// database's strata_migrations table, each in its own transaction with
// its record, and returns the names it applied. It stops at the first
// failure, whose error carries the database's message and code.
func (b *Bindings) Migrate(ctx context.Context, database string, files []apitype.Migration) (applied []string, err error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b apitype.Migration) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(files); i++ {
		if files[i].Name == files[i-1].Name {
			return nil, fmt.Errorf("migrate database %s: migration %s listed twice: %w", database, files[i].Name, ErrBadRequest)
		}
	}
	d, err := b.db(ctx, database)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	ec, err := acquire(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer ec.release()
	fail := func(what string, err error) ([]string, error) {
		if se := sqlError(err); se != nil {
			err = se
		}
		return applied, fmt.Errorf("migrate database %s: %s: %w", database, what, err)
	}
	lim := limits{rows: 1 << 30, bytes: 1 << 30}
	if _, err := ec.run(ctx, "CREATE TABLE IF NOT EXISTS "+migrationsTable+" (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)", nil, false, lim); err != nil {
		return fail("create "+migrationsTable, err)
	}
	resp, err := ec.run(ctx, "SELECT name FROM "+migrationsTable, nil, true, lim)
	if err != nil {
		return fail("read "+migrationsTable, err)
	}
	done := map[string]bool{}
	for _, row := range resp.Rows {
		done[row[0].Text] = true
	}
	for _, m := range files {
		if done[m.Name] {
			continue
		}
		if err := ec.begin(ctx); err != nil {
			return fail(m.Name, err)
		}
		if _, err := ec.run(ctx, m.SQL, nil, false, lim); err != nil {
			ec.rollback(ctx)
			return fail(m.Name, err)
		}
		if _, err := ec.run(ctx, "INSERT INTO "+migrationsTable+" (name, applied_at) VALUES ($1, $2)",
			[]any{m.Name, time.Now().UTC().Format(time.RFC3339Nano)}, false, lim); err != nil {
			ec.rollback(ctx)
			return fail(m.Name+": record", err)
		}
		if err := ec.commit(ctx); err != nil {
			return fail(m.Name+": commit", err)
		}
		applied = append(applied, m.Name)
		b.log.Info("migration applied", "database", database, "migration", m.Name)
	}
	return applied, nil
}
