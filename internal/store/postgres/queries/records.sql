-- name: BlobPut :exec
INSERT INTO blobs (sha256, data, size, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (sha256) DO NOTHING;

-- name: BlobGet :one
SELECT data FROM blobs WHERE sha256 = $1;

-- name: BlobExists :one
SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1);

-- UsageInsert stores a batch with one INSERT over unnest()ed column arrays:
-- one statement and one round trip whatever the batch size, and no
-- per-statement parameter limit.
-- name: UsageInsert :exec
INSERT INTO usage (invocation_id, function, version, trigger_kind, trace_id, start_at,
    duration_ns, billed_ms, memory_mb, cold, outcome, status, error)
-- (Several unnest() in a select list run in lockstep, as unnest(a, b, ...)
-- in FROM does; sqlc only knows the one-argument form.)
SELECT unnest(@invocation_id::text[]), unnest(@function::text[]), unnest(@version::int4[]),
    unnest(@trigger_kind::text[]), unnest(@trace_id::text[]), unnest(@start_at::timestamptz[]),
    unnest(@duration_ns::int8[]), unnest(@billed_ms::int8[]), unnest(@memory_mb::int4[]),
    unnest(@cold::bool[]), unnest(@outcome::text[]), unnest(@status::int4[]), unnest(@error::text[]);

-- name: UsageDeleteBefore :execrows
DELETE FROM usage WHERE start_at < $1;

-- name: LogDeleteBefore :execrows
DELETE FROM logs WHERE logged_at < $1;

-- name: TokenPut :exec
INSERT INTO tokens (hash, name, project, scope, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (hash) DO UPDATE SET name = excluded.name, project = excluded.project, scope = excluded.scope;

-- name: TokenGet :one
SELECT * FROM tokens WHERE hash = $1;

-- name: TokenList :many
SELECT * FROM tokens ORDER BY created_at, hash COLLATE "C";

-- name: TokenDelete :execrows
DELETE FROM tokens WHERE hash = $1;

-- name: TokenCount :one
SELECT count(*) FROM tokens;

-- name: TokenTouch :exec
UPDATE tokens SET last_used_at = @at WHERE hash = @hash AND (last_used_at IS NULL OR last_used_at < @at);

-- name: SettingClaim :exec
INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING;

-- name: SettingGet :one
SELECT value FROM settings WHERE name = $1;
