-- Customers, their sites, lines and robots; the signal catalogue; service engineers.
-- Codes are the stable external identifiers (topic segments, OPC UA browse names, API ids);
-- integer ids are internal and keep telemetry rows narrow.

CREATE TABLE customers (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name        text NOT NULL,
    tier        text NOT NULL CHECK (tier IN ('core', 'important', 'ordinary')),
    city        text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id          serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name        text NOT NULL,
    city        text,
    UNIQUE (customer_id, code)
);

CREATE TABLE lines (
    id          serial PRIMARY KEY,
    site_id     integer NOT NULL REFERENCES sites (id),
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name        text NOT NULL,
    UNIQUE (site_id, code)
);

CREATE TABLE robots (
    id            serial PRIMARY KEY,
    code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    line_id       integer NOT NULL REFERENCES lines (id),
    brand         text,
    model         text,
    serial        text,
    install_date  date,
    warranty_end  date,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX robots_line_idx ON robots (line_id);

-- Signal names follow docs/signals.md: 'J3.temperature', 'cycle_count', ...
CREATE TABLE signals (
    id          smallserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z][A-Za-z0-9_.]{0,63}$'),
    unit        text,
    description text
);

CREATE TABLE engineers (
    id          serial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    role        text NOT NULL DEFAULT 'engineer',
    city        text,
    skills      text[] NOT NULL DEFAULT '{}',
    on_duty     boolean NOT NULL DEFAULT false
);
