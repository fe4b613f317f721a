-- Users and the server-side state of their tokens.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text        NOT NULL,
    full_name     text        NOT NULL DEFAULT '' CHECK (length(full_name) <= 200),
    role          text        NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    is_active     boolean     NOT NULL DEFAULT true,
    -- Bumped by a password change or a deactivation: every token carries the version it was
    -- issued under, so one UPDATE kills every earlier token at once.
    token_version integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- No citext on the embedded server: case-insensitive uniqueness through lower(email).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role);
CREATE INDEX users_is_active_idx ON users (is_active);
CREATE INDEX users_created_at_idx ON users (created_at);

-- Every refresh token ever issued. A login starts a family; each refresh uses up one token and
-- issues the next of the same family. A used token presented again revokes the whole family.
CREATE TABLE refresh_tokens (
    jti        uuid        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  uuid        NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);

CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
