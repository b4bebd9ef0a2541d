package bindings

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A guest's SQL runs on a connection of the server process, which can
// open any file the server can: ATTACH DATABASE '<data dir>/strata.db'
// once let a guest write itself an admin token. Every connection of a
// guest database is therefore confined to its one file:
//
//   - SQLITE_LIMIT_ATTACHED is 0, and the authorizer denies ATTACH and
//     DETACH (VACUUM, plain or INTO, works by attaching a database, so it
//     is denied too);
//   - the authorizer denies load_extension and every PRAGMA outside
//     sqlitePragmas (PRAGMAs name files, turn off safety, or change a
//     pooled connection for the next guest);
//   - defensive mode (SQLITE_DBCONFIG_DEFENSIVE) forbids writable_schema
//     and writes to shadow tables and sqlite_dbpage;
//   - the file name is a plain path (never a file: URI, so no URI
//     parameters), and this build of SQLite cannot load extensions;
//   - SQLITE_LIMIT_LENGTH is the result cap, so no value is ever built
//     larger than a result may be (zeroblob(999999999) fails at once with
//     SQLITE_TOOBIG instead of allocating a gigabyte).
//
// The authorizer and limits are set each time a connection is taken from
// the pool (guardConn), so every connection a guest ever uses is hardened
// however it was opened; the connector also installs the authorizer when
// it opens a connection, so none is ever unguarded between the two.

// sqliteConnector opens connections of a guest database with the
// authorizer installed before anything else runs on them.
type sqliteConnector struct {
	driver.Connector
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ar, ok := dc.(sqlite.AuthorizerRegisterer)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("sqlite driver connection %T has no authorizer: cannot confine a guest database", dc)
	}
	if err := ar.RegisterAuthorizer(func(a sqlite.AuthorizerActionCode, a1, a2, _, _ string) sqlite.AuthorizerReturnCode {
		if sqliteDenial(a, a1, a2) != "" {
			return sqlite.AuthorizerDeny
		}
		return sqlite.AuthorizerOK
	}); err != nil {
		dc.Close()
		return nil, fmt.Errorf("install sqlite authorizer: %w", err)
	}
	return dc, nil
}

// sqliteLimits are the per-connection limits of a guest database whose
// results are capped at maxResult bytes.
func sqliteLimits(maxResult int) [][2]int {
	return [][2]int{
		{sqlite3.SQLITE_LIMIT_ATTACHED, 0},
		// No string, blob or stored row larger than a result may be.
		{sqlite3.SQLITE_LIMIT_LENGTH, maxResult},
		// One statement's text: at least 1 MiB, so a small result cap
		// does not also forbid long migrations.
		{sqlite3.SQLITE_LIMIT_SQL_LENGTH, max(maxResult, 1<<20)},
	}
}

// guardConn hardens one pooled connection for the use about to start:
// it installs the authorizer that records denials in g and sets the
// limits, and returns the handle to interrupt statements with.
func guardConn(c *sql.Conn, g *sqliteGuard, maxResult int) error {
	err := c.Raw(func(dc any) error {
		ar, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T has no authorizer", dc)
		}
		h, err := sqliteHandle(dc)
		if err != nil {
			return err
		}
		g.handle = h
		return ar.RegisterAuthorizer(g.authorize)
	})
	if err != nil {
		return fmt.Errorf("confine sqlite connection: %w", err)
	}
	for _, l := range sqliteLimits(maxResult) {
		// sqlite3_limit clamps only down to the compiled-in maximum
		// (and LENGTH up to 30 bytes), so the value set here holds; no
		// need to read it back.
		if _, err := sqlite.Limit(c, l[0], l[1]); err != nil {
			return fmt.Errorf("set sqlite limit %d: %w", l[0], err)
		}
	}
	return nil
}

// sqliteHandle returns the sqlite3* of a driver connection. The driver
// interrupts a statement when its context ends only while the call that
// started it runs (Exec, Query), not during rows.Next, so a query whose
// later rows take forever would outlive its deadline; the handle lets
// run interrupt it itself. The driver keeps it in the unexported field
// db; reflect reads it (Uint works on unexported fields), and the
// connection is refused if the field is ever renamed or retyped.
func sqliteHandle(dc any) (uintptr, error) {
	v := reflect.ValueOf(dc)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("db"); f.IsValid() && f.Kind() == reflect.Uintptr && f.Uint() != 0 {
			return uintptr(f.Uint()), nil
		}
	}
	return 0, fmt.Errorf("sqlite driver connection %T: no database handle to interrupt statements at their deadline", dc)
}

// sqliteGuard is the per-use state of a guarded connection.
type sqliteGuard struct {
	handle uintptr
	denied atomic.Pointer[string] // why the authorizer last said no
}

func (g *sqliteGuard) authorize(a sqlite.AuthorizerActionCode, a1, a2, _, _ string) sqlite.AuthorizerReturnCode {
	if why := sqliteDenial(a, a1, a2); why != "" {
		g.denied.Store(&why)
		return sqlite.AuthorizerDeny
	}
	return sqlite.AuthorizerOK
}

// takeDenial returns, and forgets, the reason of the last denial.
func (g *sqliteGuard) takeDenial() string {
	if p := g.denied.Swap(nil); p != nil {
		return *p
	}
	return ""
}

// interruptAt interrupts the running statement when ctx ends, until the
// returned stop is called; stop waits for an interrupt under way, so
// none can reach a later statement on the connection.
func (g *sqliteGuard) interruptAt(ctx context.Context) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	var mu sync.Mutex
	finished := false
	after := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return
		}
		// A fresh TLS: this goroutine is not the one running the
		// statement, and sqlite3_interrupt only sets a flag.
		tls := libc.NewTLS()
		sqlite3.Xsqlite3_interrupt(tls, g.handle)
		tls.Close()
	})
	return func() {
		after()
		mu.Lock()
		finished = true
		mu.Unlock()
	}
}

// sqlitePragmas are the PRAGMAs a guest may run, and whether it may give
// them a value. Those with args take a table or index name, or set
// something that belongs to the guest's own database and ends with it
// (user_version, application_id, defer_foreign_keys until commit). The
// rest are settings a guest may read but not change: changing them would
// weaken durability or safety (journal_mode, synchronous, foreign_keys),
// cost the node memory (cache_size, mmap_size) or carry over to whoever
// takes the pooled connection next. Everything else is denied, notably
// database_list (it shows the server's file paths), writable_schema,
// temp_store_directory, hard_heap_limit and wal_checkpoint.
var sqlitePragmas = map[string]bool{
	// Schema introspection and checks: arguments allowed.
	"table_info": true, "table_xinfo": true, "table_list": true,
	"index_list": true, "index_info": true, "index_xinfo": true,
	"foreign_key_list": true, "foreign_key_check": true,
	"integrity_check": true, "quick_check": true,
	"collation_list": true, "function_list": true, "module_list": true, "pragma_list": true,
	"compile_options": true, "data_version": true, "freelist_count": true, "page_count": true,
	"optimize": true, "incremental_vacuum": true,
	"user_version": true, "application_id": true, "defer_foreign_keys": true,
	// Settings: read only.
	"foreign_keys": false, "journal_mode": false, "synchronous": false, "auto_vacuum": false,
	"page_size": false, "encoding": false, "busy_timeout": false, "cache_size": false,
	"schema_version": false, "max_page_count": false, "recursive_triggers": false,
	"secure_delete": false, "temp_store": false, "query_only": false, "automatic_index": false,
	"cell_size_check": false, "trusted_schema": false, "mmap_size": false,
	"journal_size_limit": false, "locking_mode": false, "legacy_alter_table": false,
	"analysis_limit": false, "ignore_check_constraints": false,
}

// sqliteModules are the virtual table modules a guest may create: full
// text search and r-trees, which keep their data in the guest's own
// database.
var sqliteModules = map[string]bool{
	"fts3": true, "fts4": true, "fts5": true, "rtree": true, "rtree_i32": true, "geopoly": true,
}

// sqliteDenial says why the authorizer refuses an action, or "" to allow
// it. The text reaches the guest.
func sqliteDenial(a sqlite.AuthorizerActionCode, a1, a2 string) string {
	switch a {
	case sqlite.AuthAttach:
		if a1 == "" {
			return "VACUUM (and ATTACH of a temporary database) is not available: it attaches a second database, and a function's database may not attach any; reclaim space with PRAGMA incremental_vacuum, or ask the operator to vacuum the file"
		}
		return "ATTACH DATABASE and VACUUM INTO are not available: a function's database may not open or create any other file"
	case sqlite.AuthDetach:
		return "DETACH DATABASE is not available: a function's database never has another attached"
	case sqlite.AuthFunction:
		switch strings.ToLower(a2) {
		case "load_extension":
			return "load_extension() is not available: extensions cannot be loaded into a function's database"
		case "fts3_tokenizer":
			return "fts3_tokenizer() is not available: it takes native pointers"
		}
	case sqlite.AuthPragma:
		name := strings.ToLower(a1)
		withArgs, ok := sqlitePragmas[name]
		switch {
		case !ok:
			return fmt.Sprintf("PRAGMA %s is not available to functions (it names files, weakens safety or outlives the call); allowed are schema queries such as table_info and index_list, checks, user_version and reading settings", name)
		case !withArgs && a2 != "":
			return fmt.Sprintf("PRAGMA %s may be read but not set by a function: the platform sets it for every connection", name)
		}
	case sqlite.AuthCreateVTable, sqlite.AuthDropVTable:
		if !sqliteModules[strings.ToLower(a2)] {
			return fmt.Sprintf("virtual table module %q is not available: only fts3, fts4, fts5, rtree and geopoly are", a2)
		}
	}
	return ""
}
