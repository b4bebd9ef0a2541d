-- 0003: bindings: SQL databases and KV namespaces of projects, KV entries,
-- and secrets. Times are INTEGER microseconds, as in 0001.

-- Database names are unique across projects. url may hold ${secret:NAME}
-- references; it is never stored resolved.
CREATE TABLE databases (
    name            TEXT    PRIMARY KEY,
    project         TEXT    NOT NULL,
    engine          TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    max_connections INTEGER NOT NULL
);
CREATE INDEX databases_project ON databases (project);

CREATE TABLE kv_namespaces (
    name    TEXT PRIMARY KEY,
    project TEXT NOT NULL
);
CREATE INDEX kv_namespaces_project ON kv_namespaces (project);

-- Removing a namespace removes its entries; a put into a namespace that does
-- not exist fails on the foreign key. Keys compare bytewise (BINARY), which
-- for UTF-8 is code point order, as on PostgreSQL (COLLATE "C"). A rowid
-- table rather than WITHOUT ROWID: values reach 1 MiB, and WITHOUT ROWID
-- suits small rows.
CREATE TABLE kv_entries (
    namespace  TEXT    NOT NULL REFERENCES kv_namespaces (name) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    value      BLOB    NOT NULL,
    expires_at INTEGER,          -- NULL: never
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
);
-- Housekeeping (KVDeleteExpired) finds expired entries without a scan;
-- entries that never expire stay out of the index.
CREATE INDEX kv_entries_expires_at ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;

-- Secret values are ciphertext; the store never sees plaintext.
CREATE TABLE secrets (
    name       TEXT    PRIMARY KEY,
    ciphertext BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
);
