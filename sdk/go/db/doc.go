// Package db is the guest side of SQL bindings: a function queries the
// databases its manifest binds (bindings: [{name: db, kind: sql, ...}])
// through the host, which holds every connection.
//
//	var users = db.Open("db")
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		var name string
//		err := users.QueryRow(r.Context(), "SELECT name FROM users WHERE id = $1", 7).Scan(&name)
//		if errors.Is(err, db.ErrNoRows) { ... }
//	}
//
// OpenSQL gives the same database as a standard *sql.DB (a
// database/sql driver), for code written against database/sql: sqlc's
// generated queries, sqlx, migration tools.
//
// Arguments are always bound, never interpolated: $1, $2, ... on SQLite and
// PostgreSQL (SQLite also accepts ?). They may be nil, any integer,
// float32/64, string, []byte, bool, time.Time or a wire.SQLValue.
//
// A query's rows arrive whole (the host caps a result at 10,000 rows or
// about 4 MiB: page with LIMIT), so Rows never holds a connection and
// Close only forgets them.
//
// Transactions (Begin) keep one connection for their statements. A
// transaction the function leaves open is rolled back by the platform when
// the invocation ends.
//
// Errors: what the database reports (syntax, constraint, missing table) is
// a *Error with the engine's code (a PostgreSQL SQLSTATE such as "23505",
// or a SQLite extended result code name such as "SQLITE_CONSTRAINT_UNIQUE").
// Errors of the platform (binding not declared, no free connection before
// the deadline, result too large) are ordinary errors with the host's
// message. The invocation's deadline bounds every call; a context that is
// already done makes a call fail at once.
//
// The package uses only the standard library and works only inside a
// Strata function (GOOS=wasip1); elsewhere every call fails with an error
// saying so.
package db
