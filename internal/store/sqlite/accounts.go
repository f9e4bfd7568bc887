package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/pawfect/hub/internal/chat"
)

const accountCols = `id, username, display_name, role, password_hash, created_by, created_at`

func scanAccount(s scanner) (chat.Account, error) {
	var a chat.Account
	var created int64
	err := s.Scan(&a.User.ID, &a.User.Username, &a.User.DisplayName, &a.User.Role,
		&a.PasswordHash, &a.CreatedBy, &created)
	a.CreatedAt = fromMicros(created)
	return a, err
}

// CreateAccount inserts a; chat.ErrConflict if its ID or username is taken.
func (db *DB) CreateAccount(ctx context.Context, a chat.Account) error {
	if a.User.ID == "" {
		return errors.New("sqlite: create account: empty id")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.User.ID, a.User.Username, a.User.DisplayName, string(a.User.Role),
		a.PasswordHash, a.CreatedBy, stamp(a.CreatedAt))
	return wrap("create account", err)
}

// Account returns a live account by ID.
func (db *DB) Account(ctx context.Context, id string) (chat.Account, error) {
	a, err := scanAccount(db.r.QueryRowContext(ctx,
		`SELECT `+accountCols+` FROM accounts WHERE id = ? AND deleted_at IS NULL`, id))
	if err != nil {
		return chat.Account{}, wrap("account", err)
	}
	return a, nil
}

// AccountByUsername returns a live account by username.
func (db *DB) AccountByUsername(ctx context.Context, username string) (chat.Account, error) {
	a, err := scanAccount(db.r.QueryRowContext(ctx,
		`SELECT `+accountCols+` FROM accounts WHERE username = ? AND deleted_at IS NULL`, username))
	if err != nil {
		return chat.Account{}, wrap("account by username", err)
	}
	return a, nil
}

// UpsertAdmin is one UPSERT statement, so concurrent calls cannot both
// insert. A deleted account with the username is revived: the username can
// never be reused, so reviving is the only way to honour "make sure it
// exists".
func (db *DB) UpsertAdmin(ctx context.Context, a chat.Account) (chat.Account, error) {
	if a.User.ID == "" {
		return chat.Account{}, errors.New("sqlite: upsert admin: empty id")
	}
	got, err := scanAccount(db.w.QueryRowContext(ctx, `
		INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET
			role = excluded.role,
			password_hash = excluded.password_hash,
			deleted_at = NULL
		RETURNING `+accountCols,
		a.User.ID, a.User.Username, a.User.DisplayName, string(chat.RoleAdmin),
		a.PasswordHash, a.CreatedBy, stamp(a.CreatedAt)))
	if err != nil {
		return chat.Account{}, wrap("upsert admin", err)
	}
	return got, nil
}

// DeleteAccount marks the account deleted; its row stays so its messages
// keep an author and its username stays taken.
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx,
		`UPDATE accounts SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, micros(chat.Now()), id)
	if err != nil {
		return wrap("delete account", err)
	}
	return affected("delete account", res, fmt.Sprintf("account %s", id))
}
