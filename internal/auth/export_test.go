package auth

import "golang.org/x/crypto/bcrypt"

// NewCheap is New allowing bcrypt's minimum cost, so that tests that hash
// many passwords stay fast under the race detector. Production code cannot
// reach it.
func NewCheap(accts Accounts, opts Options) (*Service, error) {
	return newService(accts, opts, bcrypt.MinCost)
}
