-- 0004: durable execution (store.Flow): executions, their per-run event
-- histories, one task row per running execution and its inbox. Times are
-- INTEGER microseconds, as in 0001; NULL stands for the zero time.

-- A route may start a workflow (store.Route.Workflow).
ALTER TABLE routes ADD COLUMN workflow TEXT NOT NULL DEFAULT '';

-- JSON payloads are BLOBs: the store keeps the engine's bytes exactly, and
-- NULL is a nil payload.
CREATE TABLE flow_executions (
    id           TEXT    PRIMARY KEY,
    project      TEXT    NOT NULL,
    workflow     TEXT    NOT NULL,
    function     TEXT    NOT NULL,
    run          INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    input        BLOB,
    output       BLOB,
    error        BLOB,
    trace_id     TEXT    NOT NULL,
    parent_id    TEXT    NOT NULL,
    parent_step  INTEGER NOT NULL,
    history_len  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    closed_at    INTEGER,
    retain_until INTEGER
);
-- FlowList: newest first, whole table or by project, workflow or status.
CREATE INDEX flow_executions_created ON flow_executions (created_at, id);
CREATE INDEX flow_executions_project ON flow_executions (project, created_at, id);
CREATE INDEX flow_executions_status ON flow_executions (status, created_at, id);
CREATE INDEX flow_executions_parent ON flow_executions (parent_id) WHERE parent_id <> '';
-- FlowSweep: only closed executions have a retain_until.
CREATE INDEX flow_executions_retain ON flow_executions (retain_until) WHERE retain_until IS NOT NULL;

-- Events of every run; a run's Seq is dense from 1.
CREATE TABLE flow_history (
    execution_id TEXT    NOT NULL REFERENCES flow_executions (id) ON DELETE CASCADE,
    run          INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    type         TEXT    NOT NULL,
    step         INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    data         BLOB,
    time         INTEGER NOT NULL,
    PRIMARY KEY (execution_id, run, seq)
) WITHOUT ROWID;

-- The orchestrate task of a running execution. due_at NULL: waits for a
-- message. lease '' : not held; a held task always has a due_at, so that
-- it is claimed again once its lease runs out.
CREATE TABLE flow_tasks (
    execution_id TEXT    PRIMARY KEY REFERENCES flow_executions (id) ON DELETE CASCADE,
    due_at       INTEGER,
    lease        TEXT    NOT NULL,
    lease_until  INTEGER,
    attempts     INTEGER NOT NULL
) WITHOUT ROWID;
-- FlowClaim and FlowNextDue walk the due tasks in due order; the held
-- ones are few.
CREATE INDEX flow_tasks_due ON flow_tasks (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX flow_tasks_leased ON flow_tasks (lease_until) WHERE lease <> '';

-- AUTOINCREMENT: a message id is never reused, so an id the engine moved
-- into a history never names a later message.
CREATE TABLE flow_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT    NOT NULL REFERENCES flow_executions (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    data         BLOB,
    time         INTEGER NOT NULL
);
CREATE INDEX flow_inbox_execution ON flow_inbox (execution_id, id);
