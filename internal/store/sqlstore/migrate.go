package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one migrations/NNNN_name.sql file of a backend.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the *.sql files of fsys's migrations directory,
// ordered by the number their names start with.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", e.Name())
		}
		b, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// MigrationTx is one transaction of Migrate in a backend's dialect.
type MigrationTx interface {
	// Setup creates schema_migrations if it is missing.
	Setup(ctx context.Context) error
	// Applied reports whether version is recorded in schema_migrations.
	Applied(ctx context.Context, version int) (bool, error)
	// Apply runs the migration's file and records it as applied at.
	Apply(ctx context.Context, m Migration, at time.Time) error
	// Newest returns the highest version and its name recorded in
	// schema_migrations (0 and "" when none).
	Newest(ctx context.Context) (int, string, error)
}

// SchemaAheadError: the store's schema has a migration this binary does
// not know, so a newer Strata migrated it. An older binary could misread
// what the newer one writes; it refuses to start rather than guess.
type SchemaAheadError struct {
	Store, Binary int    // the newest versions applied and known
	Name          string // the store's newest migration
}

func (e *SchemaAheadError) Error() string {
	return fmt.Sprintf("the store's schema is at migration %d (%s), newer than this binary's newest (%d): "+
		"a newer Strata migrated it; run that version (or newer) on every node, not an older one", e.Store, e.Name, e.Binary)
}

// Migrate applies fsys's migrations not yet recorded in schema_migrations,
// each in its own transaction together with its record, so a failed one
// leaves no trace. inTx runs fn in one transaction on whatever serialises
// migrating processes (SQLite's IMMEDIATE transactions, a PostgreSQL
// advisory lock held around the whole call): a process that waited finds
// the first one's work recorded.
func (s *Store) Migrate(ctx context.Context, fsys fs.FS, inTx func(ctx context.Context, fn func(MigrationTx) error) error) error {
	defer s.op("Migrate", time.Now())
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if err := inTx(ctx, func(tx MigrationTx) error { return tx.Setup(ctx) }); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	err = inTx(ctx, func(tx MigrationTx) error {
		v, name, err := tx.Newest(ctx)
		if err != nil {
			return err
		}
		if len(ms) > 0 && v > ms[len(ms)-1].Version {
			return &SchemaAheadError{Store: v, Binary: ms[len(ms)-1].Version, Name: name}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := inTx(ctx, func(tx MigrationTx) error {
			done, err := tx.Applied(ctx, m.Version)
			if err != nil || done {
				return err
			}
			return tx.Apply(ctx, m, s.nowUTC())
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}
