-- The alert wall's acknowledgement of an anomaly, shared by every wall: who took it in and
-- when (docs/console.md). The first acknowledgement stands; later ones change nothing. The
-- update goes through the anomalies triggers (migrations 0003, 0015), so the live stream
-- carries it to every other wall at once.

ALTER TABLE anomalies
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD CONSTRAINT anomalies_acknowledged_both
        CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL));
