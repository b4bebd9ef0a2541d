-- 0009 (issue 11): token scopes and last-used times, and node settings
-- every node sharing the store must agree on.

-- What a token may do: admin (everything), deploy (change what runs),
-- read (look only). Tokens made before scopes existed keep full power.
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
-- When the token was last presented (unix microseconds; NULL: never). A
-- node writes it at most once a minute per token, not once per request.
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;

-- Values the first node writes and the others check, e.g. the fingerprint
-- of the secret key (a PostgreSQL store; here for one schema per backend).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
