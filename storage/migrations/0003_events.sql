-- Everything derived from telemetry: rejected input, data gaps, anomalies, tickets and their
-- append-only history, detector baselines. Inserts and changes are announced on the
-- 'robowatch_events' channel so the API's live stream and the ticketing service need no polling.

CREATE TABLE quarantine (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,           -- 'mqtt', 'opcua', 'api', ...
    origin      text,                    -- topic, endpoint or node id
    reason      text NOT NULL,           -- short machine-readable code, counted by reason
    detail      text,
    payload     bytea
);
CREATE INDEX quarantine_reason_idx ON quarantine (reason, received_at DESC);

CREATE TABLE data_gaps (
    id          bigserial PRIMARY KEY,
    source      text NOT NULL,
    origin      text NOT NULL,
    robot_id    integer REFERENCES robots (id),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    reason      text
);

CREATE TABLE detector_models (
    id          bigserial PRIMARY KEY,
    robot_id    integer NOT NULL REFERENCES robots (id),
    detector    text NOT NULL,
    version     integer NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}',
    state       jsonb NOT NULL,
    trained_from timestamptz,
    trained_to  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (robot_id, detector, version)
);

CREATE TABLE anomalies (
    id          bigserial PRIMARY KEY,
    robot_id    integer NOT NULL REFERENCES robots (id),
    component   text NOT NULL,           -- 'J3', 'controller', 'link', ...
    kind        text NOT NULL,           -- 'overheating', 'limit_high', 'stale', ...
    signals     text[] NOT NULL DEFAULT '{}',
    detector    text NOT NULL,
    score       double precision,
    impact      text NOT NULL CHECK (impact IN ('stoppage', 'core-module', 'non-core', 'minor')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    evidence    jsonb NOT NULL DEFAULT '{}',
    ticket_id   bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- At most one open anomaly per robot + component + kind (hysteresis lives in detection/).
CREATE UNIQUE INDEX anomalies_open_uq ON anomalies (robot_id, component, kind) WHERE ended_at IS NULL;
CREATE INDEX anomalies_started_idx ON anomalies (started_at DESC);
CREATE INDEX anomalies_unticketed_idx ON anomalies (id) WHERE ticket_id IS NULL;

CREATE TABLE tickets (
    id            bigserial PRIMARY KEY,
    number        text NOT NULL UNIQUE,
    robot_id      integer NOT NULL REFERENCES robots (id),
    customer_id   integer NOT NULL REFERENCES customers (id),
    tier          text NOT NULL,
    impact        text NOT NULL,
    grade         text NOT NULL CHECK (grade IN ('I', 'II', 'III', 'IV')),
    component     text NOT NULL,
    kind          text NOT NULL,
    title         text NOT NULL,
    channel       text NOT NULL DEFAULT 'monitoring',
    state         text NOT NULL,
    assignee_id   integer REFERENCES engineers (id),
    policy        text NOT NULL,         -- name and version of the policy that set the clocks
    created_at    timestamptz NOT NULL,  -- accepted into the system: every clock starts here
    respond_by    timestamptz NOT NULL,
    onsite_by     timestamptz,
    plan_by       timestamptz,
    resolve_by    timestamptz NOT NULL,
    update_every  interval,
    responded_at  timestamptz,
    resolved_at   timestamptz,
    closed_at     timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_open_idx ON tickets (robot_id, component, kind) WHERE closed_at IS NULL;
CREATE INDEX tickets_created_idx ON tickets (created_at DESC);

ALTER TABLE anomalies ADD CONSTRAINT anomalies_ticket_fk FOREIGN KEY (ticket_id) REFERENCES tickets (id);

CREATE TABLE ticket_events (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets (id),
    at          timestamptz NOT NULL DEFAULT now(),
    event       text NOT NULL,
    actor       text NOT NULL,
    from_state  text,
    to_state    text,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, id);

-- The history is evidence (service-rules section 10): rows are never changed or removed.
CREATE FUNCTION robowatch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ticket_events_append_only BEFORE UPDATE OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION robowatch_append_only();

CREATE FUNCTION robowatch_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('robowatch_events',
        json_build_object('type', TG_ARGV[0], 'op', lower(TG_OP), 'id', NEW.id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER anomalies_notify AFTER INSERT OR UPDATE ON anomalies
    FOR EACH ROW EXECUTE FUNCTION robowatch_notify('anomaly');
CREATE TRIGGER tickets_notify AFTER INSERT OR UPDATE ON tickets
    FOR EACH ROW EXECUTE FUNCTION robowatch_notify('ticket');
