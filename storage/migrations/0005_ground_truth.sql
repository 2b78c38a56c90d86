-- Ground truth of simulated runs: the faults a simulator scheduled, so detection can be scored
-- (precision, recall, lead time) and remaining useful life checked against a known failure.
-- Robots are named by code, not id: a simulator may label a run before the fleet is registered.

CREATE TABLE fault_labels (
    id          bigserial PRIMARY KEY,
    run_id      text NOT NULL,                 -- one simulator run (scenario, seed, start)
    robot       text NOT NULL CHECK (robot ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    component   text NOT NULL,                 -- 'J1'..'J6' or 'controller'
    kind        text NOT NULL,                 -- docs/signals.md, "Fault signatures"
    severity    double precision NOT NULL DEFAULT 1.0,
    onset_at    timestamptz NOT NULL,
    failure_at  timestamptz,                   -- degradations: the failure point (RUL = failure_at - t)
    ended_at    timestamptz,                   -- events: when the fault stops acting
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, robot, component, kind, onset_at)
);
CREATE INDEX fault_labels_robot_idx ON fault_labels (robot, onset_at);
