-- 0015: Step Functions state machines (store.StateMachines), per project.
--
-- EXPRESS executions keep no row: AWS answers DescribeExecution and
-- ListExecutions of EXPRESS machines with an error, so there is nothing
-- to read back. STANDARD executions come with the durable slice.
CREATE TABLE state_machines (
    project    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    role_arn   TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);
