// Package auth keeps modelbar's admin credentials: the admin token (the
// file <data-dir>/admin-token, for scripts and the CLI), one-time login
// codes, and the browser sessions those codes open.
//
// A browser never sees the token. `modelbar ui`, the menu-bar icon and
// `modelbar serve`'s start-up log hand out a login link whose code works
// once, within CodeTTL; redeeming it opens a session whose secret lives in
// an HttpOnly cookie. Sessions end after IdleTimeout without use, MaxAge
// after they began, when revoked, or when the token is rotated. They live
// in memory only: a restart signs every browser out.
//
// Secrets are kept as SHA-256 hashes and looked up by hash, so no secret is
// compared byte by byte and none stays in memory in the clear. The package
// has no HTTP: the gateway maps it onto cookies and handlers.
package auth

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	CodeTTL      = 60 * time.Second   // a login code's life
	IdleTimeout  = 12 * time.Hour     // a session unused this long ends
	MaxAge       = 7 * 24 * time.Hour // a session ends this long after it began, used or not
	MaxUserAgent = 200                // bytes of User-Agent kept with a session

	maxCodes    = 100  // pending codes kept; a new one beyond evicts the oldest
	maxSessions = 1000 // sessions kept; a new one beyond evicts the least recently used
)

// ErrInvalidCode is Redeem's answer for a code that is unknown, already
// used or expired: the three are not told apart.
var ErrInvalidCode = errors.New("the login code is invalid, used or expired")

// ErrNoSession is Check's answer for a session secret that is unknown,
// revoked or expired.
var ErrNoSession = errors.New("no such session: it expired or was revoked")

// Session is a browser session as the admin API lists it; its secret is
// never part of it.
type Session struct {
	ID         string // short and public: it names the session in /api/sessions
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // the earlier of LastUsedAt+IdleTimeout and CreatedAt+MaxAge
	UserAgent  string    // the browser's, cut to MaxUserAgent bytes
}

type digest [sha256.Size]byte

func hash(secret string) digest { return sha256.Sum256([]byte(secret)) }

// Options adjust a Keeper.
type Options struct {
	Now func() time.Time // the clock; nil: time.Now
}

// Keeper holds the admin token, the pending login codes and the browser
// sessions. It is safe for concurrent use.
type Keeper struct {
	dataDir string // "" : the token lives in memory only (NewMemory)
	now     func() time.Time

	rotating sync.Mutex // serialises Rotate, so the file and the token in memory end up the same

	mu       sync.Mutex           // guards token, codes and sessions
	token    digest               // SHA-256 of the admin token
	codes    map[digest]time.Time // SHA-256 of a pending code -> when it expires
	sessions map[digest]*Session  // SHA-256 of a session secret -> the session
}

// Open is a Keeper over the admin token in dataDir, created there (mode
// 0600) if missing.
func Open(dataDir string, o Options) (*Keeper, error) {
	token, err := LoadToken(dataDir)
	if err != nil {
		return nil, err
	}
	k := NewMemory(token, o)
	k.dataDir = dataDir
	return k, nil
}

// NewMemory is a Keeper whose token is given and kept in memory only:
// Rotate replaces it with one nobody is told. For tests, and for callers
// that manage the token file themselves.
func NewMemory(token string, o Options) *Keeper {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Keeper{
		now:      o.Now,
		token:    hash(token),
		codes:    map[digest]time.Time{},
		sessions: map[digest]*Session{},
	}
}

// CheckToken reports whether presented is the current admin token. The
// comparison is of hashes, in constant time; an empty token never passes.
func (k *Keeper) CheckToken(presented string) bool {
	if presented == "" {
		return false
	}
	h := hash(presented)
	k.mu.Lock()
	want := k.token
	k.mu.Unlock()
	return subtle.ConstantTimeCompare(h[:], want[:]) == 1
}

// NewCode makes a login code (130 random bits) that Redeem accepts once,
// until expires.
func (k *Keeper) NewCode() (code string, expires time.Time) {
	code = rand.Text()
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	for h, exp := range k.codes {
		if !now.Before(exp) {
			delete(k.codes, h)
		}
	}
	if len(k.codes) >= maxCodes {
		delete(k.codes, oldest(k.codes))
	}
	expires = now.Add(CodeTTL)
	k.codes[hash(code)] = expires
	return code, expires
}

func oldest(codes map[digest]time.Time) digest {
	var first digest
	var at time.Time
	for h, exp := range codes {
		if at.IsZero() || exp.Before(at) {
			first, at = h, exp
		}
	}
	return first
}

// Redeem spends a login code and opens a session for the browser that
// presented it. secret is what the browser keeps (256 random bits); it is
// returned only here.
func (k *Keeper) Redeem(code, userAgent string) (secret string, s Session, err error) {
	h := hash(code)
	k.mu.Lock()
	defer k.mu.Unlock()
	exp, ok := k.codes[h]
	delete(k.codes, h) // used or not, a presented code is gone
	now := k.now()
	if !ok || !now.Before(exp) {
		return "", Session{}, ErrInvalidCode
	}
	k.pruneSessions(now)
	if len(k.sessions) >= maxSessions {
		k.evictLeastRecent()
	}
	secret = randomString(32)
	s = Session{ID: randomHex(8), CreatedAt: now, LastUsedAt: now, UserAgent: cut(userAgent, MaxUserAgent)}
	s.ExpiresAt = expiry(s)
	k.sessions[hash(secret)] = &s
	return secret, s, nil
}

// Check finds the live session whose secret this is and records its use
// (which moves its idle expiry on).
func (k *Keeper) Check(secret string) (Session, error) {
	if secret == "" {
		return Session{}, ErrNoSession
	}
	h := hash(secret)
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.sessions[h]
	now := k.now()
	if !ok {
		return Session{}, ErrNoSession
	}
	if !now.Before(s.ExpiresAt) {
		delete(k.sessions, h)
		return Session{}, ErrNoSession
	}
	s.LastUsedAt = now
	s.ExpiresAt = expiry(*s)
	return *s, nil
}

// Sessions lists the live sessions, oldest first.
func (k *Keeper) Sessions() []Session {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pruneSessions(k.now())
	out := make([]Session, 0, len(k.sessions))
	for _, s := range k.sessions {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Revoke ends the session with this id; false if there is none.
func (k *Keeper) Revoke(id string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for h, s := range k.sessions {
		if s.ID == id {
			delete(k.sessions, h)
			return true
		}
	}
	return false
}

// RevokeAll ends every session and returns how many were live.
func (k *Keeper) RevokeAll() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pruneSessions(k.now())
	n := len(k.sessions)
	clear(k.sessions)
	return n
}

// Rotate replaces the admin token — in the file first (atomically, mode
// 0600), then in memory — and ends every session and pending login code.
// It returns how many sessions were live. The new token is written only to
// the file; on error nothing has changed.
func (k *Keeper) Rotate() (sessionsRevoked int, err error) {
	k.rotating.Lock()
	defer k.rotating.Unlock()
	var token string
	if k.dataDir == "" {
		token = newToken()
	} else if token, err = replaceToken(TokenPath(k.dataDir)); err != nil {
		return 0, fmt.Errorf("rotate the admin token: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.token = hash(token)
	k.pruneSessions(k.now())
	n := len(k.sessions)
	clear(k.sessions)
	clear(k.codes)
	return n, nil
}

// pruneSessions drops expired sessions. k.mu is held.
func (k *Keeper) pruneSessions(now time.Time) {
	for h, s := range k.sessions {
		if !now.Before(s.ExpiresAt) {
			delete(k.sessions, h)
		}
	}
}

// evictLeastRecent drops the session used longest ago. k.mu is held.
func (k *Keeper) evictLeastRecent() {
	var victim digest
	var at time.Time
	for h, s := range k.sessions {
		if at.IsZero() || s.LastUsedAt.Before(at) {
			victim, at = h, s.LastUsedAt
		}
	}
	delete(k.sessions, victim)
}

func expiry(s Session) time.Time {
	idle, abs := s.LastUsedAt.Add(IdleTimeout), s.CreatedAt.Add(MaxAge)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cut shortens s to at most n bytes, dropping invalid UTF-8 (a sequence
// split at the cut included).
func cut(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
