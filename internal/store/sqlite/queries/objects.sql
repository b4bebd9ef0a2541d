-- name: ObjectLeaseTake :one
-- ObjectLeaseTake takes an existing lease that expired at now or that
-- owner holds; ObjectLeaseInsert creates a missing one. Both run in one
-- write transaction of the single writer, so nothing comes between them.
-- (The sqlc SQLite parser leaves parameters inside ON CONFLICT ... WHERE
-- unbound, so this is not one upsert as on PostgreSQL.)
UPDATE object_leases SET owner = @owner, token = token + 1, expires_at = @until
WHERE project = @project AND class = @class AND object_id = @object_id AND (expires_at <= @now OR owner = @owner)
RETURNING token;

-- name: ObjectLeaseInsert :execrows
INSERT INTO object_leases (project, class, object_id, owner, token, expires_at) VALUES (?, ?, ?, ?, 1, ?)
ON CONFLICT (project, class, object_id) DO NOTHING;

-- name: ObjectLeaseGet :one
SELECT owner, token, expires_at FROM object_leases
WHERE project = ? AND class = ? AND object_id = ?;

-- name: ObjectLeaseRenew :execrows
UPDATE object_leases SET expires_at = @until
WHERE project = @project AND class = @class AND object_id = @object_id AND token = @token;

-- name: ObjectLeaseRelease :exec
UPDATE object_leases SET expires_at = @now
WHERE project = @project AND class = @class AND object_id = @object_id AND token = @token AND expires_at > @now;

-- name: ObjectLeaseBump :exec
UPDATE object_leases SET token = token + 1, owner = '', expires_at = @now
WHERE project = @project AND class = @class AND object_id = @object_id;

-- name: ObjectGet :many
SELECT key, value FROM object_entries
WHERE project = @project AND class = @class AND object_id = @object_id AND key IN (sqlc.slice('keys'))
ORDER BY key;

-- name: ObjectListAsc :many
SELECT key, value FROM object_entries
WHERE project = @project AND class = @class AND object_id = @object_id AND key >= @from_key AND key < @end_key
ORDER BY key LIMIT @lim;

-- name: ObjectListDesc :many
SELECT key, value FROM object_entries
WHERE project = @project AND class = @class AND object_id = @object_id AND key >= @from_key AND key < @end_key
ORDER BY key DESC LIMIT @lim;

-- name: ObjectPut :exec
INSERT INTO object_entries (project, class, object_id, key, value) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project, class, object_id, key) DO UPDATE SET value = excluded.value;

-- name: ObjectDeleteKeys :exec
DELETE FROM object_entries
WHERE project = @project AND class = @class AND object_id = @object_id AND key IN (sqlc.slice('keys'));

-- name: ObjectDeleteAll :execrows
DELETE FROM object_entries WHERE project = ? AND class = ? AND object_id = ?;

-- name: ObjectInfoUpdate :execrows
-- ObjectInfoUpdate records a write on an existing info row: the name when
-- given, the storage totals, and the alarm when alarm_change is 1
-- (alarm_at NULL deletes it). ObjectInfoInsert creates the row when there
-- was none. (sqlc leaves parameters of ON CONFLICT DO UPDATE unbound on
-- SQLite, so this is not one upsert as on PostgreSQL.)
UPDATE object_info SET
    name = CASE WHEN @name = '' THEN name ELSE @name END,
    bytes = @bytes,
    keys = @keys,
    updated_at = @now,
    alarm_at = CASE WHEN @alarm_change = 1 THEN @alarm_at ELSE alarm_at END,
    alarm_next_at = CASE WHEN @alarm_change = 1 THEN @alarm_at ELSE alarm_next_at END,
    alarm_attempts = CASE WHEN @alarm_change = 1 THEN 0 ELSE alarm_attempts END
WHERE project = @project AND class = @class AND object_id = @object_id;

-- name: ObjectInfoInsert :exec
INSERT INTO object_info (project, class, object_id, name, bytes, keys, alarm_at, alarm_next_at, alarm_attempts, created_at, updated_at)
VALUES (@project, @class, @object_id, @name, @bytes, @keys, @alarm_at, @alarm_at, 0, @now, @now);

-- name: ObjectInfoGet :one
SELECT * FROM object_info WHERE project = ? AND class = ? AND object_id = ?;

-- name: ObjectInfoDelete :execrows
DELETE FROM object_info WHERE project = ? AND class = ? AND object_id = ?;

-- name: ObjectsList :many
SELECT * FROM object_info
WHERE project = @project AND (@class = '' OR class = @class)
  AND (class > @after_class OR (class = @after_class AND object_id > @after_id))
ORDER BY class, object_id LIMIT @lim;

-- name: ObjectAlarmsDue :many
SELECT project, class, object_id, alarm_at, alarm_attempts, alarm_next_at FROM object_info
WHERE alarm_next_at IS NOT NULL AND alarm_next_at <= @now
ORDER BY alarm_next_at LIMIT @lim;

-- name: ObjectAlarmDone :exec
UPDATE object_info SET alarm_at = NULL, alarm_next_at = NULL, alarm_attempts = 0
WHERE project = @project AND class = @class AND object_id = @object_id AND alarm_at = @at;

-- name: ObjectAlarmRetry :exec
UPDATE object_info SET alarm_attempts = @attempts, alarm_next_at = @next_at
WHERE project = @project AND class = @class AND object_id = @object_id AND alarm_at = @at;
