package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The binding examples: todo-api (SQL on SQLite and on PostgreSQL, data
// surviving a restart) and fetch-allowlist (outbound HTTP through an
// allow-list, with a secret), and the mistakes users make with bindings.

// todo is one item as examples/todo-api answers it.
type todo struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

// apiError is examples/todo-api's JSON error.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// startDevFile is startDevIn for a manifest other than strata.yaml
// (`strata dev -f FILE`).
func startDevFile(t *testing.T, dir, file string) *dev {
	t.Helper()
	p := startProc(t, dir, "dev", "--addr", "127.0.0.1:0", "-f", file)
	d := &dev{proc: p, dir: dir}
	waitFor(t, 3*time.Minute, "strata dev -f "+file+" to deploy", func() error {
		if p.exited() {
			t.Fatalf("strata dev -f %s exited early:\n%s\n%s", file, p.out, p.err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, ".strata", "dev.json")); err == nil {
			var st struct{ Server, Token string }
			if json.Unmarshal(b, &st) == nil && st.Server != "" {
				d.url, d.token = st.Server, st.Token
			}
		}
		out := p.out.String()
		if strings.Contains(out, "deploy failed") {
			t.Fatalf("strata dev -f %s could not deploy:\n%s\n%s", file, out, p.err)
		}
		if d.url != "" && strings.Contains(out, "serving ") && (strings.Contains(out, "deployed ") || strings.Contains(out, "no changes")) {
			return nil
		}
		return fmt.Errorf("not ready")
	})
	return d
}

// addSQLRoute adds POST /sql to a copy of todo-api: a handler that runs the
// request body as a statement and answers errors with the example's own
// writeDBError, so a test can send the database a statement of its choice
// (such as a syntax error) and see what a client of the example would.
// Only tests do this; the example has no such route.
func addSQLRoute(t *testing.T, dir string) {
	t.Helper()
	src := `package main

import (
	"io"
	"net/http"
)

func init() {
	mux.HandleFunc("POST /sql", func(w http.ResponseWriter, r *http.Request) {
		stmt, _ := io.ReadAll(r.Body)
		if _, err := database.Exec(r.Context(), string(stmt)); err != nil {
			writeDBError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}
`
	if err := os.WriteFile(filepath.Join(dir, "api", "zz_sql_e2e.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"strata.yaml", "strata.postgres.yaml"} {
		editFile(t, filepath.Join(dir, name), "      - DELETE /todos/{id}\n", "      - DELETE /todos/{id}\n      - POST /sql\n")
	}
}

// editFile replaces old (which must occur) with new in the file at path.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), old, new)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func decodeJSON[T any](t *testing.T, what string, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: answer %d is not the JSON expected: %v\n%s", what, r.status, err, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q, want application/json", what, ct)
	}
	return v
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

// listTodos is GET /todos.
func listTodos(t *testing.T, url string) []todo {
	t.Helper()
	r := do(t, "GET", url+"/todos", nil, nil)
	if r.status != 200 {
		t.Fatalf("GET /todos: %d %s", r.status, r.body)
	}
	return decodeJSON[[]todo](t, "GET /todos", r)
}

// exerciseTodoCRUD drives the whole todo API and returns the todos left
// at the end (ids ascending). It checks every answer's status and JSON.
func exerciseTodoCRUD(t *testing.T, url string) []todo {
	t.Helper()
	if got := listTodos(t, url); len(got) != 0 {
		t.Fatalf("a fresh database lists %v, want []", got)
	}
	if r := do(t, "GET", url+"/todos", nil, nil); strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("an empty list is %q, want []", r.body)
	}

	// Create three.
	var created []todo
	for i, in := range []map[string]any{
		{"title": "write the migration"},
		{"title": "deploy on Friday", "done": true},
		{"title": "ünïcödé ✓ and 'quotes'; drop table todos; --"},
	} {
		r := do(t, "POST", url+"/todos", jsonBody(in), jsonCT)
		if r.status != 201 {
			t.Fatalf("POST /todos %v: %d %s", in, r.status, r.body)
		}
		got := decodeJSON[todo](t, "POST /todos", r)
		want := todo{ID: got.ID, Title: in["title"].(string), Done: in["done"] == true}
		if got != want || got.ID <= 0 {
			t.Fatalf("created %d: %+v, want %+v with a positive id", i, got, want)
		}
		if loc := r.header.Get("Location"); loc != fmt.Sprintf("/todos/%d", got.ID) {
			t.Fatalf("Location %q for todo %d", loc, got.ID)
		}
		if i > 0 && got.ID <= created[i-1].ID {
			t.Fatalf("ids not increasing: %d after %d", got.ID, created[i-1].ID)
		}
		created = append(created, got)
	}
	if got := listTodos(t, url); !slices.Equal(got, created) {
		t.Fatalf("GET /todos: %+v, want %+v", got, created)
	}
	// Paging.
	r := do(t, "GET", fmt.Sprintf("%s/todos?limit=1&after=%d", url, created[0].ID), nil, nil)
	if page := decodeJSON[[]todo](t, "GET /todos?limit&after", r); r.status != 200 || !slices.Equal(page, created[1:2]) {
		t.Fatalf("page after %d: %d %+v, want %+v", created[0].ID, r.status, page, created[1:2])
	}

	// Read one.
	for _, c := range created {
		r := do(t, "GET", fmt.Sprintf("%s/todos/%d", url, c.ID), nil, nil)
		if got := decodeJSON[todo](t, "GET /todos/{id}", r); r.status != 200 || got != c {
			t.Fatalf("GET /todos/%d: %d %+v, want %+v", c.ID, r.status, got, c)
		}
	}

	// Update: one field, then the other; the untouched field stays.
	first := created[0]
	r = do(t, "PUT", fmt.Sprintf("%s/todos/%d", url, first.ID), []byte(`{"done":true}`), jsonCT)
	first.Done = true
	if got := decodeJSON[todo](t, "PUT done", r); r.status != 200 || got != first {
		t.Fatalf("PUT done: %d %+v, want %+v", r.status, got, first)
	}
	r = do(t, "PUT", fmt.Sprintf("%s/todos/%d", url, first.ID), []byte(`{"title":"write the migrations"}`), jsonCT)
	first.Title = "write the migrations"
	if got := decodeJSON[todo](t, "PUT title", r); r.status != 200 || got != first {
		t.Fatalf("PUT title: %d %+v, want %+v", r.status, got, first)
	}
	r = do(t, "GET", fmt.Sprintf("%s/todos/%d", url, first.ID), nil, nil)
	if got := decodeJSON[todo](t, "GET after PUT", r); got != first {
		t.Fatalf("GET after PUT: %+v, want %+v", got, first)
	}
	created[0] = first

	// Delete one: 204, then it is gone (404 on every verb).
	gone := created[1]
	if r := do(t, "DELETE", fmt.Sprintf("%s/todos/%d", url, gone.ID), nil, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("DELETE /todos/%d: %d %q", gone.ID, r.status, r.body)
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		r := do(t, m, fmt.Sprintf("%s/todos/%d", url, gone.ID), []byte(`{"done":false}`), jsonCT)
		e := decodeJSON[apiError](t, m+" deleted", r)
		if r.status != 404 || e.Error != fmt.Sprintf("todo %d not found", gone.ID) {
			t.Fatalf("%s of a deleted todo: %d %+v", m, r.status, e)
		}
	}
	left := []todo{created[0], created[2]}

	// Mistakes of the client: 400 (413 for a huge body) with a message, and
	// nothing changes.
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/todos", `{"title":""}`, 400, `"title" must not be empty`},
		{"POST", "/todos", `{"title":"   "}`, 400, `"title" must not be empty`},
		{"POST", "/todos", `{}`, 400, `"title" is required`},
		{"POST", "/todos", `{"title":"x","colour":"red"}`, 400, `unknown field "colour"`},
		{"POST", "/todos", `{"title":` + strconv.Quote(strings.Repeat("é", 201)) + `}`, 400, "has 201 characters; at most 200"},
		{"POST", "/todos", `not json`, 400, "body must be a JSON object"},
		{"POST", "/todos", `{"title":"a"}{"title":"b"}`, 400, "one JSON object"},
		{"POST", "/todos", `{"title":"x","done":"yes"}`, 400, "body must be a JSON object"},
		{"POST", "/todos", `{"title":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body over"},
		{"PUT", fmt.Sprintf("/todos/%d", left[0].ID), `{}`, 400, `give "title", "done" or both`},
		{"PUT", fmt.Sprintf("/todos/%d", left[0].ID), `{"title":""}`, 400, `"title" must not be empty`},
		{"GET", "/todos/abc", ``, 400, `todo id must be a positive integer, got "abc"`},
		{"GET", "/todos/0", ``, 400, "todo id must be a positive integer"},
		{"DELETE", "/todos/99999999999999999999", ``, 400, "todo id must be a positive integer"},
		{"GET", "/todos/424242", ``, 404, "todo 424242 not found"},
		{"GET", "/todos?limit=0", ``, 400, "limit must be an integer from 1 to 1000"},
		{"GET", "/todos?limit=ten", ``, 400, "limit must be an integer"},
		{"GET", "/todos?after=-1", ``, 400, "after must be a todo id"},
	} {
		r := do(t, tc.method, url+tc.path, []byte(tc.body), jsonCT)
		e := decodeJSON[apiError](t, tc.method+" "+tc.path+" "+tc.body, r)
		if r.status != tc.status || !strings.Contains(e.Error, tc.msg) {
			t.Fatalf("%s %s %.60s: %d %q, want %d with %q", tc.method, tc.path, tc.body, r.status, e.Error, tc.status, tc.msg)
		}
	}
	if got := listTodos(t, url); !slices.Equal(got, left) {
		t.Fatalf("after the bad requests: %+v, want %+v", got, left)
	}
	return left
}

// dbCount runs `strata db shell DB -c 'select count(*) from todos'` and
// returns the number it prints.
func dbCount(t *testing.T, dir, db string) int {
	t.Helper()
	out := mustRun(t, dir, "db", "shell", db, "-c", "select count(*) from todos")
	// count(*)
	// 2
	// (1 row(s))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[2] != "(1 row(s))" {
		t.Fatalf("db shell output:\n%s", out)
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil {
		t.Fatalf("db shell output %q: %v", out, err)
	}
	return n
}

func TestTodoAPISQLite(t *testing.T) {
	t.Parallel()
	dir := copyProject(t, "todo-api")
	addSQLRoute(t, dir)
	d := startDevIn(t, dir)
	requireDeployed(t, d)

	// Before the migration the table is missing: the database's own error.
	r := do(t, "GET", d.url+"/todos", nil, nil)
	if e := decodeJSON[apiError](t, "GET before migrate", r); r.status != 500 || e.Code != "SQLITE_ERROR" || !strings.Contains(e.Error, "no such table: todos") {
		t.Fatalf("GET /todos before the migration: %d %+v", r.status, e)
	}

	out := mustRun(t, dir, "db", "migrate", "main", "./migrations/sqlite")
	if strings.TrimSpace(out) != "applied 0001_todos.sql" {
		t.Fatalf("migrate: %q", out)
	}
	if out := mustRun(t, dir, "db", "migrate", "main", "./migrations/sqlite"); strings.TrimSpace(out) != "main is up to date (1 migrations)" {
		t.Fatalf("migrate again: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".strata", "databases", "main.db")); err != nil {
		t.Fatalf("the SQLite file of database main: %v", err)
	}

	left := exerciseTodoCRUD(t, d.url)
	if n := dbCount(t, dir, "main"); n != len(left) {
		t.Fatalf("db shell counts %d todos, the API lists %d", n, len(left))
	}
	// The shell and the API see the same rows and values (SQLite keeps
	// done as 0 or 1).
	out = mustRun(t, dir, "db", "shell", "main", "-c", "select id, done from todos order by id")
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s+1\n%d\s+0\n\(2 row\(s\)\)$`, left[0].ID, left[1].ID))
	if !want.MatchString(out) {
		t.Fatalf("db shell rows:\n%s\nwant %v", out, want)
	}

	// A SQL syntax error reaches the client with SQLite's code and message.
	r = do(t, "POST", d.url+"/sql", []byte("selec id from todos"), nil)
	if e := decodeJSON[apiError](t, "syntax error", r); r.status != 500 || e.Code != "SQLITE_ERROR" || !strings.Contains(e.Error, `near "selec": syntax error`) {
		t.Fatalf("syntax error: %d %+v", r.status, e)
	}
	// A constraint the migration declares, bypassing the API's checks.
	r = do(t, "POST", d.url+"/sql", []byte("insert into todos (title, done) values ('x', 7)"), nil)
	if e := decodeJSON[apiError](t, "check constraint", r); r.status != 500 || e.Code != "SQLITE_CONSTRAINT_CHECK" {
		t.Fatalf("check constraint: %d %+v", r.status, e)
	}
	waitFor(t, time.Minute, "the log lines of api", func() error {
		logs := mustRun(t, dir, "logs", "api")
		for _, want := range []string{fmt.Sprintf("created todo %d", left[1].ID), "database error SQLITE_ERROR", "database error SQLITE_CONSTRAINT_CHECK"} {
			if !strings.Contains(logs, want) {
				return fmt.Errorf("no %q in the logs so far:\n%s", want, logs)
			}
		}
		return nil
	})

	// Data survives a restart of the dev server in the same folder.
	d.stop()
	d2 := startDevIn(t, dir)
	if got := listTodos(t, d2.url); !slices.Equal(got, left) {
		t.Fatalf("after a restart: %+v, want %+v", got, left)
	}
	if n := dbCount(t, dir, "main"); n != len(left) {
		t.Fatalf("after a restart db shell counts %d", n)
	}
	// And it still writes.
	r = do(t, "POST", d2.url+"/todos", []byte(`{"title":"after the restart"}`), jsonCT)
	if got := decodeJSON[todo](t, "POST after restart", r); r.status != 201 || got.ID <= left[len(left)-1].ID {
		t.Fatalf("POST after the restart: %d %+v", r.status, got)
	}
}

// pgSchema creates a fresh schema on STRATA_TEST_POSTGRES, dropped at the
// end of the test, and returns a connection to the database and its name.
func pgSchema(t *testing.T, pg, prefix string) (*pgx.Conn, string) {
	t.Helper()
	schema := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	return conn, schema
}

func withParam(url, kv string) string {
	if strings.Contains(url, "?") {
		return url + "&" + kv
	}
	return url + "?" + kv
}

func TestTodoAPIPostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	t.Parallel()
	conn, schema := pgSchema(t, pg, "strata_e2e_todo")
	ctx := context.Background()

	dir := copyProject(t, "todo-api")
	addSQLRoute(t, dir)
	d := startDevFile(t, dir, "strata.postgres.yaml")
	requireDeployed(t, d)
	if !strings.Contains(d.out.String(), "+ database main (postgres ${secret:TODO_DB_URL}, max_connections 10)") {
		t.Fatalf("deploy output does not show the PostgreSQL database:\n%s", d.out)
	}

	// The URL is a secret, read from standard input; search_path puts the
	// tables in this test's schema.
	url := withParam(pg, "search_path="+schema)
	out, errOut, code := run(t, dir, []byte(url+"\n"), "secrets", "set", "TODO_DB_URL")
	if code != 0 || strings.TrimSpace(out) != "secret TODO_DB_URL set" {
		t.Fatalf("secrets set: exit %d\n%s\n%s", code, out, errOut)
	}
	list := mustRun(t, dir, "secrets", "list")
	if !strings.Contains(list, "TODO_DB_URL") || strings.Contains(list, schema) {
		t.Fatalf("secrets list (names only, never values):\n%s", list)
	}

	if out := mustRun(t, dir, "db", "migrate", "main", "./migrations/postgres"); strings.TrimSpace(out) != "applied 0001_todos.sql" {
		t.Fatalf("migrate: %q", out)
	}
	var tables []string
	rows, err := conn.Query(ctx, "select table_name from information_schema.tables where table_schema = $1 order by 1", schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables, []string{"strata_migrations", "todos"}) {
		t.Fatalf("tables in schema %s: %v", schema, tables)
	}

	left := exerciseTodoCRUD(t, d.url)
	if n := dbCount(t, dir, "main"); n != len(left) {
		t.Fatalf("db shell counts %d todos, the API lists %d", n, len(left))
	}

	// The rows are in this test's schema, as the API reported them.
	rows, err = conn.Query(ctx, "select id, title, done from "+schema+".todos order by id")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (todo, error) {
		var td todo
		err := r.Scan(&td.ID, &td.Title, &td.Done)
		return td, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, left) {
		t.Fatalf("rows in %s.todos: %+v, want %+v", schema, got, left)
	}

	// Strata's pool is on the server under its application_name, and no
	// more than max_connections.
	var pooled int
	if err := conn.QueryRow(ctx, "select count(*) from pg_stat_activity where application_name = 'strata:main'").Scan(&pooled); err != nil {
		t.Fatal(err)
	}
	if pooled < 1 || pooled > 10 {
		t.Fatalf("%d connections named strata:main, want 1 to 10", pooled)
	}

	// A syntax error comes back with PostgreSQL's SQLSTATE and message.
	r := do(t, "POST", d.url+"/sql", []byte("selec id from todos"), nil)
	if e := decodeJSON[apiError](t, "syntax error", r); r.status != 500 || e.Code != "42601" || !strings.Contains(e.Error, `syntax error at or near "selec"`) {
		t.Fatalf("syntax error: %d %+v", r.status, e)
	}
}

// upstream is the httptest server standing in for the external API of
// fetch-allowlist. It answers the quote to a request with the right bearer
// token and 401 to any other, and records what arrived.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	token string
	seen  []http.Header
}

func newUpstream(t *testing.T, token string) *upstream {
	u := &upstream{token: token}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		want := "Bearer " + u.token
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"bad token"}`))
			return
		}
		w.Write([]byte(`{"quote":"Simplicity is prerequisite for reliability.","path":"` + r.URL.Path + `"}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) setToken(tok string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.token = tok
}

func (u *upstream) last(t *testing.T) http.Header {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream API received no request")
	}
	return u.seen[len(u.seen)-1]
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "tok_" + hex.EncodeToString(b)
}

var traceparentRe = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]$`)

func TestFetchAllowlist(t *testing.T) {
	t.Parallel()
	token := randomSecret(t)
	up := newUpstream(t, token)
	host := strings.TrimPrefix(up.URL, "http://") // 127.0.0.1:port

	dir := copyProject(t, "fetch-allowlist")
	editFile(t, filepath.Join(dir, "strata.yaml"), "127.0.0.1:9911", host)
	d := startDevIn(t, dir)
	requireDeployed(t, d)

	// Before the secret is set: an error that says so.
	r := do(t, "GET", d.url+"/upstream", nil, nil)
	if r.status != 500 || !strings.Contains(string(r.body), "secret API_TOKEN is not set") {
		t.Fatalf("GET /upstream without the secret: %d %s", r.status, r.body)
	}

	if out, errOut, code := run(t, dir, []byte(token), "secrets", "set", "API_TOKEN"); code != 0 {
		t.Fatalf("secrets set: exit %d\n%s\n%s", code, out, errOut)
	}

	// The allowed call: the API's answer comes back, and the request
	// carried the token and the invocation's traceparent.
	type answer struct {
		URL     string         `json:"url"`
		Status  int            `json:"status"`
		Answer  map[string]any `json:"answer"`
		Error   string         `json:"error"`
		Refused bool           `json:"refused"`
	}
	r = do(t, "GET", d.url+"/upstream", nil, nil)
	a := decodeJSON[answer](t, "GET /upstream", r)
	if r.status != 200 || a.Status != 200 || a.Answer["quote"] != "Simplicity is prerequisite for reliability." || a.URL != up.URL+"/quote.json" {
		t.Fatalf("GET /upstream: %d %s", r.status, r.body)
	}
	h := up.last(t)
	if h.Get("Authorization") != "Bearer "+token {
		t.Fatalf("the API got Authorization %q", h.Get("Authorization"))
	}
	if tp := h.Get("Traceparent"); !traceparentRe.MatchString(tp) {
		t.Fatalf("the API got traceparent %q, want a W3C traceparent", tp)
	}
	if strings.Contains(string(r.body), token) {
		t.Fatalf("the answer holds the secret: %s", r.body)
	}

	// Rotating the secret needs no redeploy: the next call sends the new one.
	token2 := randomSecret(t)
	up.setToken(token2)
	if r := do(t, "GET", d.url+"/upstream", nil, nil); r.status != 502 || !strings.Contains(string(r.body), `"status":401`) {
		t.Fatalf("with the old token the API says 401, reported as 502: %d %s", r.status, r.body)
	}
	mustRunStdin(t, dir, []byte(token2+"\n"), "secrets", "set", "API_TOKEN")
	if r := do(t, "GET", d.url+"/upstream", nil, nil); r.status != 200 {
		t.Fatalf("after rotating the secret: %d %s", r.status, r.body)
	}
	if got := up.last(t).Get("Authorization"); got != "Bearer "+token2 {
		t.Fatalf("after rotating, Authorization %q", got)
	}

	// Hosts outside the list are refused before any connection: another
	// host, and the same host on another port.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a refused fetch reached %s", r.URL)
	}))
	defer other.Close()
	for _, target := range []string{"", other.URL + "/", "http://localhost:" + strings.Split(host, ":")[1] + "/"} {
		path := "/blocked"
		want := "http://example.com/"
		if target != "" {
			path += "?url=" + target
			want = target
		}
		r := do(t, "GET", d.url+path, nil, nil)
		a := decodeJSON[answer](t, "GET "+path, r)
		if r.status != 403 || !a.Refused || a.URL != want || !strings.Contains(a.Error, "is not in the fetch allow-list of function caller") {
			t.Fatalf("GET %s: %d %s", path, r.status, r.body)
		}
	}

	// The secret never shows: not in the logs, not in a deploy plan, not
	// in the list of secrets.
	// Log lines are stored in batches: wait for the last one.
	var logs string
	waitFor(t, time.Minute, "the log lines of caller", func() error {
		logs = mustRun(t, dir, "logs")
		if !strings.Contains(logs, "called "+host+": 200 in ") || !strings.Contains(logs, "refused localhost:") {
			return fmt.Errorf("logs so far:\n%s", logs)
		}
		return nil
	})
	// A plan of a changed manifest (a second file, so the dev server
	// does not deploy it): env and secrets show by name only.
	b, err := os.ReadFile(filepath.Join(dir, "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "BLOCKED_URL: http://example.com/", "BLOCKED_URL: http://example.org/", 1)
	changed = strings.Replace(changed, "secrets: [API_TOKEN]", "secrets: [API_TOKEN, OTHER_TOKEN]", 1)
	changed = strings.Replace(changed, "bindings: { secrets: [API_TOKEN] }", "bindings: { secrets: [API_TOKEN, OTHER_TOKEN] }", 1)
	if err := os.WriteFile(filepath.Join(dir, "strata.plan.yaml"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := mustRun(t, dir, "deploy", "--plan", "-f", "strata.plan.yaml")
	if !strings.Contains(plan, "env ~BLOCKED_URL") || !strings.Contains(plan, "secrets +OTHER_TOKEN") || !strings.Contains(plan, "(plan only: nothing was changed)") {
		t.Fatalf("deploy --plan:\n%s", plan)
	}
	list := mustRun(t, dir, "secrets", "list")
	if !strings.Contains(list, "API_TOKEN") {
		t.Fatalf("secrets list:\n%s", list)
	}
	for what, text := range map[string]string{"logs": logs, "deploy --plan": plan, "secrets list": list, "dev output": d.out.String() + d.err.String()} {
		for _, tok := range []string{token, token2} {
			if strings.Contains(text, tok) {
				t.Fatalf("%s shows the secret's value:\n%s", what, text)
			}
		}
	}
}

// mustRunStdin is mustRun with standard input.
func mustRunStdin(t *testing.T, dir string, stdin []byte, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, dir, stdin, args...)
	if code != 0 {
		t.Fatalf("strata %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

// TestBindingsBadInput: mistakes with bindings that need no running server.
func TestBindingsBadInput(t *testing.T) {
	t.Parallel()
	t.Run("secret from empty stdin", func(t *testing.T) {
		dir := copyProject(t, "fetch-allowlist")
		for _, in := range [][]byte{{}, []byte("\n"), []byte("\r\n")} {
			out, errOut, code := run(t, dir, in, "secrets", "set", "API_TOKEN")
			if code != 2 || !strings.Contains(errOut, "no value on standard input") {
				t.Fatalf("secrets set with stdin %q: exit %d\n%s\n%s", in, code, out, errOut)
			}
		}
	})
	t.Run("secret with a bad name", func(t *testing.T) {
		dir := copyProject(t, "fetch-allowlist")
		out, errOut, code := run(t, dir, []byte("v"), "secrets", "set", "API-TOKEN")
		if code != 2 || !strings.Contains(errOut, `secret name "API-TOKEN"`) {
			t.Fatalf("secrets set API-TOKEN: exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("binding an undeclared database", func(t *testing.T) {
		dir := copyProject(t, "todo-api")
		man := filepath.Join(dir, "strata.yaml")
		editFile(t, man, "bindings: { db: main }", "bindings: { db: mian }")
		b, _ := os.ReadFile(man)
		line := 0
		for i, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "db: mian") {
				line = i + 1
			}
		}
		_, errOut, code := run(t, dir, nil, "build")
		re := regexp.MustCompile(fmt.Sprintf(`strata\.yaml:%d:\d+: functions\.api\.bindings\.db: unknown database or kv namespace "mian"; did you mean "main"\?`, line))
		if code != 1 || !re.MatchString(errOut) {
			t.Fatalf("build with db: mian (line %d): exit %d\n%s", line, code, errOut)
		}
	})
	t.Run("migrations folder without sql", func(t *testing.T) {
		dir := copyProject(t, "todo-api")
		out, errOut, code := run(t, dir, nil, "db", "migrate", "main", "./api")
		if code != 2 || !strings.Contains(errOut, "no .sql files in ./api") {
			t.Fatalf("migrate ./api: exit %d\n%s\n%s", code, out, errOut)
		}
	})
}
