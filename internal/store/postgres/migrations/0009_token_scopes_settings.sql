-- 0009 (issue 11): token scopes and last-used times, and node settings
-- every node sharing the store must agree on.

-- What a token may do: admin (everything), deploy (change what runs),
-- read (look only). Tokens made before scopes existed keep full power.
ALTER TABLE tokens ADD COLUMN scope text NOT NULL DEFAULT 'admin';
-- When the token was last presented (NULL: never). A node writes it at
-- most once a minute per token, not once per request.
ALTER TABLE tokens ADD COLUMN last_used_at timestamptz;

-- Values the first node writes and the others check: the fingerprint of
-- the secret key, so a node started with another key refuses to start.
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);
