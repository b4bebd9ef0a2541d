// Package sqlite is Strata's embedded store backend: store.Store on one SQLite
// file, through modernc.org/sqlite (pure Go, no cgo). It owns the SQLite
// schema, its migrations (embedded under migrations/) and the queries. It does
// not decide when it is used: only the server picks a backend.
//
// The file is opened twice: a write handle limited to one connection, because
// SQLite has one writer per database and queueing writers in Go is cheaper
// and fairer than having them spin on SQLITE_BUSY, and a read pool that
// serves queries concurrently thanks to WAL mode. Every write transaction
// begins IMMEDIATE so another process sharing the file cannot deadlock an
// upgrade from reader to writer; busy_timeout covers that case.
package sqlite
