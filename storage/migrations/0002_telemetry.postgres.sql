-- Telemetry on plain PostgreSQL: declarative range partitioning by day.
-- One narrow row per point: 8 (time) + 4 + 2 + 8 + 2 bytes of payload. Partitions are created
-- ahead by robowatch_ensure_telemetry_partitions(); the DEFAULT partition only catches rows
-- outside them, so an insert never fails for want of a partition.

CREATE TABLE telemetry (
    time        timestamptz      NOT NULL,
    robot_id    integer          NOT NULL,
    signal_id   smallint         NOT NULL,
    value       double precision,
    -- 0 good, 1 uncertain, 2 bad (value is NULL when bad: bad quality is not a reading)
    quality     smallint         NOT NULL DEFAULT 0
) PARTITION BY RANGE (time);

CREATE TABLE telemetry_default PARTITION OF telemetry DEFAULT;
CREATE INDEX telemetry_series_idx ON telemetry (robot_id, signal_id, time DESC);
CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);

CREATE FUNCTION robowatch_ensure_telemetry_partitions(days_back integer, days_ahead integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d       date;
    name    text;
    created integer := 0;
BEGIN
    FOR d IN SELECT generate_series(current_date - days_back, current_date + days_ahead, '1 day')::date
    LOOP
        name := 'telemetry_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF telemetry FOR VALUES FROM (%L) TO (%L)',
                    name, d::timestamptz, (d + 1)::timestamptz);
                created := created + 1;
            EXCEPTION WHEN check_violation THEN
                -- Rows for that day already sit in the default partition; leave them there
                -- rather than fail start-up. They stay queryable through the parent.
                RAISE WARNING 'telemetry partition % not created: default partition holds its rows', name;
            END;
        END IF;
    END LOOP;
    RETURN created;
END $$;

SELECT robowatch_ensure_telemetry_partitions(2, 7);
