-- Durable execution (sqlstore/flow.go). Several nodes share the tables, so
-- each execution has a mutex: the row lock of its task (flow_tasks). Every
-- write to a running execution first takes it (FlowTaskLock, several in id
-- order, COLLATE "C", so two batches never deadlock) and only then reads the
-- execution (FlowState); claims skip locked tasks. A closed execution has no
-- task row, and a reopen, which recreates it, locks the execution row.

-- name: FlowTaskLock :many
SELECT execution_id FROM flow_tasks WHERE execution_id = ANY(@ids::text[])
ORDER BY execution_id COLLATE "C" FOR UPDATE;

-- name: FlowState :many
-- Read after locking: this statement's snapshot holds every write made
-- under the locks.
SELECT t.execution_id, t.lease, e.status, e.run, e.history_len
FROM flow_tasks t JOIN flow_executions e ON e.id = t.execution_id
WHERE t.execution_id = ANY(@ids::text[]);

-- name: FlowLockExecution :one
SELECT * FROM flow_executions WHERE id = $1 FOR UPDATE;

-- name: FlowStart :execrows
-- Creates an execution, its events and its task in one statement, unless
-- the id exists: one row affected means created.
WITH ins AS (
    INSERT INTO flow_executions (id, project, workflow, function, run, status, input, output, error, trace_id,
        parent_id, parent_step, history_len, created_at, updated_at, closed_at, retain_until)
    VALUES (@id, @project, @workflow, @function, 1, 'running', @input, NULL, NULL, @trace_id,
        @parent_id, @parent_step, @history_len, @now, @now, NULL, NULL)
    ON CONFLICT (id) DO NOTHING RETURNING id),
ev AS (
    INSERT INTO flow_history (execution_id, run, seq, type, step, name, data, time)
    -- (Several unnest() in a select list run in lockstep; sqlc only knows
    -- the one-argument form.)
    SELECT ins.id, 1, unnest(@seqs::int[]), unnest(@types::text[]), unnest(@steps::int[]), unnest(@names::text[]),
        unnest(@datas::bytea[]), unnest(@times::timestamptz[]) FROM ins)
INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts)
SELECT ins.id, @due_at, @lease, @lease_until, @attempts FROM ins;

-- name: FlowEventsAppend :exec
INSERT INTO flow_history (execution_id, run, seq, type, step, name, data, time)
SELECT @execution_id, @run, unnest(@seqs::int[]), unnest(@types::text[]), unnest(@steps::int[]), unnest(@names::text[]),
    unnest(@datas::bytea[]), unnest(@times::timestamptz[]);

-- name: FlowGet :one
SELECT * FROM flow_executions WHERE id = $1;

-- name: FlowCreatedAt :one
SELECT created_at FROM flow_executions WHERE id = $1;

-- name: FlowHistory :many
-- A NULL limit is no limit.
SELECT seq, type, step, name, data, time FROM flow_history
WHERE execution_id = @id AND run = @run AND seq > @after_seq ORDER BY seq LIMIT sqlc.narg(lim);

-- name: FlowInboxList :many
SELECT id, execution_id, kind, name, data, time FROM flow_inbox WHERE execution_id = $1 ORDER BY id;

-- name: FlowInboxInsert :one
INSERT INTO flow_inbox (execution_id, kind, name, data, time) VALUES ($1, $2, $3, $4, $5) RETURNING id;

-- name: FlowInboxSend :exec
-- Unknown or closed targets have no task: skipped.
INSERT INTO flow_inbox (execution_id, kind, name, data, time)
SELECT @execution_id, @kind, @name, @data, @time WHERE EXISTS (SELECT 1 FROM flow_tasks WHERE execution_id = @execution_id);

-- name: FlowInboxDelete :exec
DELETE FROM flow_inbox WHERE execution_id = @execution_id AND id = ANY(@ids::bigint[]);

-- name: FlowInboxClear :exec
-- keep_kind '' keeps nothing.
DELETE FROM flow_inbox WHERE execution_id = @execution_id AND (kind <> @keep_kind OR @keep_kind = '');

-- name: FlowWake :exec
-- Due now unless due earlier; a held task keeps its lease.
UPDATE flow_tasks SET due_at = @now WHERE execution_id = @execution_id AND (due_at IS NULL OR due_at > @now);

-- name: FlowExecUpdate :exec
UPDATE flow_executions SET history_len = $1, updated_at = $2 WHERE id = $3;

-- name: FlowExecNewRun :exec
UPDATE flow_executions SET run = $1, input = $2, history_len = $3, updated_at = $4 WHERE id = $5;

-- name: FlowExecClose :exec
UPDATE flow_executions SET status = @status, output = @output, error = @error, history_len = @history_len,
    updated_at = @now, closed_at = @now, retain_until = @retain_until WHERE id = @id;

-- name: FlowExecReopen :exec
UPDATE flow_executions SET status = 'running', run = $1, input = $2, output = NULL, error = NULL,
    history_len = $3, updated_at = $4, closed_at = NULL, retain_until = NULL WHERE id = $5;

-- name: FlowTaskInsert :exec
INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts) VALUES ($1, $2, $3, $4, $5);

-- name: FlowTaskDelete :exec
DELETE FROM flow_tasks WHERE execution_id = $1;

-- name: FlowTaskReset :exec
UPDATE flow_tasks SET due_at = $1, lease = '', lease_until = NULL, attempts = 0 WHERE execution_id = $2;

-- name: FlowTaskRelease :exec
-- Due now if a message came that the holder has not seen (id above
-- inbox_seen), else at due_at (NULL: when a message comes).
UPDATE flow_tasks SET lease = '', lease_until = NULL, attempts = 0,
    due_at = CASE WHEN EXISTS (SELECT 1 FROM flow_inbox i WHERE i.execution_id = @execution_id AND i.id > @inbox_seen)
        THEN LEAST(@now::timestamptz, sqlc.narg(due_at)::timestamptz) ELSE sqlc.narg(due_at)::timestamptz END
WHERE execution_id = @execution_id;

-- name: FlowTaskExtend :exec
UPDATE flow_tasks SET lease_until = $1 WHERE execution_id = $2;

-- name: FlowClaim :many
-- Lease to the claim's prefix followed by the execution id, so no two
-- claims hand out the same lease. Tasks locked by a commit are skipped.
UPDATE flow_tasks SET lease = @prefix::text || flow_tasks.execution_id, lease_until = @until, attempts = attempts + 1
WHERE flow_tasks.execution_id IN (SELECT t.execution_id FROM flow_tasks t
    WHERE t.due_at <= @now AND (t.lease = '' OR t.lease_until <= @now)
    ORDER BY t.due_at, t.execution_id COLLATE "C" LIMIT @lim FOR UPDATE SKIP LOCKED)
RETURNING execution_id, lease, lease_until, attempts, due_at;

-- name: FlowRenew :many
-- Locks the held tasks in id order, then extends those still held.
WITH h AS (SELECT unnest(@ids::text[]) AS id, unnest(@leases::text[]) AS lease),
l AS (SELECT t.execution_id FROM flow_tasks t JOIN h ON h.id = t.execution_id AND h.lease = t.lease
    WHERE t.lease <> '' ORDER BY t.execution_id COLLATE "C" FOR UPDATE OF t)
UPDATE flow_tasks t SET lease_until = @until FROM h
WHERE t.execution_id IN (SELECT execution_id FROM l) AND t.execution_id = h.id AND t.lease = h.lease
RETURNING t.execution_id;

-- name: FlowNextDue :one
-- The earliest due time of a task not held, and of a held one the later of
-- its due time and the end of its lease.
SELECT
    (SELECT f.due_at FROM flow_tasks f WHERE f.due_at IS NOT NULL AND f.lease = '' ORDER BY f.due_at LIMIT 1) AS free,
    (SELECT min(GREATEST(h.due_at, h.lease_until)) FROM flow_tasks h WHERE h.lease <> '' AND h.due_at IS NOT NULL) AS held;

-- name: FlowSweep :execrows
DELETE FROM flow_executions WHERE id IN (SELECT x.id FROM flow_executions x
    WHERE x.retain_until IS NOT NULL AND x.retain_until < @now AND x.status <> 'running'
    ORDER BY x.retain_until LIMIT @lim FOR UPDATE SKIP LOCKED);

-- name: FlowCount :many
-- Executions by project, workflow and status, for the metrics collector
-- (read at most every few seconds, whatever the scrape rate).
SELECT project, workflow, status, count(*) AS n
FROM flow_executions
GROUP BY project, workflow, status
ORDER BY project, workflow, status;
