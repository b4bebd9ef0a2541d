-- name: DeployLock :exec
SELECT pg_advisory_xact_lock(@key::bigint);

-- name: FunctionGet :one
SELECT name, project, active_version, created_at, updated_at FROM functions WHERE name = $1;

-- name: FunctionProject :one
SELECT project FROM functions WHERE name = $1;

-- name: FunctionList :many
SELECT name, project, active_version, created_at, updated_at FROM functions ORDER BY name COLLATE "C";

-- name: FunctionInsert :exec
INSERT INTO functions (name, project, active_version, created_at, updated_at) VALUES (@name, @project, 0, @at, @at);

-- name: FunctionDelete :exec
DELETE FROM functions WHERE name = $1 AND project = $2;

-- name: FunctionActivate :execrows
UPDATE functions SET active_version = @number, updated_at = @at
WHERE name = @name AND EXISTS (SELECT 1 FROM versions WHERE function = @name AND number = @number);

-- name: VersionNext :one
INSERT INTO version_counters (function, last_number) VALUES ($1, 1)
ON CONFLICT (function) DO UPDATE SET last_number = version_counters.last_number + 1
RETURNING last_number;

-- name: VersionInsert :exec
INSERT INTO versions (function, number, module_sha256, config, created_at) VALUES ($1, $2, $3, $4, $5);

-- name: VersionGet :one
SELECT function, number, module_sha256, config, created_at FROM versions
WHERE function = $1 AND number = $2;

-- name: VersionList :many
SELECT function, number, module_sha256, config, created_at FROM versions
WHERE function = $1 ORDER BY number DESC;

-- name: RouteOwner :one
SELECT project FROM routes WHERE method = $1 AND path = $2;

-- name: RouteInsert :exec
INSERT INTO routes (method, path, project, function, workflow, async, rate_limit, rate_burst, object, object_param, websocket)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: RouteDeleteProject :exec
DELETE FROM routes WHERE project = $1;

-- name: RouteList :many
SELECT * FROM routes ORDER BY path COLLATE "C", method COLLATE "C";
