-- Operators count a room's recent messages (PROTOCOL §2 Ops): a range over
-- (room_id, created_at) instead of a scan of the room's whole history.
CREATE INDEX messages_room_time ON messages (room_id, created_at);
