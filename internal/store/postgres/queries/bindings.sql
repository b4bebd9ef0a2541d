-- Databases, KV namespaces and entries, and secrets (sqlstore/bindings.go).
-- Names sort in byte order (COLLATE "C"), as on SQLite.

-- name: DatabaseUpsert :execrows
-- The WHERE leaves another project's row alone: no row changed means the
-- name is taken.
INSERT INTO databases (name, project, engine, url, max_connections) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO UPDATE SET engine = excluded.engine, url = excluded.url, max_connections = excluded.max_connections
WHERE databases.project = excluded.project;

-- name: DatabaseOwner :one
SELECT project FROM databases WHERE name = $1;

-- name: DatabaseDeleteUnlisted :exec
DELETE FROM databases WHERE project = @project AND NOT (name = ANY(@keep::text[]));

-- name: DatabaseGet :one
SELECT name, project, engine, url, max_connections FROM databases WHERE name = $1;

-- name: DatabaseList :many
SELECT name, project, engine, url, max_connections FROM databases ORDER BY name COLLATE "C";

-- name: KVNamespaceUpsert :execrows
INSERT INTO kv_namespaces (name, project) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE kv_namespaces.project = excluded.project;

-- name: KVNamespaceOwner :one
SELECT project FROM kv_namespaces WHERE name = $1;

-- name: KVNamespaceDeleteUnlisted :exec
DELETE FROM kv_namespaces WHERE project = @project AND NOT (name = ANY(@keep::text[]));

-- name: KVNamespaceList :many
SELECT name, project FROM kv_namespaces ORDER BY name COLLATE "C";

-- name: KVNamespaceExists :one
SELECT EXISTS (SELECT 1 FROM kv_namespaces WHERE name = $1);

-- name: KVGet :one
-- The namespace is joined in: no row is a missing namespace, a row of
-- NULLs a missing (or expired) key.
SELECT e.value, e.expires_at, e.updated_at FROM kv_namespaces n
LEFT JOIN kv_entries e ON e.namespace = n.name AND e.key = @key AND (e.expires_at IS NULL OR e.expires_at > @now::timestamptz)
WHERE n.name = @namespace;

-- name: KVPut :exec
INSERT INTO kv_entries (namespace, key, value, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
    updated_at = excluded.updated_at;

-- name: KVDelete :one
-- One statement: the DELETE runs in a CTE, and the outer SELECT also
-- reports whether the namespace exists.
WITH d AS (DELETE FROM kv_entries WHERE namespace = @namespace AND key = @key RETURNING expires_at)
SELECT EXISTS (SELECT 1 FROM kv_namespaces WHERE name = @namespace) AS namespace_exists,
    EXISTS (SELECT 1 FROM d) AS deleted,
    (SELECT expires_at FROM d) AS expires_at;

-- name: KVList :many
-- One range of the primary key, [from, end).
SELECT key, value, expires_at, updated_at FROM kv_entries
WHERE namespace = @namespace AND key >= @from_key AND key < @end_key AND (expires_at IS NULL OR expires_at > @now::timestamptz)
ORDER BY key LIMIT @lim;

-- name: KVDeleteExpired :execrows
-- Through the partial index on expires_at, at most lim entries. SKIP
-- LOCKED: an entry a put is rewriting right now is left to the next run.
DELETE FROM kv_entries WHERE ctid = ANY (ARRAY(
    SELECT x.ctid FROM kv_entries x WHERE x.expires_at <= @now::timestamptz LIMIT @lim FOR UPDATE SKIP LOCKED));

-- name: SecretPut :exec
INSERT INTO secrets (project, name, ciphertext, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (project, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at;

-- name: SecretGet :one
SELECT ciphertext FROM secrets WHERE project = $1 AND name = $2;

-- name: SecretList :many
SELECT project, name, updated_at FROM secrets ORDER BY project COLLATE "C", name COLLATE "C";

-- name: SecretDelete :execrows
DELETE FROM secrets WHERE project = $1 AND name = $2;
