-- name: NodeJoinUpsert :execrows
-- NodeJoinUpsert creates the node's row, or takes over one that is gone,
-- silent since stale, or at the same address (a restart). The
-- conflicting row is locked and the WHERE re-read under the lock, so of
-- two nodes joining with one id at once exactly one wins.
INSERT INTO nodes (id, addr, state, version, load, started_at, heartbeat_at)
VALUES (@id, @addr, 'joining', @version, 0, @now, @now)
ON CONFLICT (id) DO UPDATE
SET addr = excluded.addr, state = excluded.state, version = excluded.version, load = 0,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at
WHERE nodes.addr = excluded.addr OR nodes.state = 'gone' OR nodes.heartbeat_at <= @stale;

-- name: NodeGet :one
SELECT id, addr, state, version, load, started_at, heartbeat_at FROM nodes WHERE id = $1;

-- name: NodeBeat :execrows
UPDATE nodes SET state = @state, load = @load, heartbeat_at = @now WHERE id = @id AND addr = @addr;

-- name: NodeListAll :many
SELECT id, addr, state, version, load, started_at, heartbeat_at FROM nodes ORDER BY id COLLATE "C";

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
WHERE lease <> '' AND left(lease, length(@prefix::text)) = @prefix::text AND lease_until > @now;

-- name: NodeReleaseObjects :execrows
UPDATE object_leases SET expires_at = @now WHERE owner = @owner AND expires_at > @now;

-- name: NodeReleaseMessages :many
-- Makes the messages a node received and has not acked visible again
-- (their receipts start with the node's id and '/'). Clearing the receipt
-- fences the old holder: its ack no longer matches.
UPDATE messages SET visible_at = @now, receipt = ''
WHERE receipt <> '' AND left(receipt, length(@prefix::text)) = @prefix::text AND visible_at > @now
RETURNING queue;
