package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pawfect/hub/internal/chat"
)

const accountCols = `id, username, display_name, role, password_hash, created_by, created_at`

func scanAccount(row pgx.Row) (chat.Account, error) {
	var a chat.Account
	err := row.Scan(&a.User.ID, &a.User.Username, &a.User.DisplayName, &a.User.Role,
		&a.PasswordHash, &a.CreatedBy, &a.CreatedAt)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, err
}

// CreateAccount inserts a; chat.ErrConflict if its ID or username is taken.
func (db *DB) CreateAccount(ctx context.Context, a chat.Account) error {
	if a.User.ID == "" {
		return errors.New("postgres: create account: empty id")
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.User.ID, a.User.Username, a.User.DisplayName, string(a.User.Role),
		a.PasswordHash, a.CreatedBy, stamp(a.CreatedAt))
	return wrap("create account", err)
}

// Account returns a live account by ID.
func (db *DB) Account(ctx context.Context, id string) (chat.Account, error) {
	a, err := scanAccount(db.pool.QueryRow(ctx,
		`SELECT `+accountCols+` FROM accounts WHERE id = $1 AND deleted_at IS NULL`, id))
	if err != nil {
		return chat.Account{}, wrap("account", err)
	}
	return a, nil
}

// AccountByUsername returns a live account by username.
func (db *DB) AccountByUsername(ctx context.Context, username string) (chat.Account, error) {
	a, err := scanAccount(db.pool.QueryRow(ctx,
		`SELECT `+accountCols+` FROM accounts WHERE username = $1 AND deleted_at IS NULL`, username))
	if err != nil {
		return chat.Account{}, wrap("account by username", err)
	}
	return a, nil
}

// UpsertAdmin is one INSERT … ON CONFLICT, so hubs starting together cannot
// both insert. A deleted account with the username is revived: the username
// can never be reused, so reviving is the only way to honour "make sure it
// exists".
func (db *DB) UpsertAdmin(ctx context.Context, a chat.Account) (chat.Account, error) {
	if a.User.ID == "" {
		return chat.Account{}, errors.New("postgres: upsert admin: empty id")
	}
	got, err := scanAccount(db.pool.QueryRow(ctx, `
		INSERT INTO accounts (`+accountCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
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
	tag, err := db.pool.Exec(ctx,
		`UPDATE accounts SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL`, chat.Now(), id)
	if err != nil {
		return wrap("delete account", err)
	}
	return wrap("delete account", affected(tag, "account "+id))
}
