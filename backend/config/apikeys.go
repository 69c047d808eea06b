package config

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/modelbar/modelbar/backend/router"
	"github.com/modelbar/modelbar/backend/store"
)

// APIKeyPrefix starts every inference API key, so a key found in a file or
// a log can be recognised as modelbar's.
const APIKeyPrefix = "mb-"

// maxAPIKeyName bounds a key's name, in characters.
const maxAPIKeyName = 100

// touchInterval is how often at most a key's last use is written to the
// database: the request path must not write on every request, and "last
// used" a minute late is still accurate enough to spot an unused key.
const touchInterval = time.Minute

// APIKey is an inference API key as the admin API shows it: never the key,
// only its last four characters.
type APIKey struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // nil: never used
}

// apiKeySet is a published, immutable list of the keys requests are checked
// against. The entries' use counters are the only mutable part.
type apiKeySet struct{ keys []*apiKeyEntry }

// apiKeyEntry is one key in the set. An entry outlives the snapshots it is
// in, so its use times survive other keys being created or revoked.
type apiKeyEntry struct {
	id       int64
	hash     [sha256.Size]byte
	lastUsed atomic.Int64 // unix nanoseconds of the latest use seen; 0: none since start
	saved    atomic.Int64 // unix nanoseconds of the latest use written (or being written) to the database
}

// APIKeys lists the inference API keys by id. A use not yet written to the
// database is shown all the same.
func (s *Service) APIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.store.ListAPIKeys(ctx)
	if err != nil {
		return nil, err
	}
	used := map[int64]int64{}
	for _, e := range s.apiKeySnapshot().keys {
		used[e.id] = e.lastUsed.Load()
	}
	out := make([]APIKey, len(rows))
	for i, k := range rows {
		last := k.LastUsedAt
		if ns := used[k.ID]; ns > 0 && time.Unix(0, ns).After(last) {
			last = time.Unix(0, ns).UTC()
		}
		out[i] = APIKey{ID: k.ID, Name: k.Name, Hint: k.Hint, CreatedAt: k.CreatedAt}
		if !last.IsZero() {
			out[i].LastUsedAt = &last
		}
	}
	return out, nil
}

// CreateAPIKey makes a new inference API key named name and returns it with
// the key in clear: the only time it is available, as only its hash is
// kept. The key is valid from the moment this returns.
func (s *Service) CreateAPIKey(ctx context.Context, name string) (APIKey, string, error) {
	if err := checkAPIKeyName(name); err != nil {
		return APIKey{}, "", err
	}
	plain, err := newAPIKey()
	if err != nil {
		return APIKey{}, "", err
	}
	sum := sha256.Sum256([]byte(plain))
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	row, err := s.store.CreateAPIKey(ctx, name, hex.EncodeToString(sum[:]), plain[len(plain)-4:])
	if err != nil {
		return APIKey{}, "", err
	}
	keys := slices.Clone(s.apiKeySnapshot().keys)
	s.apiKeys.Store(&apiKeySet{keys: append(keys, &apiKeyEntry{id: row.ID, hash: sum})})
	return APIKey{ID: row.ID, Name: row.Name, Hint: row.Hint, CreatedAt: row.CreatedAt}, plain, nil
}

// RevokeAPIKey deletes key id; requests presenting it fail from the moment
// this returns. An unknown id is ErrNotFound.
func (s *Service) RevokeAPIKey(ctx context.Context, id int64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	if err := s.store.DeleteAPIKey(ctx, id); err != nil {
		return notFound(err, "API key %d", id)
	}
	keys := slices.DeleteFunc(slices.Clone(s.apiKeySnapshot().keys), func(e *apiKeyEntry) bool { return e.id == id })
	s.apiKeys.Store(&apiKeySet{keys: keys})
	return nil
}

// HasAPIKeys reports whether any inference API key exists. It reads the
// published set: no database query.
func (s *Service) HasAPIKeys() bool { return len(s.apiKeySnapshot().keys) > 0 }

// VerifyAPIKey reports whether key is a current inference API key, and
// which. It runs on every request when keys are required, so it reads only
// the published set: no database query, no lock. The key's hash is compared
// with every stored hash in constant time, without stopping at a match, so
// the time taken says nothing about which key matched or how closely. The
// use is recorded, and written to the database at most once per
// touchInterval per key, in the background.
func (s *Service) VerifyAPIKey(key string) (id int64, ok bool) {
	sum := sha256.Sum256([]byte(key))
	var found *apiKeyEntry
	for _, e := range s.apiKeySnapshot().keys {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found = e
		}
	}
	if found == nil {
		return 0, false
	}
	s.noteAPIKeyUse(found, time.Now())
	return found.id, true
}

// noteAPIKeyUse records a use in memory and, if the key's last written use
// is older than touchInterval, writes this one in the background. The
// compare-and-swap lets exactly one request per interval start the write.
func (s *Service) noteAPIKeyUse(e *apiKeyEntry, now time.Time) {
	ns := now.UnixNano()
	e.lastUsed.Store(ns)
	saved := e.saved.Load()
	if ns-saved < int64(touchInterval) || !e.saved.CompareAndSwap(saved, ns) {
		return
	}
	go s.saveAPIKeyUse(e.id, now)
}

// saveAPIKeyUse writes a key's last use. It runs on its own goroutine, after
// the request that used the key, as a change like any other: under writeMu,
// detached from any request and bounded in time. A failure costs only the
// accuracy of last_used_at, so it is logged, not retried.
func (s *Service) saveAPIKeyUse(id int64, at time.Time) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(context.Background())
	defer cancel()
	if err := s.store.TouchAPIKeys(ctx, map[int64]time.Time{id: at}); err != nil {
		s.log.Warn("record API key use", "key_id", id, "err", err)
	}
}

// loadAPIKeys publishes the stored keys' hashes; New calls it.
func (s *Service) loadAPIKeys(ctx context.Context) error {
	rows, err := s.store.APIKeyHashes(ctx)
	if err != nil {
		return fmt.Errorf("load API keys: %w", err)
	}
	keys := make([]*apiKeyEntry, 0, len(rows))
	for _, r := range rows {
		e, err := entryFromHash(r)
		if err != nil {
			// A damaged row must not take the gateway down; its key simply
			// no longer works, which the log says.
			s.log.Warn("API key unusable", "key_id", r.ID, "err", err)
			continue
		}
		keys = append(keys, e)
	}
	s.apiKeys.Store(&apiKeySet{keys: keys})
	return nil
}

func entryFromHash(r store.APIKeyHash) (*apiKeyEntry, error) {
	b, err := hex.DecodeString(r.Hash)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("stored hash is not a hex SHA-256")
	}
	e := &apiKeyEntry{id: r.ID}
	copy(e.hash[:], b)
	return e, nil
}

// apiKeySnapshot is the published key set; before New has loaded it, an
// empty one.
func (s *Service) apiKeySnapshot() *apiKeySet {
	if set := s.apiKeys.Load(); set != nil {
		return set
	}
	return &apiKeySet{}
}

// newAPIKey returns APIKeyPrefix and 256 random bits, base64url-encoded.
// 256 bits make guessing hopeless and let a fast hash (SHA-256) stand in
// for a password hash.
func newAPIKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// checkAPIKeyName accepts 1 to maxAPIKeyName printable characters, not
// starting or ending with a space.
func checkAPIKeyName(name string) error {
	fail := func(msg string) error { return &router.FieldError{Field: "name", Message: msg} }
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		return fail("is required: a name that says who uses the key")
	case n > maxAPIKeyName:
		return fail(fmt.Sprintf("must be at most %d characters", maxAPIKeyName))
	case strings.TrimSpace(name) != name:
		return fail("must not start or end with spaces")
	case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fail("must be printable characters (no control characters or line breaks)")
	}
	return nil
}
