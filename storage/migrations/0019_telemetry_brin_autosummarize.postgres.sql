-- Detection reads the newest telemetry (storage.telemetry.read_points, every poll) through the
-- BRIN index on time. A BRIN range is summarized only by VACUUM, and autovacuum reaches an
-- insert-only partition after it grows by a fifth: until then every range written since the
-- last vacuum is unsummarized, and a BRIN scan reads all of its pages. Measured (bench layout,
-- docs/performance.md): a 1.25 s read of 13,000 points from a 6M-row partition scanned the
-- whole partition, ~2.4 s instead of milliseconds once summarized. With autosummarize a range
-- is summarized as soon as the next one starts filling, so only the newest range (128 pages,
-- ~17,000 rows) is read unsummarized. Partitions created later inherit the option.
DROP INDEX IF EXISTS telemetry_time_brin;
CREATE INDEX telemetry_time_brin ON telemetry USING brin (time) WITH (autosummarize = on);
