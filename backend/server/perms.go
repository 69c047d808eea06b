package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// Modes of the data dir and the files directly in it: the database, its
// -wal and -shm, admin-token, secrets.enc and secrets.key are the user's
// alone.
const (
	dataDirMode  fs.FileMode = 0o700
	dataFileMode fs.FileMode = 0o600
	dbFileName               = "modelbar.db" // the database in the data dir
)

// secureDataDir makes dir (which exists) private, whoever created what is
// in it: dir gets mode 0700 and every regular file directly in it 0600.
// Symbolic links are not followed and subdirectories (models/) are left
// alone. It creates modelbar.db, empty and 0600, if it is missing: SQLite
// gives the -wal and -shm files it creates the database file's mode, so
// they are born private too.
//
// A file that cannot be changed (another user's) is logged and skipped;
// failing to change or read dir itself is an error. On Windows, which has
// no Unix modes, it does nothing.
func secureDataDir(dir string, log *slog.Logger) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if err := restrictDir(dir); err != nil {
		return fmt.Errorf("make data dir private: %w", err)
	}
	if err := createPrivate(filepath.Join(dir, dbFileName)); err != nil {
		return fmt.Errorf("make data dir private: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("make data dir private: %w", err)
	}
	var changed []string
	for _, e := range entries {
		if !e.Type().IsRegular() { // symbolic links, directories, sockets, ...
			continue
		}
		switch did, err := restrictFile(filepath.Join(dir, e.Name())); {
		case err != nil:
			log.Warn("cannot make a file in the data dir private (mode 0600)", "path", filepath.Join(dir, e.Name()), "err", err)
		case did:
			changed = append(changed, e.Name())
		}
	}
	if len(changed) > 0 {
		log.Info("made files in the data dir private (mode 0600)", "data_dir", dir, "files", changed)
	}
	return nil
}

func restrictDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == dataDirMode {
		return nil
	}
	return os.Chmod(dir, dataDirMode)
}

// createPrivate creates an empty file at path with mode 0600 unless
// something (a symbolic link included) is there already.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, dataFileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// restrictFile sets the mode of the regular file at path to 0600 and
// reports whether it had another. It changes the file it opened, after
// checking that it is the one Lstat saw, so a symbolic link put there
// meanwhile is never followed to another file.
func restrictFile(path string) (changed bool, err error) {
	before, err := os.Lstat(path)
	if err != nil || !before.Mode().IsRegular() || before.Mode().Perm() == dataFileMode {
		return false, err
	}
	// O_NONBLOCK: a FIFO put there meanwhile must not block the start.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !os.SameFile(before, opened) {
		return false, fmt.Errorf("%s was replaced while its mode was being changed", path)
	}
	if err := f.Chmod(dataFileMode); err != nil {
		return false, err
	}
	return true, nil
}
