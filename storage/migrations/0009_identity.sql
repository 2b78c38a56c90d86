-- Identity and access: the people who sign in, their sessions, machines' API keys and failed
-- logins (the rate limiter's memory). No secret is stored as given: passwords as argon2id
-- hashes, session tokens and API keys as SHA-256 digests of 256-bit random values.
-- Role names are a schema contract, as in ticketing/access.py; what each role may do is
-- policy (ticketing/policies/access.toml).

CREATE TABLE users (
    id                  serial PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_.@-]{1,63}$'),
    display_name        text NOT NULL DEFAULT '',
    role                text NOT NULL CHECK (role IN ('admin', 'om_manager', 'dispatcher',
                            'engineer', 'expert', 'parts_keeper', 'maintainer',
                            'customer_viewer')),
    -- A customer viewer sees one customer; nobody else is bound to one.
    customer_id         integer REFERENCES customers (id),
    -- Tickets assigned to this engineer are the user's own.
    engineer_id         integer UNIQUE REFERENCES engineers (id),
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    disabled_at         timestamptz,
    CHECK ((role = 'customer_viewer') = (customer_id IS NOT NULL))
);

CREATE TABLE auth_tokens (
    id          bigserial PRIMARY KEY,
    user_id     integer NOT NULL REFERENCES users (id),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    client      text                     -- address the token was issued to, for the audit
);
CREATE INDEX auth_tokens_live_idx ON auth_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE api_keys (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    key_hash    bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'om_manager', 'dispatcher',
                    'engineer', 'expert', 'parts_keeper', 'maintainer', 'customer_viewer')),
    customer_id integer REFERENCES customers (id),
    created_by  integer REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CHECK ((role = 'customer_viewer') = (customer_id IS NOT NULL))
);

CREATE TABLE login_failures (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    username  text NOT NULL,
    address   text NOT NULL
);
CREATE INDEX login_failures_user_idx ON login_failures (username, at DESC);
CREATE INDEX login_failures_address_idx ON login_failures (address, at DESC);
CREATE INDEX login_failures_at_idx ON login_failures (at);
