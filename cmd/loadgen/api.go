package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// api makes the set-up calls of PROTOCOL §2.
type api struct {
	http *http.Client
	log  *slog.Logger
}

// apiError is a non-2xx answer.
type apiError struct {
	Method, URL string
	Status      int
	Code        string
	Message     string
}

func (e *apiError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s %s: HTTP %d %s: %s", e.Method, e.URL, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Message)
}

// authReply is the body of register, login and guest.
type authReply struct {
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		Role     string `json:"role"`
	} `json:"user"`
	Token string `json:"token"`
}

// register creates an account and returns its token.
func (a *api) register(ctx context.Context, base, username, password string) (string, error) {
	var out authReply
	body := map[string]string{"username": username, "password": password, "display_name": "loadgen"}
	if err := a.post(ctx, base+"/api/auth/register", "", body, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("register %s: %w", username, err)
	}
	if out.Token == "" {
		return "", fmt.Errorf("register %s: reply has no token", username)
	}
	return out.Token, nil
}

// login signs in and returns the token and the account's role.
func (a *api) login(ctx context.Context, base, username, password string) (token, role string, err error) {
	var out authReply
	body := map[string]string{"username": username, "password": password}
	if err := a.post(ctx, base+"/api/auth/login", "", body, http.StatusOK, &out); err != nil {
		return "", "", fmt.Errorf("login %s: %w", username, err)
	}
	if out.Token == "" {
		return "", "", fmt.Errorf("login %s: reply has no token", username)
	}
	return out.Token, out.User.Role, nil
}

// guest returns a new guest's token.
func (a *api) guest(ctx context.Context, base, displayName string) (string, error) {
	var out authReply
	body := map[string]string{"display_name": displayName}
	if err := a.post(ctx, base+"/api/auth/guest", "", body, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("guest token: %w", err)
	}
	if out.Token == "" {
		return "", errors.New("guest token: reply has no token")
	}
	return out.Token, nil
}

// createRoom creates a public room and returns its id.
func (a *api) createRoom(ctx context.Context, base, token, name string) (string, error) {
	var out struct {
		Room struct {
			ID string `json:"id"`
		} `json:"room"`
	}
	body := map[string]string{"name": name, "kind": "public"}
	if err := a.post(ctx, base+"/api/rooms", token, body, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("create room %s: %w", name, err)
	}
	if out.Room.ID == "" {
		return "", fmt.Errorf("create room %s: reply has no room id", name)
	}
	return out.Room.ID, nil
}

// apiAttempts bounds retries of rate_limited and unavailable answers.
const apiAttempts = 8

// post sends body as JSON and decodes a reply with status want into out.
// 429 and 503 are retried after the hub's hint (Retry-After or
// retry_after_ms), at most apiAttempts times.
func (a *api) post(ctx context.Context, url, token string, body any, want int, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		wait, err := a.postOnce(ctx, url, token, payload, want, out)
		if wait == 0 || attempt == apiAttempts {
			return err
		}
		a.log.Debug("retrying", "url", url, "after", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last answer: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// postOnce makes one request. A non-zero wait means "retry after it".
func (a *api) postOnce(ctx context.Context, url, token string, payload []byte, want int, out any) (wait time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("POST %s: reading body: %w", url, err)
	}
	if resp.StatusCode == want {
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, fmt.Errorf("POST %s: decoding %q: %w", url, truncate(raw, 200), err)
		}
		return 0, nil
	}
	e := &apiError{Method: http.MethodPost, URL: url, Status: resp.StatusCode}
	var body struct {
		Error *struct {
			Code         string `json:"code"`
			Message      string `json:"message"`
			RetryAfterMS int64  `json:"retry_after_ms"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error != nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Message = fmt.Sprintf("unexpected body %q (want HTTP %d)", truncate(raw, 200), want)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		wait = time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		if body.Error != nil && body.Error.RetryAfterMS > 0 {
			wait = time.Duration(body.Error.RetryAfterMS) * time.Millisecond
		}
		wait = min(max(wait, 50*time.Millisecond), 10*time.Second)
	}
	return wait, e
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
