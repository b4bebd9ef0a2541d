-- Durable execution (sqlstore/flow.go). Every write runs on the single
-- writer, which is the lock: FlowLock needs no row locks here.

-- name: FlowState :many
SELECT t.execution_id, t.lease, e.status, e.run, e.history_len
FROM flow_tasks t JOIN flow_executions e ON e.id = t.execution_id
WHERE t.execution_id IN (sqlc.slice(ids));

-- name: FlowExecInsert :execrows
INSERT INTO flow_executions (id, project, workflow, function, run, status, input, output, error, trace_id,
    parent_id, parent_step, history_len, created_at, updated_at, closed_at, retain_until)
VALUES (@id, @project, @workflow, @function, 1, 'running', @input, NULL, NULL, @trace_id,
    @parent_id, @parent_step, @history_len, @now, @now, NULL, NULL)
ON CONFLICT (id) DO NOTHING;

-- name: FlowTaskInsert :exec
INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts) VALUES (?, ?, ?, ?, ?);

-- name: FlowGet :one
SELECT * FROM flow_executions WHERE id = ?;

-- name: FlowCreatedAt :one
SELECT created_at FROM flow_executions WHERE id = ?;

-- name: FlowHistory :many
-- A negative limit is no limit.
SELECT seq, type, step, name, data, time FROM flow_history
WHERE execution_id = @id AND run = @run AND seq > @after_seq ORDER BY seq LIMIT @lim;

-- name: FlowInboxList :many
SELECT id, execution_id, kind, name, data, time FROM flow_inbox WHERE execution_id = ? ORDER BY id;

-- name: FlowInboxInsert :one
INSERT INTO flow_inbox (execution_id, kind, name, data, time) VALUES (?, ?, ?, ?, ?) RETURNING id;

-- name: FlowInboxSend :exec
-- Unknown or closed targets have no task: skipped.
INSERT INTO flow_inbox (execution_id, kind, name, data, time)
SELECT @execution_id, @kind, @name, @data, @time WHERE EXISTS (SELECT 1 FROM flow_tasks WHERE execution_id = @execution_id);

-- name: FlowInboxDelete :exec
DELETE FROM flow_inbox WHERE execution_id = @execution_id AND id IN (sqlc.slice(ids));

-- name: FlowInboxClear :exec
-- keep_kind '' keeps nothing.
DELETE FROM flow_inbox WHERE execution_id = @execution_id AND (kind <> @keep_kind OR @keep_kind = '');

-- name: FlowWake :exec
-- Due now unless due earlier; a held task keeps its lease.
UPDATE flow_tasks SET due_at = @now WHERE execution_id = @execution_id AND (due_at IS NULL OR due_at > @now);

-- name: FlowExecUpdate :exec
UPDATE flow_executions SET history_len = ?, updated_at = ? WHERE id = ?;

-- name: FlowExecNewRun :exec
UPDATE flow_executions SET run = ?, input = ?, history_len = ?, updated_at = ? WHERE id = ?;

-- name: FlowExecClose :exec
UPDATE flow_executions SET status = @status, output = @output, error = @error, history_len = @history_len,
    updated_at = @now, closed_at = @now, retain_until = @retain_until WHERE id = @id;

-- name: FlowExecReopen :exec
UPDATE flow_executions SET status = 'running', run = ?, input = ?, output = NULL, error = NULL,
    history_len = ?, updated_at = ?, closed_at = NULL, retain_until = NULL WHERE id = ?;

-- name: FlowTaskDelete :exec
DELETE FROM flow_tasks WHERE execution_id = ?;

-- name: FlowTaskReset :exec
UPDATE flow_tasks SET due_at = ?, lease = '', lease_until = NULL, attempts = 0 WHERE execution_id = ?;

-- name: FlowTaskRelease :exec
-- Due now if a message came that the holder has not seen (id above
-- inbox_seen), else at due_at (NULL: when a message comes).
UPDATE flow_tasks SET lease = '', lease_until = NULL, attempts = 0,
    due_at = CASE WHEN EXISTS (SELECT 1 FROM flow_inbox i WHERE i.execution_id = @execution_id AND i.id > @inbox_seen)
        THEN min(@now, coalesce(@due_at, @now)) ELSE @due_at END
WHERE execution_id = @execution_id;

-- name: FlowTaskExtend :exec
UPDATE flow_tasks SET lease_until = ? WHERE execution_id = ?;

-- name: FlowClaim :many
-- Lease to the claim's prefix followed by the execution id, so no two
-- claims hand out the same lease.
UPDATE flow_tasks SET lease = @prefix || flow_tasks.execution_id, lease_until = @until, attempts = attempts + 1
WHERE flow_tasks.execution_id IN (SELECT t.execution_id FROM flow_tasks t
    WHERE t.due_at <= @now AND (t.lease = '' OR t.lease_until <= @now) ORDER BY t.due_at, t.execution_id LIMIT @lim)
RETURNING execution_id, lease, lease_until, attempts, due_at;

-- name: FlowRenew :execrows
UPDATE flow_tasks SET lease_until = ? WHERE execution_id = ? AND lease = ? AND lease <> '';

-- name: FlowNextDue :one
-- The earliest due time of a task not held, and of a held one the later of
-- its due time and the end of its lease.
SELECT
    (SELECT f.due_at FROM flow_tasks f WHERE f.due_at IS NOT NULL AND f.lease = '' ORDER BY f.due_at LIMIT 1) AS free,
    (SELECT min(max(h.due_at, h.lease_until)) FROM flow_tasks h WHERE h.lease <> '' AND h.due_at IS NOT NULL) AS held;

-- name: FlowSweep :execrows
DELETE FROM flow_executions WHERE id IN (SELECT x.id FROM flow_executions x
    WHERE x.retain_until IS NOT NULL AND x.retain_until < @now AND x.status <> 'running' ORDER BY x.retain_until LIMIT @lim);

-- name: FlowCount :many
-- Executions by project, workflow and status, for the metrics collector
-- (read at most every few seconds, whatever the scrape rate).
SELECT project, workflow, status, count(*) AS n
FROM flow_executions
GROUP BY project, workflow, status
ORDER BY project, workflow, status;
