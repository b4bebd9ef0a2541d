-- name: FunctionGet :one
SELECT name, project, active_version, created_at, updated_at FROM functions WHERE name = ?;

-- name: FunctionProject :one
SELECT project FROM functions WHERE name = ?;

-- name: FunctionList :many
SELECT name, project, active_version, created_at, updated_at FROM functions ORDER BY name;

-- name: FunctionInsert :exec
INSERT INTO functions (name, project, active_version, created_at, updated_at) VALUES (@name, @project, 0, @at, @at);

-- name: FunctionDelete :exec
DELETE FROM functions WHERE name = ? AND project = ?;

-- name: FunctionActivate :execrows
UPDATE functions SET active_version = @number, updated_at = @at
WHERE name = @name AND EXISTS (SELECT 1 FROM versions WHERE function = @name AND number = @number);

-- name: VersionNext :one
INSERT INTO version_counters (function, last_number) VALUES (?, 1)
ON CONFLICT (function) DO UPDATE SET last_number = last_number + 1
RETURNING last_number;

-- name: VersionInsert :exec
INSERT INTO versions (function, number, module_sha256, config, created_at) VALUES (?, ?, ?, ?, ?);

-- name: VersionGet :one
SELECT function, number, module_sha256, config, created_at FROM versions
WHERE function = ? AND number = ?;

-- name: VersionList :many
SELECT function, number, module_sha256, config, created_at FROM versions
WHERE function = ? ORDER BY number DESC;

-- name: RouteOwner :one
SELECT project FROM routes WHERE method = ? AND path = ?;

-- name: RouteInsert :exec
INSERT INTO routes (method, path, project, function, workflow, async, rate_limit, rate_burst, object, object_param, websocket)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: RouteDeleteProject :exec
DELETE FROM routes WHERE project = ?;

-- name: RouteList :many
SELECT * FROM routes ORDER BY path, method;
