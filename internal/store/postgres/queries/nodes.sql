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
