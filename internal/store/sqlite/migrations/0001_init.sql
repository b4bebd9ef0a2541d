-- 0001: the first schema. Times are INTEGER microseconds since the Unix epoch
-- (UTC), which sort and compare as numbers and match PostgreSQL's timestamptz
-- precision; durations are INTEGER nanoseconds.

CREATE TABLE blobs (
    sha256     TEXT    PRIMARY KEY,
    data       BLOB    NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE functions (
    name           TEXT    PRIMARY KEY,
    project        TEXT    NOT NULL,
    active_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX functions_project ON functions (project);

CREATE TABLE versions (
    function      TEXT    NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    module_sha256 TEXT    NOT NULL,
    config        TEXT    NOT NULL, -- store.FunctionConfig as JSON
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (function, number)
);

-- The last version number handed out per function name. It is deliberately
-- not tied to functions: it survives a function's removal so that a name
-- added again continues its numbering, and hello@3 in old usage and logs
-- never means two different modules.
CREATE TABLE version_counters (
    function    TEXT    PRIMARY KEY,
    last_number INTEGER NOT NULL
);

-- Routes are unique across all projects: one (method, path) has one owner.
CREATE TABLE routes (
    method   TEXT NOT NULL,
    path     TEXT NOT NULL,
    project  TEXT NOT NULL,
    function TEXT NOT NULL REFERENCES functions (name),
    PRIMARY KEY (method, path)
);
CREATE INDEX routes_project ON routes (project);

CREATE TABLE usage (
    id            INTEGER PRIMARY KEY,
    invocation_id TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    trigger_kind  TEXT    NOT NULL,
    trace_id      TEXT    NOT NULL,
    start_at      INTEGER NOT NULL,
    duration_ns   INTEGER NOT NULL,
    billed_ms     INTEGER NOT NULL,
    memory_mb     INTEGER NOT NULL,
    cold          INTEGER NOT NULL,
    outcome       TEXT    NOT NULL,
    status        INTEGER NOT NULL,
    error         TEXT    NOT NULL
);
CREATE INDEX usage_start ON usage (start_at);
CREATE INDEX usage_function_start ON usage (function, start_at);

-- AUTOINCREMENT so that IDs are never reused after LogDeleteBefore empties the
-- tail: followers resume from the last ID they saw.
CREATE TABLE logs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    invocation_id TEXT    NOT NULL,
    function      TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    trace_id      TEXT    NOT NULL,
    logged_at     INTEGER NOT NULL,
    stream        TEXT    NOT NULL,
    line          TEXT    NOT NULL
);
CREATE INDEX logs_function ON logs (function, id);
CREATE INDEX logs_invocation ON logs (invocation_id, id);
CREATE INDEX logs_logged_at ON logs (logged_at);

CREATE TABLE tokens (
    hash       TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
