-- 0003: bindings: SQL databases and KV namespaces of projects, KV entries,
-- and secrets.

-- Database names are unique across projects. url may hold ${secret:NAME}
-- references; it is never stored resolved.
CREATE TABLE databases (
    name            text    PRIMARY KEY,
    project         text    NOT NULL,
    engine          text    NOT NULL,
    url             text    NOT NULL,
    max_connections integer NOT NULL
);
CREATE INDEX databases_project ON databases (project);

CREATE TABLE kv_namespaces (
    name    text PRIMARY KEY,
    project text NOT NULL
);
CREATE INDEX kv_namespaces_project ON kv_namespaces (project);

-- Removing a namespace removes its entries; a put into a namespace that does
-- not exist fails on the foreign key. Keys are COLLATE "C" so that the
-- primary key index orders them bytewise (code point order, as SQLite), and
-- prefix listings are range scans of it whatever the database's locale.
CREATE TABLE kv_entries (
    namespace  text        NOT NULL REFERENCES kv_namespaces (name) ON DELETE CASCADE,
    key        text        COLLATE "C" NOT NULL,
    value      bytea       NOT NULL,
    expires_at timestamptz,          -- NULL: never
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (namespace, key)
);
-- Housekeeping (KVDeleteExpired) finds expired entries without a scan;
-- entries that never expire stay out of the index.
CREATE INDEX kv_entries_expires_at ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;

-- Secret values are ciphertext; the store never sees plaintext.
CREATE TABLE secrets (
    name       text        PRIMARY KEY,
    ciphertext bytea       NOT NULL,
    updated_at timestamptz NOT NULL
);
