-- 0008 (issue 9): secrets are per project, and a token may be limited to
-- one project.

-- '' is an admin token (every project), as all tokens were before.
ALTER TABLE tokens ADD COLUMN project text NOT NULL DEFAULT '';

-- Secrets were one global namespace, so any project could bind another's
-- secret by name. Now (project, name) is the key. A legacy secret is
-- copied to every project that uses it (a version of one of its functions
-- lists it under secrets, or one of its databases' URLs references
-- ${secret:NAME}); one no project uses stays in the legacy namespace ''
-- (store.LegacySecretProject), which no function can read.
ALTER TABLE secrets ADD COLUMN project text NOT NULL DEFAULT '';
ALTER TABLE secrets DROP CONSTRAINT secrets_pkey;

INSERT INTO secrets (project, name, ciphertext, updated_at)
SELECT f.project, s.name, s.ciphertext, s.updated_at
  FROM secrets s
  JOIN versions v ON (v.config -> 'secrets') ? s.name
  JOIN functions f ON f.name = v.function
 WHERE s.project = ''
UNION
SELECT d.project, s.name, s.ciphertext, s.updated_at
  FROM secrets s
  JOIN databases d ON strpos(d.url, '${secret:' || s.name || '}') > 0
 WHERE s.project = '';

DELETE FROM secrets s
 WHERE s.project = ''
   AND EXISTS (SELECT 1 FROM secrets c WHERE c.name = s.name AND c.project <> '');

ALTER TABLE secrets ADD PRIMARY KEY (project, name);
