package rooms

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pawfect/hub/internal/chat"
)

// History limits from PROTOCOL §2.
const (
	historyDefault  = 50
	historyMax      = 200
	maxClientMsgID  = 128
	typingLimit     = 30 // typing commands per user per typingWindow
	typingWindow    = 10 * time.Second
	limiterKeySend  = "send:"
	limiterKeyTyped = "typing:"
)

// SendRequest is a message to store and fan out.
type SendRequest struct {
	Room        string
	Text        string
	ClientMsgID string
	ReplyTo     *int64
	Attachments []string
}

// Send validates, rate-limits and stores a message, then publishes it to
// every hub. It returns only after the store committed the message; a
// repeated ClientMsgID returns the original message and stores nothing.
func (s *Service) Send(ctx context.Context, u chat.User, req SendRequest) (chat.Message, error) {
	start := time.Now()
	text, err := s.validText(req.Text)
	if err != nil {
		return chat.Message{}, err
	}
	if len(req.ClientMsgID) > maxClientMsgID || !utf8.ValidString(req.ClientMsgID) {
		return chat.Message{}, chat.Errorf(chat.CodeBadRequest, "client_msg_id: at most %d bytes of valid UTF-8", maxClientMsgID)
	}
	if len(req.Attachments) > 0 {
		return chat.Message{}, chat.Errorf(chat.CodeBadRequest, "attachments: no such upload %q", req.Attachments[0])
	}
	room, err := s.visibleRoom(ctx, u, req.Room)
	if err != nil {
		return chat.Message{}, err
	}
	if req.ReplyTo != nil && (*req.ReplyTo < 1 || *req.ReplyTo > room.LastSeq) {
		return chat.Message{}, chat.Errorf(chat.CodeBadRequest, "reply_to: no message with seq %d in this room", *req.ReplyTo)
	}
	if err := s.allow(ctx, limiterKeySend+u.ID, s.cfg.SendLimit, s.cfg.SendWindow); err != nil {
		// A retry of a send that was stored gets the original back, as
		// the contract promises, even when the sender is over the limit.
		if req.ClientMsgID != "" {
			if orig, ferr := s.store.MessageByClientID(ctx, room.ID, u.ID, req.ClientMsgID); ferr == nil {
				return orig, nil
			}
		}
		return chat.Message{}, err
	}
	m, created, err := s.store.AppendMessage(ctx, chat.Message{
		ID: chat.NewID("m_"), Room: room.ID, From: u, Text: text,
		ClientMsgID: req.ClientMsgID, ReplyTo: req.ReplyTo, CreatedAt: chat.Now(),
	})
	if isNotFound(err) {
		return chat.Message{}, errNotVisible()
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("rooms: send: store: %w", err)
	}
	if created {
		s.metrics.MessageStored(time.Since(start))
		s.publishMsg(ctx, chat.MessageEvent{Type: chat.EventMessage, Room: room.ID, Message: m})
	}
	return m, nil
}

// Edit replaces the text of u's own message.
func (s *Service) Edit(ctx context.Context, u chat.User, roomID string, seq int64, text string) (chat.Message, error) {
	text, err := s.validText(text)
	if err != nil {
		return chat.Message{}, err
	}
	if _, err := s.visibleRoom(ctx, u, roomID); err != nil {
		return chat.Message{}, err
	}
	orig, err := s.liveMessage(ctx, roomID, seq)
	if err != nil {
		return chat.Message{}, err
	}
	if orig.From.ID != u.ID {
		return chat.Message{}, chat.Errorf(chat.CodeForbidden, "only the author may edit a message")
	}
	m, err := s.store.EditMessage(ctx, roomID, seq, text, chat.Now())
	if isNotFound(err) {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "no message with seq %d", seq)
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("rooms: edit: %w", err)
	}
	s.publishMsg(ctx, chat.MessageEvent{Type: chat.EventMessageEdited, Room: roomID, Message: m})
	return m, nil
}

// Delete marks a message deleted; u must be its author, the room's owner
// or an admin.
func (s *Service) Delete(ctx context.Context, u chat.User, roomID string, seq int64) error {
	if _, err := s.visibleRoom(ctx, u, roomID); err != nil {
		return err
	}
	orig, err := s.liveMessage(ctx, roomID, seq)
	if err != nil {
		return err
	}
	if orig.From.ID != u.ID && u.Role != chat.RoleAdmin {
		role, err := s.store.MemberRole(ctx, roomID, u.ID)
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("rooms: delete: read membership: %w", err)
		}
		if role != chat.MemberOwner {
			return chat.Errorf(chat.CodeForbidden, "only the author, the room's owner or an admin may delete a message")
		}
	}
	m, err := s.store.DeleteMessage(ctx, roomID, seq, chat.Now())
	if isNotFound(err) {
		return chat.Errorf(chat.CodeNotFound, "no message with seq %d", seq)
	}
	if err != nil {
		return fmt.Errorf("rooms: delete: %w", err)
	}
	s.publishMsg(ctx, chat.MessageEvent{Type: chat.EventMessageDeleted, Room: roomID, Message: m})
	return nil
}

func (s *Service) liveMessage(ctx context.Context, roomID string, seq int64) (chat.Message, error) {
	if seq < 1 {
		return chat.Message{}, chat.Errorf(chat.CodeBadRequest, "seq: must be a positive integer")
	}
	m, err := s.store.MessageBySeq(ctx, roomID, seq)
	if isNotFound(err) || (err == nil && m.Deleted) {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "no message with seq %d", seq)
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("rooms: read message: %w", err)
	}
	return m, nil
}

// HistoryRequest selects a page of history. Zero BeforeSeq and Limit mean
// unset; AfterSeq counts only when After is set (after_seq was given).
type HistoryRequest struct {
	BeforeSeq int64
	AfterSeq  int64
	After     bool
	Limit     int
}

// History returns one page of a room's messages in ascending seq.
func (s *Service) History(ctx context.Context, u chat.User, roomID string, req HistoryRequest) ([]chat.Message, bool, error) {
	if req.BeforeSeq < 0 || req.AfterSeq < 0 || req.Limit < 0 {
		return nil, false, chat.Errorf(chat.CodeBadRequest, "before_seq, after_seq and limit must not be negative")
	}
	limit := req.Limit
	if limit == 0 {
		limit = historyDefault
	}
	limit = min(limit, historyMax)
	if _, err := s.visibleRoom(ctx, u, roomID); err != nil {
		return nil, false, err
	}
	msgs, more, err := s.store.Messages(ctx, roomID, chat.HistoryQuery{BeforeSeq: req.BeforeSeq, AfterSeq: req.AfterSeq, After: req.After, Limit: limit})
	if err != nil {
		return nil, false, fmt.Errorf("rooms: history: %w", err)
	}
	if msgs == nil {
		msgs = []chat.Message{}
	}
	return msgs, more, nil
}

// Typing tells the room's other connections, on every hub, that u started
// or stopped typing. Nothing is stored.
func (s *Service) Typing(ctx context.Context, u chat.User, roomID string, active bool) error {
	if _, err := s.visibleRoom(ctx, u, roomID); err != nil {
		return err
	}
	if err := s.allow(ctx, limiterKeyTyped+u.ID, typingLimit, typingWindow); err != nil {
		return err
	}
	ev := encode(chat.TypingEvent{Type: chat.EventTyping, Room: roomID, User: u, Active: active})
	s.publishEph(ctx, roomID, ephEnvelope{From: u.ID, Event: ev})
	return nil
}

func (s *Service) validText(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", chat.Errorf(chat.CodeBadRequest, "text: must be valid UTF-8")
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return "", chat.Errorf(chat.CodeBadRequest, "text: must not be empty")
	}
	if n := utf8.RuneCountInString(text); n > s.cfg.MaxMessageChars {
		return "", chat.Errorf(chat.CodeTooLarge, "text: %d characters, at most %d", n, s.cfg.MaxMessageChars)
	}
	return text, nil
}

// allow applies a rate limit. A limiter that cannot answer lets the
// request through: an outage of the limits backend must not stop chat.
func (s *Service) allow(ctx context.Context, key string, limit int, window time.Duration) error {
	ok, retry, err := s.limiter.Allow(ctx, key, limit, window)
	if err != nil {
		s.log.WarnContext(ctx, "rooms: rate limiter unavailable; allowing", "key", key, "err", err)
		return nil
	}
	if !ok {
		return chat.RateLimited(retry)
	}
	return nil
}

func (s *Service) publishMsg(ctx context.Context, ev chat.MessageEvent) {
	// The message is committed; a lost publish is repaired by every hub
	// from the store, so the sender is not told about it.
	if err := s.bus.Publish(context.WithoutCancel(ctx), s.bus.RoomMsg(ev.Room), encode(ev)); err != nil {
		s.metrics.PublishFailed()
		s.log.WarnContext(ctx, "rooms: publish message event", "room", ev.Room, "seq", ev.Message.Seq, "err", err)
	}
}
