-- Databases, KV namespaces and entries, and secrets (sqlstore/bindings.go).

-- name: DatabaseUpsert :execrows
-- The WHERE leaves another project's row alone: no row changed means the
-- name is taken.
INSERT INTO databases (name, project, engine, url, max_connections) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET engine = excluded.engine, url = excluded.url, max_connections = excluded.max_connections
WHERE databases.project = excluded.project;

-- name: DatabaseOwner :one
SELECT project FROM databases WHERE name = ?;

-- name: DatabaseDeleteUnlisted :exec
DELETE FROM databases WHERE project = @project AND name NOT IN (SELECT value FROM json_each(@keep));

-- name: DatabaseGet :one
SELECT name, project, engine, url, max_connections FROM databases WHERE name = ?;

-- name: DatabaseList :many
SELECT name, project, engine, url, max_connections FROM databases ORDER BY name;

-- name: KVNamespaceUpsert :execrows
INSERT INTO kv_namespaces (name, project) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE kv_namespaces.project = excluded.project;

-- name: KVNamespaceOwner :one
SELECT project FROM kv_namespaces WHERE name = ?;

-- name: KVNamespaceDeleteUnlisted :exec
DELETE FROM kv_namespaces WHERE project = @project AND name NOT IN (SELECT value FROM json_each(@keep));

-- name: KVNamespaceList :many
SELECT name, project FROM kv_namespaces ORDER BY name;

-- name: KVNamespaceExists :one
SELECT EXISTS (SELECT 1 FROM kv_namespaces WHERE name = ?);

-- name: KVGet :one
-- Plain ? parameters here and in KVList: sqlc turns named ones into ?NNN,
-- which the driver binds by name, allocating, on the hottest reads.
SELECT value, expires_at, updated_at FROM kv_entries
WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > CAST(? AS INTEGER));

-- name: KVPut :exec
INSERT INTO kv_entries (namespace, key, value, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
    updated_at = excluded.updated_at;

-- name: KVDelete :one
DELETE FROM kv_entries WHERE namespace = ? AND key = ? RETURNING expires_at;

-- name: KVList :many
-- One range of the primary key, [from, end).
SELECT key, value, expires_at, updated_at FROM kv_entries
WHERE namespace = ? AND key >= ? AND key < ? AND (expires_at IS NULL OR expires_at > CAST(? AS INTEGER))
ORDER BY key LIMIT ?;

-- name: KVDeleteExpired :execrows
-- Through the partial index on expires_at, at most lim entries.
DELETE FROM kv_entries WHERE rowid IN (SELECT x.rowid FROM kv_entries x WHERE x.expires_at <= CAST(@now AS INTEGER) LIMIT @lim);

-- name: SecretPut :exec
INSERT INTO secrets (project, name, ciphertext, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (project, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at;

-- name: SecretGet :one
SELECT ciphertext FROM secrets WHERE project = ? AND name = ?;

-- name: SecretList :many
SELECT project, name, updated_at FROM secrets ORDER BY project, name;

-- name: SecretDelete :execrows
DELETE FROM secrets WHERE project = ? AND name = ?;
