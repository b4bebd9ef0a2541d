// Package postgres is Strata's PostgreSQL store backend: store.Store on a
// pgx/v5 connection pool, for servers where several nodes share one
// database. It owns the PostgreSQL schema, its migrations (embedded under
// migrations/) and the queries. It does not decide when it is used: only the
// server picks a backend.
//
// A store lives in one PostgreSQL schema: the one the connection's
// search_path names, or the one given to OpenWithSchema, so several Strata
// installations (or parallel tests) can share a database. Cross-node
// coordination uses transaction-scoped advisory locks whose keys include the
// schema name: one for migrations, one serialising deploys, one serialising
// log ID allocation.
package postgres
