-- name: ObjectLeaseAcquire :one
-- ObjectLeaseAcquire takes the lease when there is none, when it expired,
-- or when owner holds it. The conflicting row is locked and the WHERE
-- re-read under the lock, so of concurrent acquirers exactly one wins.
INSERT INTO object_leases (project, class, object_id, owner, token, expires_at)
VALUES (@project, @class, @object_id, @owner, 1, @until)
ON CONFLICT (project, class, object_id) DO UPDATE
SET owner = excluded.owner, token = object_leases.token + 1, expires_at = excluded.expires_at
WHERE object_leases.expires_at <= @now OR object_leases.owner = excluded.owner
RETURNING token;

-- name: ObjectLeaseGet :one
SELECT owner, token, expires_at FROM object_leases
WHERE project = $1 AND class = $2 AND object_id = $3;

-- name: ObjectLeaseRenew :execrows
UPDATE object_leases SET expires_at = @until
WHERE project = @project AND class = @class AND object_id = @object_id AND token = @token;

-- name: ObjectLeaseRelease :exec
UPDATE object_leases SET expires_at = @now
WHERE project = @project AND class = @class AND object_id = @object_id AND token = @token AND expires_at > @now;

-- name: ObjectLeaseBump :exec
UPDATE object_leases SET token = token + 1, owner = '', expires_at = @now
WHERE project = @project AND class = @class AND object_id = @object_id;

-- name: ObjectFence :many
-- ObjectFence renews the lease of every object whose token is still the
-- one given, and returns those objects: one statement for a whole commit.
-- A stale token matches no row, so it never fails the transaction.
UPDATE object_leases l SET expires_at = @until
FROM (SELECT unnest(@projects::text[]) AS project, unnest(@classes::text[]) AS class,
    unnest(@object_ids::text[]) AS object_id, unnest(@tokens::bigint[]) AS token) f
WHERE l.project = f.project AND l.class = f.class AND l.object_id = f.object_id AND l.token = f.token
RETURNING l.project, l.class, l.object_id;

-- name: ObjectGet :many
SELECT key, value FROM object_entries
WHERE project = @project AND class = @class AND object_id = @object_id AND key = ANY(@keys::bytea[])
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
-- ObjectPut upserts every entry of one write in one statement (its keys
-- are distinct: ON CONFLICT may touch a row once).
INSERT INTO object_entries (project, class, object_id, key, value)
SELECT @project::text, @class::text, @object_id::text, unnest(@keys::bytea[]), unnest(@vals::bytea[])
ON CONFLICT (project, class, object_id, key) DO UPDATE SET value = excluded.value;

-- name: ObjectDeleteKeys :exec
DELETE FROM object_entries
WHERE project = @project AND class = @class AND object_id = @object_id AND key = ANY(@keys::bytea[]);

-- name: ObjectDeleteAll :execrows
DELETE FROM object_entries WHERE project = $1 AND class = $2 AND object_id = $3;

-- name: ObjectInfoPut :exec
-- ObjectInfoPut records a write: the name when given, the storage totals,
-- and the alarm when alarm_change (alarm_at NULL deletes it).
INSERT INTO object_info (project, class, object_id, name, bytes, keys, alarm_at, alarm_next_at, alarm_attempts, created_at, updated_at)
VALUES (@project, @class, @object_id, @name, @bytes, @keys, sqlc.narg(alarm_at), sqlc.narg(alarm_at), 0, @now, @now)
ON CONFLICT (project, class, object_id) DO UPDATE SET
    name = CASE WHEN excluded.name = '' THEN object_info.name ELSE excluded.name END,
    bytes = excluded.bytes,
    keys = excluded.keys,
    updated_at = excluded.updated_at,
    alarm_at = CASE WHEN @alarm_change::boolean THEN excluded.alarm_at ELSE object_info.alarm_at END,
    alarm_next_at = CASE WHEN @alarm_change::boolean THEN excluded.alarm_next_at ELSE object_info.alarm_next_at END,
    alarm_attempts = CASE WHEN @alarm_change::boolean THEN 0 ELSE object_info.alarm_attempts END;

-- name: ObjectInfoGet :one
SELECT * FROM object_info WHERE project = $1 AND class = $2 AND object_id = $3;

-- name: ObjectInfoDelete :execrows
DELETE FROM object_info WHERE project = $1 AND class = $2 AND object_id = $3;

-- name: ObjectsList :many
SELECT * FROM object_info
WHERE project = @project AND (@class::text = '' OR class = @class)
  AND (class, object_id) > (@after_class::text, @after_id::text)
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
