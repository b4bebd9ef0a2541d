// Package bindings is the host side of the resources a function reaches
// through host calls: pooled SQL databases (SQLite files Strata manages,
// and PostgreSQL), key-value namespaces, outbound HTTP through an
// allow-list, and secrets. The platform holds every connection; guests
// never do. A guest names a binding ("db") and the calling function's
// configuration (Caller, set per invocation with WithCaller) says which
// resource that is and whether the guest may use it.
//
// It owns: the database connection pools and their hard per-database
// ceilings, the confinement of guest SQL to its one database (SQLite's
// authorizer, limits and defensive mode, see sqliteguard.go), result caps
// and deadlines enforced while a statement runs, the transactions guests leave open (rolled back by
// EndInvocation), the encryption of secrets (AES-256-GCM under a key
// file, bound to the secret's project and name; a function reads only its
// own project's secrets, Caller.Project), the SSRF checks of fetch, and schema migrations of bound
// databases. It does not own: where configurations and KV entries are
// stored (package store, through the BindingsStore interface), how
// requests cross the Wasm boundary (internal/wasm calls the handlers
// here with the JSON types of sdk/go/wire), nor reading the key from the
// environment (the caller passes Config.Key).
//
// Errors: failures the database reports (syntax, constraints, wrong
// argument counts) come back inside the response as wire.SQLError with the
// database's code, so the guest can branch on them. Everything else is a
// Go error wrapping one of the sentinels below (ErrNotPermitted, ErrLimit,
// ErrTimeout, ErrBadRequest, ErrNoCaller, or store.ErrNotFound) whose text
// is written to be shown to the guest as is.
package bindings
