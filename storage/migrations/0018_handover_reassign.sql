-- A shift handover reassigns the tickets it listed to the incoming shift (ticketing.handover),
-- once: when someone acknowledges it, or when nobody has within the policy's time. The pass
-- that does it locks the handover row and stamps reassigned_at in the same transaction as the
-- reassign events, so a restart repeats nothing.
ALTER TABLE shift_handovers ADD COLUMN reassigned_at timestamptz;
-- Handovers fired before this column existed are settled as they were: their tickets stay
-- with whom a person left them, rather than move hours or days after the shift change.
UPDATE shift_handovers SET reassigned_at = COALESCE(acknowledged_at, fired_at)
    WHERE fired_at IS NOT NULL;
-- The pass reads the few handovers still to settle, not the whole history.
CREATE INDEX shift_handovers_to_reassign_idx ON shift_handovers (fired_at)
    WHERE fired_at IS NOT NULL AND reassigned_at IS NULL AND NOT superseded;
