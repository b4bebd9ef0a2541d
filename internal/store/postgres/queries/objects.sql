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

-- name: ObjectDeleteAll :execrows
DELETE FROM object_entries WHERE project = $1 AND class = $2 AND object_id = $3;

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

-- name: ObjectDeleteAllMany :exec
-- The *Many statements apply one layer of a commit (each object at most
-- once) to every object in it at once: arrays of equal length, one
-- element per object (or per key), so a commit of many objects is a
-- handful of statements rather than a few per object.
DELETE FROM object_entries e
USING (SELECT unnest(@projects::text[]) AS project, unnest(@classes::text[]) AS class,
    unnest(@object_ids::text[]) AS object_id) d
WHERE e.project = d.project AND e.class = d.class AND e.object_id = d.object_id;

-- name: ObjectDeleteKeysMany :exec
DELETE FROM object_entries e
USING (SELECT unnest(@projects::text[]) AS project, unnest(@classes::text[]) AS class,
    unnest(@object_ids::text[]) AS object_id, unnest(@keys::bytea[]) AS key) d
WHERE e.project = d.project AND e.class = d.class AND e.object_id = d.object_id AND e.key = d.key;

-- name: ObjectPutMany :exec
-- No two elements name the same (object, key): ON CONFLICT may touch a
-- row once.
INSERT INTO object_entries (project, class, object_id, key, value)
SELECT unnest(@projects::text[]), unnest(@classes::text[]), unnest(@object_ids::text[]),
    unnest(@keys::bytea[]), unnest(@vals::bytea[])
ON CONFLICT (project, class, object_id, key) DO UPDATE SET value = excluded.value;

-- name: ObjectInfoInsertMany :exec
-- Creates the info rows of objects written for the first time;
-- ObjectInfoUpdateMany, next in the same transaction, then records every
-- write (the new rows again, harmlessly). Two statements because an
-- upsert cannot read per-row parameters (alarm_change) in its DO UPDATE.
INSERT INTO object_info (project, class, object_id, name, bytes, keys, alarm_at, alarm_next_at, alarm_attempts, created_at, updated_at)
SELECT unnest(@projects::text[]), unnest(@classes::text[]), unnest(@object_ids::text[]), '', 0, 0, NULL, NULL, 0,
    @now::timestamptz, @now::timestamptz
ON CONFLICT (project, class, object_id) DO NOTHING;

-- name: ObjectInfoUpdateMany :exec
UPDATE object_info i SET
    name = CASE WHEN u.name = '' THEN i.name ELSE u.name END,
    bytes = u.bytes,
    keys = u.keys,
    updated_at = @now::timestamptz,
    alarm_at = CASE WHEN u.alarm_change THEN CASE WHEN u.alarm_set THEN u.alarm_at END ELSE i.alarm_at END,
    alarm_next_at = CASE WHEN u.alarm_change THEN CASE WHEN u.alarm_set THEN u.alarm_at END ELSE i.alarm_next_at END,
    alarm_attempts = CASE WHEN u.alarm_change THEN 0 ELSE i.alarm_attempts END
FROM (SELECT unnest(@projects::text[]) AS project, unnest(@classes::text[]) AS class,
    unnest(@object_ids::text[]) AS object_id, unnest(@names::text[]) AS name, unnest(@bytes::bigint[]) AS bytes,
    unnest(@keys::bigint[]) AS keys, unnest(@alarm_change::boolean[]) AS alarm_change,
    unnest(@alarm_set::boolean[]) AS alarm_set, unnest(@alarm_at::timestamptz[]) AS alarm_at) u
WHERE i.project = u.project AND i.class = u.class AND i.object_id = u.object_id;
