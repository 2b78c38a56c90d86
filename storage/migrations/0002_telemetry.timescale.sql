-- Telemetry on TimescaleDB: a hypertable with daily chunks, compressed after two days and
-- dropped after the retention period. Same columns and index as the PostgreSQL dialect, so
-- every query in storage/ serves both.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE telemetry (
    time        timestamptz      NOT NULL,
    robot_id    integer          NOT NULL,
    signal_id   smallint         NOT NULL,
    value       double precision,
    -- 0 good, 1 uncertain, 2 bad (value is NULL when bad: bad quality is not a reading)
    quality     smallint         NOT NULL DEFAULT 0
);

SELECT create_hypertable('telemetry', by_range('time', INTERVAL '1 day'));
CREATE INDEX telemetry_series_idx ON telemetry (robot_id, signal_id, time DESC);

ALTER TABLE telemetry SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'robot_id, signal_id',
    timescaledb.compress_orderby = 'time DESC'
);
SELECT add_compression_policy('telemetry', INTERVAL '2 days');
SELECT add_retention_policy('telemetry', INTERVAL '90 days');

-- Kept so callers need not know the dialect: partitions are chunks here, made on demand.
CREATE FUNCTION robowatch_ensure_telemetry_partitions(days_back integer, days_ahead integer)
RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$;
