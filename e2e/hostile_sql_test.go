package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hostile tenant, SQL slice (issue 9, found items 1 and 3): a deployed
// function with a SQLite binding tries to reach the platform's own store
// through its database, to write files with VACUUM INTO, and to exhaust
// the node with a zeroblob bomb and a statement that never ends, while
// another project keeps being served.

// addHostileSQLRoutes adds POST /sql (exec, addSQLRoute's) and POST /query
// (query, reading every row) to a copy of todo-api, renames the project
// thief and gives its function a 3 s timeout.
func addHostileSQLRoutes(t *testing.T, dir string) {
	t.Helper()
	addSQLRoute(t, dir)
	src := `package main

import (
	"io"
	"net/http"
)

func init() {
	mux.HandleFunc("POST /query", func(w http.ResponseWriter, r *http.Request) {
		stmt, _ := io.ReadAll(r.Body)
		rows, err := database.Query(r.Context(), string(stmt))
		if err != nil {
			writeDBError(w, err)
			return
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			writeDBError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"rows": n})
	})
}
`
	if err := os.WriteFile(filepath.Join(dir, "api", "zz_hostile_e2e.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	editFile(t, filepath.Join(dir, "strata.yaml"), "project: todo-api", "project: thief")
	editFile(t, filepath.Join(dir, "strata.yaml"), "timeout: 10s", "timeout: 3s")
	editFile(t, filepath.Join(dir, "strata.yaml"), "      - POST /sql\n", "      - POST /sql\n      - POST /query\n")
}

func TestHostileSQLSQLiteStore(t *testing.T) {
	t.Parallel()
	testHostileSQL(t)
}

func TestHostileSQLPostgresStore(t *testing.T) {
	t.Parallel()
	testHostileSQL(t, pgStoreArgs(t, "strata_e2e_hsql")...)
}

func testHostileSQL(t *testing.T, serverArgs ...string) {
	p, url, tok := startServer(t, serverArgs...)
	dataDir := p.cmd.Dir

	victim := copyProject(t, "hello")
	mustRun(t, victim, "deploy", "--server", url, "--token", tok)
	thief := copyProject(t, "todo-api")
	addHostileSQLRoutes(t, thief)
	mustRun(t, thief, "deploy", "--server", url, "--token", tok)

	victimServes := func(when string) {
		t.Helper()
		if r := do(t, "GET", url+"/hello/world", nil, nil); r.status != 200 || string(r.body) != "hello, world!\n" {
			t.Fatalf("project hello %s: %d %q", when, r.status, r.body)
		}
	}
	victimServes("before the attacks")

	type answer struct{ Error, Code string }
	attack := func(route, stmt string, wantStatus int, wantCode, want string) {
		t.Helper()
		r := do(t, "POST", url+route, []byte(stmt), nil)
		var a answer
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatalf("%s: answer %d is not JSON: %s", stmt, r.status, r.body)
		}
		if r.status != wantStatus || a.Code != wantCode || !strings.Contains(a.Error, want) {
			t.Fatalf("%s: %d %+v; want %d, code %q and an error containing %q", stmt, r.status, a, wantStatus, wantCode, want)
		}
	}

	// Found item 1: the platform's store, read-write and read-only, and a
	// file written with VACUUM INTO.
	store := filepath.Join(dataDir, "strata.db")
	stolen := filepath.Join(dataDir, "stolen.db")
	attack("/sql", "ATTACH DATABASE '"+store+"' AS w", 500, "", "ATTACH DATABASE and VACUUM INTO are not available")
	attack("/sql", "ATTACH DATABASE '"+store+"' AS w; INSERT INTO w.tokens(hash) VALUES ('x')", 500, "", "ATTACH DATABASE and VACUUM INTO are not available")
	attack("/query", "ATTACH 'file:"+store+"?mode=ro' AS w", 500, "", "ATTACH DATABASE and VACUUM INTO are not available")
	attack("/sql", "VACUUM INTO '"+stolen+"'", 500, "", "ATTACH DATABASE and VACUUM INTO are not available")
	attack("/query", "SELECT file FROM pragma_database_list", 500, "", "PRAGMA database_list is not available")
	attack("/sql", "PRAGMA writable_schema = ON", 500, "", "PRAGMA writable_schema is not available")
	if _, err := os.Stat(stolen); !os.IsNotExist(err) {
		t.Fatalf("VACUUM INTO wrote %s: %v", stolen, err)
	}
	victimServes("after the attach attempts")

	// Found item 3: the zeroblob bomb is refused before it is built.
	attack("/query", "SELECT zeroblob(999999999), zeroblob(999999999)", 500, "SQLITE_TOOBIG", "result cap")

	// A statement that never ends stops at the function's 3 s timeout;
	// meanwhile, and after, the other project is served.
	done := make(chan response, 1)
	go func() {
		done <- do(t, "POST", url+"/query", []byte("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i FROM r WHERE i = 1 OR i = 4000000000"), nil)
	}()
	victimServes("while a statement of project thief runs away")
	select {
	case r := <-done:
		if r.status == 200 {
			t.Fatalf("the runaway statement answered 200: %s", r.body)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the runaway statement outlived its function's 3 s timeout by 2 minutes")
	}
	victimServes("after the runaway statement")

	// The thief's own database still works.
	r := do(t, "POST", url+"/sql", []byte("CREATE TABLE mine (x INTEGER)"), nil)
	if r.status != 200 {
		t.Fatalf("the thief's own database: %d %s", r.status, r.body)
	}
}
