-- Exactly-once telemetry: one point per (robot, signal, sample time). A redelivered MQTT
-- message or a replayed spool segment carries the same points again; this key turns them into
-- no-ops (storage.telemetry.write_copy retries a batch that hits it through a staging table
-- with ON CONFLICT DO NOTHING). It replaces the series index of 0002 (same columns, same
-- order), so ingest maintains one btree per row as before: the key costs no extra index.
-- Works on both dialects: a unique index on a partitioned table or a hypertable must contain
-- the partitioning column, and it does (time).

-- Points stored twice before this key existed are collapsed to one (first physical copy).
DELETE FROM telemetry a USING telemetry b
 WHERE a.robot_id = b.robot_id AND a.signal_id = b.signal_id AND a.time = b.time
   AND a.tableoid = b.tableoid AND a.ctid > b.ctid;

DROP INDEX IF EXISTS telemetry_series_idx;
CREATE UNIQUE INDEX telemetry_point_uq ON telemetry (robot_id, signal_id, time DESC);
