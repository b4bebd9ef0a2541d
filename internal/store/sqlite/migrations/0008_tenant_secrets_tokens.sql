-- 0008 (issue 9): secrets are per project, and a token may be limited to
-- one project.

-- '' is an admin token (every project), as all tokens were before.
ALTER TABLE tokens ADD COLUMN project TEXT NOT NULL DEFAULT '';

-- Secrets were one global namespace, so any project could bind another's
-- secret by name. Now (project, name) is the key. A legacy secret is
-- copied to every project that uses it (a version of one of its functions
-- lists it under secrets, or one of its databases' URLs references
-- ${secret:NAME}); one no project uses stays in the legacy namespace ''
-- (store.LegacySecretProject), which no function can read.
CREATE TABLE secrets_by_project (
    project    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    ciphertext BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);

INSERT INTO secrets_by_project (project, name, ciphertext, updated_at)
SELECT f.project, s.name, s.ciphertext, s.updated_at
  FROM secrets s
  JOIN versions v
  JOIN functions f ON f.name = v.function
  JOIN json_each(v.config, '$.secrets') j ON j.value = s.name
UNION
SELECT d.project, s.name, s.ciphertext, s.updated_at
  FROM secrets s
  JOIN databases d ON instr(d.url, '${secret:' || s.name || '}') > 0;

INSERT INTO secrets_by_project (project, name, ciphertext, updated_at)
SELECT '', s.name, s.ciphertext, s.updated_at
  FROM secrets s
 WHERE NOT EXISTS (SELECT 1 FROM secrets_by_project c WHERE c.name = s.name);

DROP TABLE secrets;
ALTER TABLE secrets_by_project RENAME TO secrets;
