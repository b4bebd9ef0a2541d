-- name: StateMachineInsert :execrows
INSERT INTO state_machines (project, name, type, definition, role_arn, revision, created_at, updated_at)
VALUES (@project, @name, @type, @definition, @role_arn, 1, @now, @now)
ON CONFLICT (project, name) DO NOTHING;

-- name: StateMachineGet :one
SELECT * FROM state_machines WHERE project = @project AND name = @name;

-- name: StateMachineUpdate :execrows
UPDATE state_machines SET definition = @definition, role_arn = @role_arn, revision = revision + 1, updated_at = @now
WHERE project = @project AND name = @name;

-- name: StateMachineList :many
SELECT * FROM state_machines WHERE project = @project AND name > @after ORDER BY name LIMIT @lim;

-- name: StateMachineDelete :execrows
DELETE FROM state_machines WHERE project = @project AND name = @name;
