-- 0004: durable execution (store.Flow): executions, their per-run event
-- histories, one task row per running execution and its inbox. NULL
-- stands for the zero time.

-- A route may start a workflow (store.Route.Workflow).
ALTER TABLE routes ADD COLUMN workflow text NOT NULL DEFAULT '';

-- JSON payloads are bytea, not jsonb: the store keeps the engine's bytes
-- exactly (jsonb would reorder keys and drop duplicates), and NULL is a
-- nil payload.
CREATE TABLE flow_executions (
    id           text        PRIMARY KEY,
    project      text        NOT NULL,
    workflow     text        NOT NULL,
    function     text        NOT NULL,
    run          integer     NOT NULL,
    status       text        NOT NULL,
    input        bytea,
    output       bytea,
    error        bytea,
    trace_id     text        NOT NULL,
    parent_id    text        NOT NULL,
    parent_step  integer     NOT NULL,
    history_len  integer     NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    closed_at    timestamptz,
    retain_until timestamptz
);
-- FlowList: newest first, whole table or by project, workflow or status.
CREATE INDEX flow_executions_created ON flow_executions (created_at, id COLLATE "C");
CREATE INDEX flow_executions_project ON flow_executions (project, created_at, id COLLATE "C");
CREATE INDEX flow_executions_status ON flow_executions (status, created_at, id COLLATE "C");
CREATE INDEX flow_executions_parent ON flow_executions (parent_id) WHERE parent_id <> '';
-- FlowSweep: only closed executions have a retain_until.
CREATE INDEX flow_executions_retain ON flow_executions (retain_until) WHERE retain_until IS NOT NULL;

-- Events of every run; a run's seq is dense from 1.
CREATE TABLE flow_history (
    execution_id text        NOT NULL REFERENCES flow_executions (id) ON DELETE CASCADE,
    run          integer     NOT NULL,
    seq          integer     NOT NULL,
    type         text        NOT NULL,
    step         integer     NOT NULL,
    name         text        NOT NULL,
    data         bytea,
    time         timestamptz NOT NULL,
    PRIMARY KEY (execution_id, run, seq)
);

-- The orchestrate task of a running execution. due_at NULL: waits for a
-- message. lease '': not held; a held task always has a due_at, so that it
-- is claimed again once its lease runs out. Its row lock is the
-- execution's mutex: commits, sends, terminations take it (in id order
-- when several) before reading or writing the execution.
CREATE TABLE flow_tasks (
    execution_id text        PRIMARY KEY REFERENCES flow_executions (id) ON DELETE CASCADE,
    due_at       timestamptz,
    lease        text        NOT NULL,
    lease_until  timestamptz,
    attempts     integer     NOT NULL
);
-- FlowClaim and FlowNextDue walk the due tasks in due order; the held
-- ones are few.
CREATE INDEX flow_tasks_due ON flow_tasks (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX flow_tasks_leased ON flow_tasks (lease_until) WHERE lease <> '';

CREATE TABLE flow_inbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id text        NOT NULL REFERENCES flow_executions (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    name         text        NOT NULL,
    data         bytea,
    time         timestamptz NOT NULL
);
CREATE INDEX flow_inbox_execution ON flow_inbox (execution_id, id);
