-- 0011 (issue 12): the built-in trace store (store.Traces).
--
-- spans holds every finished span. traces and trace_projects are summaries
-- the span writer keeps up to date in the same transaction, so a trace
-- search walks one index of one small row per trace instead of grouping
-- every span: traces summarises whole traces, trace_projects each
-- project's part of a trace (what a project-scoped reader searches, so its
-- rows name that project's root span, never another project's).
CREATE TABLE spans (
    trace_id       text        NOT NULL,
    span_id        text        NOT NULL,
    parent_id      text        NOT NULL,
    project        text        NOT NULL,
    function       text        NOT NULL,
    name           text        NOT NULL,
    kind           text        NOT NULL,
    start_at       timestamptz NOT NULL,
    duration_ns    bigint      NOT NULL,
    status         text        NOT NULL,
    status_message text        NOT NULL,
    attributes     jsonb       NOT NULL, -- object of strings
    events         jsonb       NOT NULL, -- array of store.SpanEvent
    PRIMARY KEY (trace_id, span_id)
);
-- Retention and the cap delete oldest first.
CREATE INDEX spans_start ON spans (start_at);

-- functions lists every function with a span in the trace, each followed
-- by '|' and the list led by one ("|api|worker|"), so a function filter is
-- a substring test on the row. Pruning re-summarises the traces it cut
-- into.
CREATE TABLE traces (
    trace_id    text        PRIMARY KEY,
    name        text        NOT NULL,
    project     text        NOT NULL,
    function    text        NOT NULL,
    start_at    timestamptz NOT NULL,
    duration_ns bigint      NOT NULL,
    spans       integer     NOT NULL,
    errors      integer     NOT NULL,
    functions   text        NOT NULL
);
CREATE INDEX traces_start ON traces (start_at, trace_id);

CREATE TABLE trace_projects (
    trace_id    text        NOT NULL,
    project     text        NOT NULL,
    name        text        NOT NULL,
    function    text        NOT NULL,
    start_at    timestamptz NOT NULL,
    duration_ns bigint      NOT NULL,
    spans       integer     NOT NULL,
    errors      integer     NOT NULL,
    functions   text        NOT NULL,
    PRIMARY KEY (trace_id, project)
);
CREATE INDEX trace_projects_start ON trace_projects (project, start_at, trace_id);
