package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Modes of what Strata keeps on disk: the store, its WAL and shared-memory
// files, user databases, KV data, logs and the secret key are readable by
// the server's user only.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// PrivateUmask is the process umask a server runs with, so that every file
// it creates, and every file SQLite creates for it (the store's and user
// databases' -wal and -shm files, which SQLite opens itself with its own
// default mode), is its user's only: 0o077 turns SQLite's 0644 into 0600
// and MkdirAll's 0755 into 0700. SetPrivateUmask sets it.
const PrivateUmask = 0o077

// SecureDataDir makes dir (the data directory) and everything under it
// private to the server's user: it creates dir with DirMode, and takes
// group and other permissions off every directory and file already there
// (a data dir from an older version, or one an operator created), logging
// a warning for each change so the operator knows it was readable. It
// does not follow symbolic links: what they point at is not Strata's.
func SecureDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create data dir %s: %w", dir, err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked (a -shm file, say)
			}
			return err
		}
		if d.IsDir() && filepath.Dir(path) == filepath.Clean(dir) && (d.Name() == "sdk" || d.Name() == "build") {
			// A project's .strata holds the Go SDK (public source the
			// binary ships) and the built modules (made from the source
			// beside them, as readable as it is): nothing a local user
			// may not read, and rewritten by each build with ordinary
			// modes, so restricting them only warned on every start.
			return filepath.SkipDir
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // symlinks, sockets: not files Strata created
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm()
		if mode&0o077 == 0 {
			return nil
		}
		want := mode &^ 0o077
		if err := os.Chmod(path, want); err != nil {
			return fmt.Errorf("restrict %s (mode %s): %w", path, mode, err)
		}
		log.Warn("data dir entry was readable by other users; restricted it to the server's user",
			"path", path, "was", mode.String(), "now", want.String())
		return nil
	})
	if err != nil {
		return fmt.Errorf("secure data dir %s: %w", dir, err)
	}
	return nil
}

// SecureFiles sets the private umask and secures the data directory and,
// when the embedded store is a file elsewhere, that file and its -wal and
// -shm companions. Servers call it before opening anything.
func (c Config) SecureFiles(log *slog.Logger) error {
	SetPrivateUmask()
	if err := SecureDataDir(c.DataDir, log); err != nil {
		return err
	}
	if c.IsPostgres() {
		return nil
	}
	db := c.SQLitePath()
	if rel, err := filepath.Rel(c.DataDir, db); err == nil && filepath.IsLocal(rel) {
		return nil // walked with the data dir
	}
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		want := fi.Mode().Perm() &^ 0o077
		if err := os.Chmod(p, want); err != nil {
			return fmt.Errorf("restrict store file %s: %w", p, err)
		}
		log.Warn("store file was readable by other users; restricted it to the server's user",
			"path", p, "was", fi.Mode().Perm().String(), "now", want.String())
	}
	return nil
}
