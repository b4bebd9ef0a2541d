-- name: NodeTake :execrows
-- NodeTake takes over an existing id that is gone, silent since stale, or
-- at the same address (a restart); NodeInsert creates a missing one. Both
-- run in one write transaction of the single writer, so nothing comes
-- between them (the sqlc SQLite parser leaves parameters inside
-- ON CONFLICT ... WHERE unbound, so this is not one upsert as on
-- PostgreSQL).
UPDATE nodes SET addr = @addr, state = 'joining', version = @version, load = 0, started_at = @now, heartbeat_at = @now
WHERE id = @id AND (addr = @addr OR state = 'gone' OR heartbeat_at <= @stale);

-- name: NodeInsert :execrows
INSERT INTO nodes (id, addr, state, version, load, started_at, heartbeat_at)
VALUES (@id, @addr, 'joining', @version, 0, @now, @now)
ON CONFLICT (id) DO NOTHING;

-- name: NodeGet :one
SELECT id, addr, state, version, load, started_at, heartbeat_at FROM nodes WHERE id = ?;

-- name: NodeBeat :execrows
UPDATE nodes SET state = @state, load = @load, heartbeat_at = @now WHERE id = @id AND addr = @addr;

-- name: NodeListAll :many
SELECT id, addr, state, version, load, started_at, heartbeat_at FROM nodes ORDER BY id;

-- name: NodeMarkGone :many
UPDATE nodes SET state = 'gone' WHERE state <> 'gone' AND heartbeat_at <= @stale RETURNING id;

-- name: NodeForget :exec
DELETE FROM nodes WHERE state = 'gone' AND heartbeat_at <= @forget;

-- name: NodeReleaseFlow :execrows
-- Ends the leases a node holds on workflow tasks (their lease strings
-- start with the node's id and '/'), due at once, so the next claim
-- takes them. The lease string stays: a renewal or commit of the old
-- holder still matches until another node claims the task, and fails
-- from then on.
UPDATE flow_tasks SET lease_until = @now,
    due_at = CASE WHEN due_at IS NULL OR due_at > @now THEN @now ELSE due_at END
WHERE lease <> '' AND substr(lease, 1, length(@prefix)) = @prefix AND lease_until > @now;

-- name: NodeReleaseObjects :execrows
UPDATE object_leases SET expires_at = @now WHERE owner = @owner AND expires_at > @now;

-- name: NodeReleaseMessages :many
-- Makes the messages a node received and has not acked visible again
-- (their receipts start with the node's id and '/'). Clearing the receipt
-- fences the old holder: its ack no longer matches.
UPDATE messages SET visible_at = @now, receipt = ''
WHERE receipt <> '' AND substr(receipt, 1, length(@prefix)) = @prefix AND visible_at > @now
RETURNING queue;
