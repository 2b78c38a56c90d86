-- Every read of a ticket (its page, each row of the board, each ticket the live stream
-- relays) lists the anomalies it took: `SELECT ... FROM anomalies WHERE ticket_id = t.id`
-- (storage.tickets._TICKET_SELECT). Without an index EXPLAIN ANALYZE shows a sequential scan
-- of anomalies per ticket read (50 per board page), which grows with the whole history of
-- anomalies. Unticketed anomalies are left out: they have their own partial index.
CREATE INDEX anomalies_ticket_idx ON anomalies (ticket_id) WHERE ticket_id IS NOT NULL;
