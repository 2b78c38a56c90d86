-- Preventive maintenance (issue 13): inspection work orders, their append-only history, and
-- the health / RUL history of components that the planner reads instead of detection's
-- internals (detection today keeps only the latest estimate, in the anomaly's evidence).

CREATE TABLE inspections (
    id            bigserial PRIMARY KEY,
    robot_id      integer NOT NULL REFERENCES robots (id),
    plan          text NOT NULL,
    state         text NOT NULL DEFAULT 'planned'
                  CHECK (state IN ('planned', 'scheduled', 'in_progress', 'completed',
                                   'cancelled')),
    due_at        timestamptz NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('calendar', 'usage', 'condition')),
    reason        text NOT NULL,
    -- The health trend and RUL band that moved it earlier (condition trigger), else NULL.
    condition     jsonb,
    moved_from    timestamptz,
    window_start  timestamptz,
    window_end    timestamptz,
    engineer      text,
    -- The parts the checklist needs: the request parts/ reserves.
    parts         jsonb NOT NULL DEFAULT '[]',
    results       jsonb,
    findings      jsonb NOT NULL DEFAULT '[]',
    counters      jsonb NOT NULL DEFAULT '{}',
    anomaly_id    bigint REFERENCES anomalies (id),
    escalated_at  timestamptz,
    completed_at  timestamptz,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (window_end IS NULL OR window_end > window_start)
);
-- One open work order per robot and plan: planning again updates it.
CREATE UNIQUE INDEX inspections_open_uq ON inspections (robot_id, plan)
    WHERE state IN ('planned', 'scheduled', 'in_progress');
CREATE INDEX inspections_overdue_idx ON inspections (due_at)
    WHERE escalated_at IS NULL AND state IN ('planned', 'scheduled', 'in_progress');
CREATE INDEX inspections_done_idx ON inspections (robot_id, plan, completed_at DESC)
    WHERE state = 'completed';

CREATE TABLE inspection_events (
    id             bigserial PRIMARY KEY,
    inspection_id  bigint NOT NULL REFERENCES inspections (id),
    event          text NOT NULL,
    from_state     text,
    to_state       text NOT NULL,
    actor          text NOT NULL,
    at             timestamptz NOT NULL,
    data           jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX inspection_events_idx ON inspection_events (inspection_id, id);

-- Health index and remaining useful life per estimate (seconds), appended by whoever
-- estimates them (detection's HealthUpdate events): the planner's condition trigger and its
-- health trend read this.
CREATE TABLE component_health (
    robot_id    integer NOT NULL REFERENCES robots (id),
    component   text NOT NULL,
    kind        text NOT NULL,
    at          timestamptz NOT NULL,
    indicator   double precision NOT NULL,
    health      double precision NOT NULL,
    rul_s       double precision,
    rul_low_s   double precision,
    rul_high_s  double precision,
    PRIMARY KEY (robot_id, component, kind, at)
);
