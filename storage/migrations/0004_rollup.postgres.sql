-- Per-minute roll-up under the same name as TimescaleDB's continuous aggregate, so queries for
-- charts and reports do not depend on the dialect. Here it is computed on read.
CREATE VIEW telemetry_1m AS
SELECT date_trunc('minute', time) AS bucket, robot_id, signal_id,
       avg(value) AS avg, min(value) AS min, max(value) AS max, count(value) AS n
FROM telemetry
WHERE quality = 0
GROUP BY 1, 2, 3;
