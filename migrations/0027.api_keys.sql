-- API keys for integrations (issue 15): a key opens the admin routes of its scopes and is
-- never a user.
-- depends: 0026.webhooks
--
-- Only the SHA-256 of a key is kept: the key is 40 random letters and digits (over 230 bits),
-- so a fast hash is enough and lets a request find its key by index. The prefix is the key's
-- start, shown so an admin can tell keys apart. A revoked key keeps its row, for the audit.

CREATE TABLE api_keys (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text        NOT NULL CHECK (prefix LIKE 'sk\_%'),
    key_hash      bytea       NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    scopes        text[]      NOT NULL CHECK (
                      cardinality(scopes) BETWEEN 1 AND 4
                      AND scopes <@ ARRAY['catalog:write', 'inventory:write', 'orders:read',
                                          'orders:write']::text[]),
    created_by    bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
