// Command api is a todo REST API on a SQL database binding:
//
//	GET    /todos          list todos (?limit=N, ?after=ID to page)
//	POST   /todos          create one from {"title": "...", "done": false}
//	GET    /todos/{id}     read one
//	PUT    /todos/{id}     update the fields given: {"title": "..."}, {"done": true}
//	DELETE /todos/{id}     delete one
//
// The code opens the binding "db". Which database that is, and on which
// engine, is the manifest's business: strata.yaml binds it to a SQLite file
// Strata manages, strata.postgres.yaml to PostgreSQL. The SQL below is what
// both engines accept: $1 placeholders and INSERT … RETURNING.
//
// Every answer is JSON. Mistakes of the client are 400 with a message, an
// unknown todo is 404, and an error the database reports comes back as
// {"error": message, "code": SQLSTATE or SQLite result code}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
)

// Todo is one item as the API shows it.
type Todo struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
}

// Limits of the API; the title limit is also a CHECK in the migrations.
const (
	maxTitle     = 200
	maxBody      = 64 << 10
	defaultLimit = 100
	maxLimit     = 1000
)

// database is the binding named in the manifest. Opening it does no I/O:
// the platform holds the connections, pooled across every instance.
var database = db.Open("db")

// mux routes inside the function. The gateway has already matched one of
// the manifest's routes; the same patterns here give r.PathValue("id").
var mux = http.NewServeMux()

func init() {
	mux.HandleFunc("GET /todos", listTodos)
	mux.HandleFunc("POST /todos", createTodo)
	mux.HandleFunc("GET /todos/{id}", getTodo)
	mux.HandleFunc("PUT /todos/{id}", updateTodo)
	mux.HandleFunc("DELETE /todos/{id}", deleteTodo)
	strata.HandleHTTP(mux)
}

func listTodos(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", defaultLimit)
	if err != nil || limit < 1 || limit > maxLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be an integer from 1 to %d", maxLimit))
		return
	}
	after, err := queryInt(r, "after", 0)
	if err != nil || after < 0 {
		writeError(w, http.StatusBadRequest, "after must be a todo id (a non-negative integer)")
		return
	}
	rows, err := database.Query(r.Context(),
		"select id, title, done from todos where id > $1 order by id limit $2", after, limit)
	if err != nil {
		writeDBError(w, err)
		return
	}
	defer rows.Close()
	todos := []Todo{} // an empty list is [], not null
	for rows.Next() {
		var t Todo
		if err := rows.Scan(&t.ID, &t.Title, &t.Done); err != nil {
			writeDBError(w, err)
			return
		}
		todos = append(todos, t)
	}
	if err := rows.Err(); err != nil {
		writeDBError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, todos)
}

func createTodo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title *string `json:"title"`
		Done  bool    `json:"done"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Title == nil {
		writeError(w, http.StatusBadRequest, `"title" is required`)
		return
	}
	if msg := checkTitle(*in.Title); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	t := Todo{Title: *in.Title, Done: in.Done}
	err := database.QueryRow(r.Context(),
		"insert into todos (title, done) values ($1, $2) returning id", t.Title, t.Done).Scan(&t.ID)
	if err != nil {
		writeDBError(w, err)
		return
	}
	fmt.Printf("created todo %d\n", t.ID)
	w.Header().Set("Location", fmt.Sprintf("/todos/%d", t.ID))
	writeJSON(w, http.StatusCreated, t)
}

func getTodo(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	t, err := loadTodo(r.Context(), id)
	if err != nil {
		writeLoadError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func updateTodo(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var in struct {
		Title *string `json:"title"`
		Done  *bool   `json:"done"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Title == nil && in.Done == nil {
		writeError(w, http.StatusBadRequest, `give "title", "done" or both`)
		return
	}
	if in.Title != nil {
		if msg := checkTitle(*in.Title); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	// Read, change and write in one transaction, so two updates of
	// different fields at the same time do not undo each other.
	ctx := r.Context()
	tx, err := database.Begin(ctx)
	if err != nil {
		writeDBError(w, err)
		return
	}
	defer tx.Rollback(ctx) // after Commit it only reports ErrTxDone
	var t Todo
	err = tx.QueryRow(ctx, "select id, title, done from todos where id = $1", id).Scan(&t.ID, &t.Title, &t.Done)
	if err != nil {
		writeLoadError(w, id, err)
		return
	}
	if in.Title != nil {
		t.Title = *in.Title
	}
	if in.Done != nil {
		t.Done = *in.Done
	}
	if _, err := tx.Exec(ctx, "update todos set title = $1, done = $2 where id = $3", t.Title, t.Done, id); err != nil {
		writeDBError(w, err)
		return
	}
	if err := tx.Commit(ctx); err != nil {
		writeDBError(w, err)
		return
	}
	fmt.Printf("updated todo %d\n", id)
	writeJSON(w, http.StatusOK, t)
}

func deleteTodo(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	res, err := database.Exec(r.Context(), "delete from todos where id = $1", id)
	if err != nil {
		writeDBError(w, err)
		return
	}
	if res.RowsAffected == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("todo %d not found", id))
		return
	}
	fmt.Printf("deleted todo %d\n", id)
	w.WriteHeader(http.StatusNoContent)
}

func loadTodo(ctx context.Context, id int64) (Todo, error) {
	var t Todo
	err := database.QueryRow(ctx, "select id, title, done from todos where id = $1", id).Scan(&t.ID, &t.Title, &t.Done)
	return t, err
}

// checkTitle returns what is wrong with a title, or "".
func checkTitle(s string) string {
	switch n := utf8.RuneCountInString(s); {
	case strings.TrimSpace(s) == "":
		return `"title" must not be empty`
	case n > maxTitle:
		return fmt.Sprintf(`"title" has %d characters; at most %d`, n, maxTitle)
	}
	return ""
}

// pathID parses {id}; on failure it has answered 400.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("todo id must be a positive integer, got %q", s))
		return 0, false
	}
	return id, true
}

func queryInt(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// readJSON decodes one JSON object of known fields; on failure it has
// answered 400 (or 413 for a body over maxBody).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return false
	}
	if len(body) > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxBody))
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON object: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "body must hold one JSON object")
		return false
	}
	return true
}

// writeLoadError answers a failed read of one todo: 404 when there is none.
func writeLoadError(w http.ResponseWriter, id int64, err error) {
	if errors.Is(err, db.ErrNoRows) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("todo %d not found", id))
		return
	}
	writeDBError(w, err)
}

// writeDBError answers an error of the database binding. An error the
// database itself reported carries its code (a PostgreSQL SQLSTATE such as
// 42601, or a SQLite result code such as SQLITE_ERROR) and message, which
// go back to the client as they are: this is a demo, where seeing the
// database's own words is the point. Anything else (a platform error, such
// as no free connection before the deadline) is a plain 500.
func writeDBError(w http.ResponseWriter, err error) {
	var dbErr *db.Error
	if errors.As(err, &dbErr) {
		fmt.Printf("database error %s: %s\n", dbErr.Code, dbErr.Message)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": dbErr.Message, "code": dbErr.Code})
		return
	}
	fmt.Printf("database binding error: %v\n", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func main() {}
