// Package callrow is the stored form of a call's lists (invited users and
// participants), shared by both store backends so that a row written by
// one reads the same in the other's terms: JSON text, never null, with
// times in UTC to the microsecond.
package callrow

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Encode returns the JSON of c's invited users and participants. Empty
// lists are "[]", so a reader always gets an empty slice rather than nil.
func Encode(c chat.CallRecord) (invited, participants string, err error) {
	inv := c.Invited
	if inv == nil {
		inv = []string{}
	}
	ps := make([]chat.CallMember, len(c.Participants))
	for i, m := range c.Participants {
		m.JoinedAt = m.JoinedAt.UTC().Truncate(time.Microsecond)
		ps[i] = m
	}
	a, err := json.Marshal(inv)
	if err != nil {
		return "", "", fmt.Errorf("call %s invited: %w", c.ID, err)
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return "", "", fmt.Errorf("call %s participants: %w", c.ID, err)
	}
	return string(a), string(b), nil
}

// Decode fills c's invited users and participants from their stored JSON.
func Decode(c *chat.CallRecord, invited, participants string) error {
	if err := json.Unmarshal([]byte(invited), &c.Invited); err != nil {
		return fmt.Errorf("call %s invited: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(participants), &c.Participants); err != nil {
		return fmt.Errorf("call %s participants: %w", c.ID, err)
	}
	for i := range c.Participants {
		c.Participants[i].JoinedAt = c.Participants[i].JoinedAt.UTC()
	}
	return nil
}
