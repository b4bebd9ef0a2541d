-- name: BlobPut :exec
INSERT INTO blobs (sha256, data, size, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (sha256) DO NOTHING;

-- name: BlobGet :one
SELECT data FROM blobs WHERE sha256 = ?;

-- name: BlobExists :one
SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?);

-- name: UsageDeleteBefore :execrows
DELETE FROM usage WHERE start_at < ?;

-- name: LogDeleteBefore :execrows
DELETE FROM logs WHERE logged_at < ?;

-- name: TokenPut :exec
INSERT INTO tokens (hash, name, project, scope, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (hash) DO UPDATE SET name = excluded.name, project = excluded.project, scope = excluded.scope;

-- name: TokenGet :one
SELECT * FROM tokens WHERE hash = ?;

-- name: TokenList :many
SELECT * FROM tokens ORDER BY created_at, hash;

-- name: TokenDelete :execrows
DELETE FROM tokens WHERE hash = ?;

-- name: TokenCount :one
SELECT count(*) FROM tokens;

-- name: TokenTouch :exec
UPDATE tokens SET last_used_at = @at WHERE hash = @hash AND (last_used_at IS NULL OR last_used_at < @at);

-- name: SettingClaim :exec
INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING;

-- name: SettingGet :one
SELECT value FROM settings WHERE name = ?;
