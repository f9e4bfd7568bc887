package postgres

import (
	"context"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// ActiveRooms lists the rooms whose newest message was stored at or after
// activeSince, each with its count of messages stored at or after
// countSince. The newest message is found through last_seq, one primary key
// lookup per room, so the cost follows the number of rooms, not of
// messages.
func (db *DB) ActiveRooms(ctx context.Context, activeSince, countSince time.Time) ([]chat.RoomActivity, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+roomCols+`,
		       (SELECT count(*) FROM messages c WHERE c.room_id = r.id AND c.created_at >= $1)
		FROM rooms r JOIN messages m ON m.room_id = r.id AND m.seq = r.last_seq
		WHERE m.created_at >= $2
		ORDER BY r.id`, countSince, activeSince)
	if err != nil {
		return nil, wrap("active rooms", err)
	}
	defer rows.Close()
	out := []chat.RoomActivity{}
	for rows.Next() {
		var a chat.RoomActivity
		if a.Room, err = scanRoom(rows, &a.MessagesSince); err != nil {
			return nil, wrap("active rooms", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("active rooms", err)
	}
	return out, nil
}

// RoomActivity returns a room with its count of messages stored at or
// after countSince, in one query; chat.ErrNotFound if there is no room.
func (db *DB) RoomActivity(ctx context.Context, roomID string, countSince time.Time) (chat.RoomActivity, error) {
	var a chat.RoomActivity
	var err error
	a.Room, err = scanRoom(db.pool.QueryRow(ctx, `
		SELECT `+roomCols+`,
		       (SELECT count(*) FROM messages c WHERE c.room_id = r.id AND c.created_at >= $1)
		FROM rooms r WHERE r.id = $2`, countSince, roomID), &a.MessagesSince)
	if err != nil {
		return chat.RoomActivity{}, wrap("room activity", err)
	}
	return a, nil
}
