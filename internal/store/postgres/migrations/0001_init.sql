-- 0001: the first schema. Tables are created unqualified so they land in the
-- schema the store was opened with (search_path).

CREATE TABLE blobs (
    sha256     text        PRIMARY KEY,
    data       bytea       NOT NULL,
    size       bigint      NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE functions (
    name           text        PRIMARY KEY,
    project        text        NOT NULL,
    active_version integer     NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX functions_project ON functions (project);

CREATE TABLE versions (
    function      text        NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
    number        integer     NOT NULL,
    module_sha256 text        NOT NULL,
    config        jsonb       NOT NULL, -- store.FunctionConfig
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (function, number)
);

-- The last version number handed out per function name. It is deliberately
-- not tied to functions: it survives a function's removal so that a name
-- added again continues its numbering, and hello@3 in old usage and logs
-- never means two different modules. The row lock taken by the upsert is
-- what gives concurrent deploys distinct numbers.
CREATE TABLE version_counters (
    function    text    PRIMARY KEY,
    last_number integer NOT NULL
);

-- Routes are unique across all projects: one (method, path) has one owner.
CREATE TABLE routes (
    method   text NOT NULL,
    path     text NOT NULL,
    project  text NOT NULL,
    function text NOT NULL REFERENCES functions (name),
    PRIMARY KEY (method, path)
);
CREATE INDEX routes_project ON routes (project);

CREATE TABLE usage (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invocation_id text        NOT NULL,
    function      text        NOT NULL,
    version       integer     NOT NULL,
    trigger_kind  text        NOT NULL,
    trace_id      text        NOT NULL,
    start_at      timestamptz NOT NULL,
    duration_ns   bigint      NOT NULL,
    billed_ms     bigint      NOT NULL,
    memory_mb     integer     NOT NULL,
    cold          boolean     NOT NULL,
    outcome       text        NOT NULL,
    status        integer     NOT NULL,
    error         text        NOT NULL
);
CREATE INDEX usage_start ON usage (start_at);
CREATE INDEX usage_function_start ON usage (function, start_at);

-- IDs come from logs_id_seq, handed out in blocks under an advisory lock by
-- LogInsert (see logs.go) so that they become visible in increasing order.
CREATE SEQUENCE logs_id_seq AS bigint;
CREATE TABLE logs (
    id            bigint      PRIMARY KEY,
    invocation_id text        NOT NULL,
    function      text        NOT NULL,
    version       integer     NOT NULL,
    trace_id      text        NOT NULL,
    logged_at     timestamptz NOT NULL,
    stream        text        NOT NULL,
    line          text        NOT NULL
);
ALTER SEQUENCE logs_id_seq OWNED BY logs.id;
CREATE INDEX logs_function ON logs (function, id);
CREATE INDEX logs_invocation ON logs (invocation_id, id);
CREATE INDEX logs_logged_at ON logs (logged_at);

CREATE TABLE tokens (
    hash       text        PRIMARY KEY,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL
);
