package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

const (
	fileName    = "secrets.enc"
	keyName     = "secrets.key"
	keySize     = 32 // AES-256
	fileVersion = 1
)

// fileAAD binds the ciphertext to this format, so a version-1 body cannot be
// replayed under another version's header.
var fileAAD = []byte("modelbar secrets v1")

// envelope is the on-disk form of secrets.enc. V says how to read the rest;
// a reader refuses versions it does not know rather than overwrite them.
type envelope struct {
	V     int    `json:"v"`
	Nonce []byte `json:"nonce"` // GCM nonce, fresh for every write
	Data  []byte `json:"data"`  // AES-256-GCM sealed JSON payload
}

// payload is the plaintext inside an envelope.
type payload struct {
	Secrets map[string]string `json:"secrets"` // account → secret
}

// File is the Store for systems without an OS secret store: AES-256-GCM
// encrypted "<dataDir>/secrets.enc" with the key in "<dataDir>/secrets.key".
// Every call reads the file; every change rewrites it atomically.
//
// Safe for concurrent use; Files opened on the same directory in one process
// share a lock. Two processes writing the same directory at once can lose an
// update. The context is only checked before the file is touched.
type File struct {
	path string       // secrets.enc
	aead cipher.AEAD  // keyed with secrets.key
	mu   *sync.Mutex  // shared per path (fileLocks); guards the read-modify-write of path
	log  *slog.Logger // warns when Set moves an unreadable file aside; never nil
}

var _ Store = (*File)(nil)

// fileLocks maps the absolute path of a secrets.enc to the *sync.Mutex all Files on it share.
var fileLocks sync.Map

// NewFile: AES-256-GCM encrypted file "<dataDir>/secrets.enc", key in a separate "<dataDir>/secrets.key"
// (32 random bytes, mode 0600, created on first use). Writes are atomic (temp file in same dir, fsync, rename),
// file mode 0600.
//
// NewFile creates dataDir (mode 0700) if needed. It refuses to create a key
// when secrets.enc already exists, since the old secrets could then never be
// read again and the next write would destroy them.
//
// A secrets.enc that cannot be read back (see ErrUnreadable) fails Get and
// Delete; Set moves it aside and starts a new file (see Set).
func NewFile(dataDir string) (*File, error) { return newFile(dataDir, nil) }

// newFile is NewFile with a logger for the warning Set gives when it moves
// an unreadable file aside; nil discards.
func newFile(dataDir string, log *slog.Logger) (*File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dataDir == "" {
		return nil, errors.New("secrets file: empty data dir")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets file: create data dir: %w", err)
	}
	path := filepath.Join(dataDir, fileName)
	key, err := loadKey(filepath.Join(dataDir, keyName), path)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	mu, _ := fileLocks.LoadOrStore(abs, new(sync.Mutex))
	return &File{path: path, aead: aead, mu: mu.(*sync.Mutex), log: log}, nil
}

// Backend returns "file".
func (f *File) Backend() string { return backendFile }

// Get returns the secret for account, or an error wrapping ErrNotFound, or
// ErrUnreadable when the file cannot be read back.
func (f *File) Get(ctx context.Context, account string) (string, error) {
	if err := checkAccount("get", account); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("get secret for %q: %w", account, err)
	}
	f.mu.Lock()
	m, err := f.load()
	f.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("get secret for %q: %w", account, err)
	}
	s, ok := m[account]
	if !ok {
		return "", fmt.Errorf("get secret for %q: %w", account, ErrNotFound)
	}
	return s, nil
}

// Set stores secret for account, replacing any previous one.
//
// When the file cannot be read back (ErrUnreadable), Set keeps its bytes in
// a new file "secrets.enc.corrupt-<UTC time>" beside it (mode 0600, never
// replacing an earlier one), logs a warning, and writes a new secrets.enc
// holding only this secret: the others were lost already, and refusing
// would leave no way to store a key at all. A file of a newer format
// version is refused and left alone.
func (f *File) Set(ctx context.Context, account, secret string) error {
	if err := checkSet(account, secret); err != nil {
		return err
	}
	return f.update(ctx, "set", account, true, func(m map[string]string) bool {
		if m[account] == secret {
			return false
		}
		m[account] = secret
		return true
	})
}

// Delete removes the secret for account; it is not an error if there is
// none. An unreadable file is an error (ErrUnreadable) and stays as it is.
func (f *File) Delete(ctx context.Context, account string) error {
	if err := checkAccount("delete", account); err != nil {
		return err
	}
	return f.update(ctx, "delete", account, false, func(m map[string]string) bool {
		if _, ok := m[account]; !ok {
			return false
		}
		delete(m, account)
		return true
	})
}

// update applies change to the stored map under the lock and writes the
// result if change reports that it changed something. With recoverFile, an
// unreadable file is moved aside and change starts from an empty map.
func (f *File) update(ctx context.Context, op, account string, recoverFile bool, change func(map[string]string) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s secret for %q: %w", op, account, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, err := f.read()
	var m map[string]string
	if err == nil {
		m, err = f.decode(raw)
	}
	if recoverFile && errors.Is(err, ErrUnreadable) {
		m, err = map[string]string{}, f.moveAside(raw, err)
	}
	if err == nil && change(m) {
		err = f.save(m)
	}
	if err != nil {
		return fmt.Errorf("%s secret for %q: %w", op, account, err)
	}
	return nil
}

// load reads and decrypts the file; a missing file is an empty map.
func (f *File) load() (map[string]string, error) {
	raw, err := f.read()
	if err != nil {
		return nil, err
	}
	return f.decode(raw)
}

// read returns the file's bytes; a missing file is nil.
func (f *File) read() ([]byte, error) {
	raw, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	return raw, nil
}

// decode decrypts the file's bytes (nil: no file, an empty map). A file
// that cannot be read back is an error wrapping ErrUnreadable; one of
// another format version is not. Errors never quote decrypted bytes.
func (f *File) decode(raw []byte) (map[string]string, error) {
	if raw == nil {
		return map[string]string{}, nil
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: %s is corrupt: %w", ErrUnreadable, f.path, err)
	}
	if env.V != fileVersion {
		return nil, fmt.Errorf("secrets file %s has format version %d, this build reads %d: it was written by a newer modelbar", f.path, env.V, fileVersion)
	}
	if len(env.Nonce) != f.aead.NonceSize() {
		return nil, fmt.Errorf("%w: %s is corrupt: nonce has %d bytes, want %d", ErrUnreadable, f.path, len(env.Nonce), f.aead.NonceSize())
	}
	plain, err := f.aead.Open(nil, env.Nonce, env.Data, fileAAD)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: cannot decrypt (wrong %s or tampered file): %w", ErrUnreadable, f.path, keyName, err)
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		// The JSON error is not kept: its text can quote the decrypted bytes.
		return nil, fmt.Errorf("%w: %s: decrypted contents are malformed", ErrUnreadable, f.path)
	}
	if p.Secrets == nil {
		p.Secrets = map[string]string{}
	}
	return p.Secrets, nil
}

// asideLayout names a moved-aside file by the UTC time it was moved.
const asideLayout = "20060102T150405Z"

// moveAside keeps raw, the bytes of the unreadable file (cause says why),
// in a new file "secrets.enc.corrupt-<UTC time>" beside it, with a counter
// after the time if that name is taken, and logs a warning. The original
// stays until save replaces it, so a crash in between loses nothing.
func (f *File) moveAside(raw []byte, cause error) error {
	base := f.path + ".corrupt-" + time.Now().UTC().Format(asideLayout)
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		err := writeNew(name, raw)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("move unreadable secrets file aside: %w", err)
		}
		syncDir(filepath.Dir(f.path))
		f.log.Warn("secrets file unreadable: moved aside and started afresh; the keys it held must be set again",
			"path", f.path, "moved_to", name, "reason", cause.Error())
		return nil
	}
	return fmt.Errorf("move unreadable secrets file aside: %s-1 to -99 all exist", base)
}

// save encrypts m under a fresh nonce and replaces the file atomically.
func (f *File) save(m map[string]string) error {
	plain, err := json.Marshal(payload{Secrets: m})
	if err != nil {
		return fmt.Errorf("secrets file: encode: %w", err)
	}
	nonce := make([]byte, f.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("secrets file: nonce: %w", err)
	}
	raw, err := json.Marshal(envelope{V: fileVersion, Nonce: nonce, Data: f.aead.Seal(nil, nonce, plain, fileAAD)})
	if err != nil {
		return fmt.Errorf("secrets file: encode: %w", err)
	}
	return writeAtomic(f.path, raw)
}

// loadKey reads the key at keyPath, creating it when neither it nor the
// secrets file at dataPath exists.
func loadKey(keyPath, dataPath string) ([]byte, error) {
	key, err := readKey(keyPath)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	switch _, err := os.Stat(dataPath); {
	case err == nil:
		return nil, fmt.Errorf("secrets file: %s exists but its key %s is missing; refusing to create a new key", dataPath, keyPath)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	return createKey(keyPath)
}

// readKey reads and checks a key file; a missing file wraps fs.ErrNotExist.
func readKey(keyPath string) ([]byte, error) {
	key, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("secrets file: read key: %w", err)
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("secrets file: key %s has %d bytes, want %d", keyPath, len(key), keySize)
	}
	return key, nil
}

// createKey writes a new random key to keyPath without replacing one that
// another process created meanwhile: the key is written to a temp file and
// hard-linked into place, which fails if keyPath exists.
func createKey(keyPath string) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secrets file: generate key: %w", err)
	}
	dir := filepath.Dir(keyPath)
	tmp, err := writeTemp(dir, keyName, key)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, keyPath); errors.Is(err, fs.ErrExist) {
		return readKey(keyPath)
	} else if err != nil {
		return nil, fmt.Errorf("secrets file: install key: %w", err)
	}
	syncDir(dir)
	return key, nil
}

// writeAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync of the directory. The file has mode 0600.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, filepath.Base(path), data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("secrets file: replace %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// writeNew writes data to path, which must not exist (an error wrapping
// fs.ErrExist if it does), as a new mode-0600 file, synced and closed.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeTemp writes data to a new mode-0600 temp file in dir, named after
// base, synced and closed, and returns its path.
func writeTemp(dir, base string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+base+".*.tmp") // CreateTemp uses mode 0600
	if err != nil {
		return "", fmt.Errorf("secrets file: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("secrets file: write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in dir durable. Best effort: some file
// systems refuse to sync a directory, and Windows cannot open one.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
