-- name: FunctionGet :one
SELECT name, project, active_version, created_at, updated_at FROM functions WHERE name = $1;

-- name: VersionGet :one
SELECT function, number, module_sha256, config, created_at FROM versions
WHERE function = $1 AND number = $2;
