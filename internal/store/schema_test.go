package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // registers "sqlite" for reading the schema back

	"github.com/stratahq/strata/internal/store/postgres"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// schemaDifferences are the facts (as schemaFacts spells them) found in one
// backend's migrated schema and not the other's on purpose, each with why.
// A fact listed here that no longer differs fails the test too, so the list
// stays true.
//
// It is empty today: the differences the two schemas have by design are
// spellings, normalised before comparing (normType: times, booleans and
// JSON; normIndexColumn: COLLATE "C"; normPredicate: casts), and how IDs are
// generated (identity, sequences, rowid aliases), which is not compared.
var schemaDifferences = map[string]string{}

// TestSchemaParity migrates a fresh SQLite file and a fresh PostgreSQL
// schema and compares what they hold: tables, columns (type normalised to
// the storage class both sides agree on, NOT NULL), primary keys, unique
// constraints, indexes (columns, uniqueness, predicate) and foreign keys
// (columns, target, ON DELETE). A migration added to one backend only, or
// two migrations that drift, fail it. It needs STRATA_TEST_POSTGRES; set
// but unreachable is a failure, not a skip.
func TestSchemaParity(t *testing.T) {
	url := os.Getenv("STRATA_TEST_POSTGRES")
	if url == "" {
		t.Skip("schema parity needs PostgreSQL: set STRATA_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx := context.Background()

	lite := sqliteFacts(t, ctx)
	pg := postgresFacts(t, ctx, url)
	require.NotEmpty(t, lite)
	require.NotEmpty(t, pg)
	t.Logf("%d facts from SQLite, %d from PostgreSQL", len(lite), len(pg))

	var problems []string
	for _, d := range diff(lite, pg) {
		if _, ok := schemaDifferences[d]; !ok {
			problems = append(problems, "only in SQLite:     "+d)
		}
	}
	for _, d := range diff(pg, lite) {
		if _, ok := schemaDifferences[d]; !ok {
			problems = append(problems, "only in PostgreSQL: "+d)
		}
	}
	for d := range schemaDifferences {
		if slices.Contains(lite, d) == slices.Contains(pg, d) {
			problems = append(problems, "listed in schemaDifferences but not a difference: "+d)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Fatalf("the two backends' migrated schemas differ; fix the migrations or list a deliberate difference in schemaDifferences:\n%s",
			strings.Join(problems, "\n"))
	}
}

// TestMigrationFilesMatch checks both backends have the same migration files
// by name, so a migration cannot be written for one backend only even when
// it changes nothing the parity test sees (a data migration).
func TestMigrationFilesMatch(t *testing.T) {
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	require.Equal(t, names("sqlite/migrations"), names("postgres/migrations"))
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// normType maps a declared column type to the storage class both backends
// share: SQLite keeps times as INTEGER microseconds, booleans as INTEGER
// 0/1 and JSON as TEXT, so PostgreSQL's timestamptz, boolean and jsonb
// compare as the SQLite class they are stored as there.
func normType(typ string) string {
	switch strings.ToLower(typ) {
	case "text", "jsonb", "json", "character varying":
		return "text"
	case "integer", "bigint", "smallint", "boolean", "timestamp with time zone", "timestamptz":
		return "integer"
	case "blob", "bytea":
		return "blob"
	case "real", "double precision":
		return "real"
	}
	return "?" + typ
}

// normPredicate spells an index predicate the same way on both sides:
// PostgreSQL adds parentheses and casts (” becomes ”::text).
func normPredicate(p string) string {
	p = strings.ToLower(p)
	p = strings.NewReplacer("(", "", ")", "", "::text", "").Replace(p)
	return strings.Join(strings.Fields(p), " ")
}

// normIndexColumn drops COLLATE "C": PostgreSQL indexes that serve ORDER BY
// ... COLLATE "C" name it, SQLite's default BINARY collation is byte order.
func normIndexColumn(c string) string {
	return strings.TrimSuffix(c, ` COLLATE "C"`)
}

func sqliteFacts(t *testing.T, ctx context.Context) []string {
	path := filepath.Join(t.TempDir(), "parity.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()

	strs := func(q string, args ...any) [][]string {
		rows, err := db.QueryContext(ctx, q, args...)
		require.NoError(t, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		var out [][]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		require.NoError(t, rows.Err())
		return out
	}

	var facts []string
	where := regexp.MustCompile(`(?is)\bWHERE\b(.*)$`)
	for _, tr := range strs(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`) {
		table := tr[0]
		facts = append(facts, "table "+table)
		var pk []string
		for _, c := range strs(`SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY pk, cid`, table) {
			// A primary key column is NOT NULL in PostgreSQL; in SQLite
			// an INTEGER PRIMARY KEY is the rowid, never NULL either.
			notNull := c[2] == "1" || c[3] != "0"
			facts = append(facts, fmt.Sprintf("column %s.%s %s%s", table, c[0], normType(c[1]), nullness(notNull)))
			if c[3] != "0" {
				pk = append(pk, c[0])
			}
		}
		if len(pk) > 0 {
			facts = append(facts, fmt.Sprintf("primary key %s (%s)", table, strings.Join(pk, ", ")))
		}
		for _, ix := range strs(`SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, table) {
			if ix[2] == "pk" {
				continue
			}
			var cols []string
			for _, c := range strs(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, ix[0]) {
				cols = append(cols, c[0])
			}
			if ix[2] == "u" { // an inline UNIQUE constraint
				facts = append(facts, fmt.Sprintf("unique %s (%s)", table, strings.Join(cols, ", ")))
				continue
			}
			fact := fmt.Sprintf("index %s on %s (%s)", ix[0], table, strings.Join(cols, ", "))
			if ix[1] == "1" {
				fact = "unique " + fact
			}
			if ix[3] == "1" {
				def := strs(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`, ix[0])[0][0]
				m := where.FindStringSubmatch(def)
				require.NotNil(t, m, "partial index %s: no WHERE in %q", ix[0], def)
				fact += " where " + normPredicate(m[1])
			}
			facts = append(facts, fact)
		}
		fks := map[string][]string{} // id -> from, to columns, target, on delete
		for _, fk := range strs(`SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table) {
			f := fks[fk[0]]
			if f == nil {
				f = []string{"", "", fk[1], strings.ToLower(fk[4])}
			}
			f[0] = strings.TrimPrefix(f[0]+", "+fk[2], ", ")
			f[1] = strings.TrimPrefix(f[1]+", "+fk[3], ", ")
			fks[fk[0]] = f
		}
		for _, f := range fks {
			facts = append(facts, fmt.Sprintf("foreign key %s (%s) references %s (%s) on delete %s", table, f[0], f[2], f[1], f[3]))
		}
	}
	slices.Sort(facts)
	return facts
}

func nullness(notNull bool) string {
	if notNull {
		return " not null"
	}
	return ""
}

func postgresFacts(t *testing.T, ctx context.Context, url string) []string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "strata_parity_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err, "STRATA_TEST_POSTGRES is set but PostgreSQL is not reachable")
	defer conn.Close(ctx)
	defer func() {
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	}()
	s, err := postgres.OpenWithSchema(ctx, url, schema)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	var facts []string
	add := func(q string, scan func(pgx.CollectableRow) (string, error)) {
		rows, err := conn.Query(ctx, q, schema)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, scan)
		require.NoError(t, err)
		facts = append(facts, got...)
	}
	add(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`,
		func(r pgx.CollectableRow) (string, error) {
			var name string
			err := r.Scan(&name)
			return "table " + name, err
		})
	add(`SELECT table_name, column_name, data_type, is_nullable = 'NO' FROM information_schema.columns WHERE table_schema = $1`,
		func(r pgx.CollectableRow) (string, error) {
			var table, col, typ string
			var notNull bool
			err := r.Scan(&table, &col, &typ, &notNull)
			return fmt.Sprintf("column %s.%s %s%s", table, col, normType(typ), nullness(notNull)), err
		})
	// Constraints: p(rimary key), u(nique), f(oreign key), columns in key
	// order.
	add(`SELECT c.contype, t.relname,
			array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)::text[],
			coalesce(rt.relname, ''),
			array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)::text[],
			c.confdeltype
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		LEFT JOIN pg_class rt ON rt.oid = c.confrelid
		WHERE n.nspname = $1 AND c.contype IN ('p', 'u', 'f')`,
		func(r pgx.CollectableRow) (string, error) {
			var kind, table, ref, onDelete string
			var cols, refCols []string
			if err := r.Scan(&kind, &table, &cols, &ref, &refCols, &onDelete); err != nil {
				return "", err
			}
			switch kind {
			case "p":
				return fmt.Sprintf("primary key %s (%s)", table, strings.Join(cols, ", ")), nil
			case "u":
				return fmt.Sprintf("unique %s (%s)", table, strings.Join(cols, ", ")), nil
			}
			action := map[string]string{"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}[onDelete]
			return fmt.Sprintf("foreign key %s (%s) references %s (%s) on delete %s", table, strings.Join(cols, ", "), ref, strings.Join(refCols, ", "), action), nil
		})
	// Indexes that back no constraint (those are compared above).
	add(`SELECT i.relname, t.relname, ix.indisunique,
			array(SELECT pg_get_indexdef(ix.indexrelid, k, true) FROM generate_series(1, ix.indnkeyatts) k)::text[],
			coalesce(pg_get_expr(ix.indpred, ix.indrelid), '')
		FROM pg_index ix
		JOIN pg_class i ON i.oid = ix.indexrelid
		JOIN pg_class t ON t.oid = ix.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)`,
		func(r pgx.CollectableRow) (string, error) {
			var name, table, pred string
			var unique bool
			var cols []string
			if err := r.Scan(&name, &table, &unique, &cols, &pred); err != nil {
				return "", err
			}
			for i, c := range cols {
				cols[i] = normIndexColumn(c)
			}
			fact := fmt.Sprintf("index %s on %s (%s)", name, table, strings.Join(cols, ", "))
			if unique {
				fact = "unique " + fact
			}
			if pred != "" {
				fact += " where " + normPredicate(pred)
			}
			return fact, nil
		})
	slices.Sort(facts)
	return facts
}
