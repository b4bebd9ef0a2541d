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
