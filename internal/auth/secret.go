package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SecretFile is the name of the generated secret inside the data dir.
const SecretFile = "jwt_secret"

// LoadOrCreateSecret returns the token secret kept in dataDir/jwt_secret,
// creating it on first use.
//
// An existing file's contents, minus one trailing newline ("\n" or "\r\n"),
// are the secret; fewer than 32 bytes is an error. A file that group or
// others may access is tightened to 0600 (the owner's choice of a looser
// mode is overridden, since anyone who reads the key can sign tokens); if
// that fails, LoadOrCreateSecret fails rather than use a key others can read.
//
// A missing file is created (and dataDir, mode 0700, if missing) holding 32
// random bytes in standard base64; the secret is that base64 text. The file
// is written to a temporary name with mode 0600 and linked into place, so a
// reader never sees a partial file and two hubs starting at once on one data
// dir end up with the same secret.
func LoadOrCreateSecret(dataDir string) ([]byte, error) {
	if dataDir == "" {
		return nil, errors.New("auth: load secret: no data dir")
	}
	path := filepath.Join(dataDir, SecretFile)
	secret, err := readSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	secret = []byte(base64.StdEncoding.EncodeToString(raw[:]))
	created, err := writeNew(path, append(secret, '\n'))
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	if !created { // another process won the race: use its secret
		return readSecret(path)
	}
	return secret, nil
}

// readSecret reads and checks an existing secret file. A missing file is an
// error wrapping fs.ErrNotExist.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: load secret: %w", err)
	}
	if err := tighten(path); err != nil {
		return nil, fmt.Errorf("auth: load secret: %w", err)
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		b = bytes.TrimSuffix(b[:len(b)-1], []byte("\r"))
	}
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("auth: load secret: %s holds %d bytes, a secret needs at least %d (remove the file to generate a new one)", path, len(b), MinSecretLen)
	}
	return b, nil
}

// tighten makes sure only the owner can access the file.
func tighten(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("%s has mode %#o and could not be made 0600: %w", path, fi.Mode().Perm(), err)
	}
	return nil
}

// writeNew writes data to path unless path exists, atomically: a temporary
// file in the same directory is written, synced and hard-linked to path
// (which, unlike rename, never replaces an existing file). created is false
// if path already existed. Where hard links are unsupported it falls back
// to rename.
func writeNew(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp uses 0600 already; be explicit against a changed default.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	switch err := os.Link(tmp, path); {
	case errors.Is(err, fs.ErrExist):
		return false, nil
	case err != nil:
		if err := os.Rename(tmp, path); err != nil {
			return false, err
		}
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes a new directory entry durable where the platform allows.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
