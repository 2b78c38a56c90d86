-- robowatch:no-transaction  (continuous aggregates cannot be created inside a transaction)
CREATE MATERIALIZED VIEW telemetry_1m WITH (timescaledb.continuous) AS
SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, robot_id, signal_id,
       avg(value) AS avg, min(value) AS min, max(value) AS max, count(value) AS n
FROM telemetry
WHERE quality = 0
GROUP BY 1, 2, 3
WITH NO DATA;

SELECT add_continuous_aggregate_policy('telemetry_1m',
    start_offset => INTERVAL '2 hours',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute');
