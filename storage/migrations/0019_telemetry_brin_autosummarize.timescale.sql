-- Nothing to do on TimescaleDB: its chunks have a btree on time (create_hypertable's default
-- index), no BRIN to summarize. Kept so both dialects share the version sequence.
SELECT 1;
