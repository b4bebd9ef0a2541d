-- 0015: Step Functions state machines (store.StateMachines), per project.
--
-- EXPRESS executions keep no row: AWS answers DescribeExecution and
-- ListExecutions of EXPRESS machines with an error, so there is nothing
-- to read back. STANDARD executions come with the durable slice. name is
-- COLLATE "C" so that listing pages in byte order, as on SQLite.
CREATE TABLE state_machines (
    project    text        NOT NULL,
    name       text        COLLATE "C" NOT NULL,
    type       text        NOT NULL,
    definition text        NOT NULL,
    role_arn   text        NOT NULL,
    revision   bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (project, name)
);
