-- 0011 (issue 12): the built-in trace store (store.Traces).
--
-- spans holds every finished span. traces and trace_projects are summaries
-- the span writer keeps up to date in the same transaction, so a trace
-- search walks one index of one small row per trace instead of grouping
-- every span: traces summarises whole traces, trace_projects each
-- project's part of a trace (what a project-scoped reader searches, so its
-- rows name that project's root span, never another project's).
CREATE TABLE spans (
    trace_id       TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    parent_id      TEXT    NOT NULL,
    project        TEXT    NOT NULL,
    function       TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    start_at       INTEGER NOT NULL,
    duration_ns    INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    status_message TEXT    NOT NULL,
    attributes     TEXT    NOT NULL, -- JSON object of strings
    events         TEXT    NOT NULL, -- JSON array of store.SpanEvent
    PRIMARY KEY (trace_id, span_id)
);
-- Retention and the cap delete oldest first.
CREATE INDEX spans_start ON spans (start_at);

-- functions lists every function with a span in the trace, each followed
-- by '|' and the list led by one ("|api|worker|"), so a function filter is
-- a substring test on the row. Pruning re-summarises the traces it cut
-- into.
CREATE TABLE traces (
    trace_id    TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    function    TEXT    NOT NULL,
    start_at    INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    spans       INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    functions   TEXT    NOT NULL
);
CREATE INDEX traces_start ON traces (start_at, trace_id);

CREATE TABLE trace_projects (
    trace_id    TEXT    NOT NULL,
    project     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    function    TEXT    NOT NULL,
    start_at    INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    spans       INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    functions   TEXT    NOT NULL,
    PRIMARY KEY (trace_id, project)
);
CREATE INDEX trace_projects_start ON trace_projects (project, start_at, trace_id);
