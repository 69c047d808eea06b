package auth

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a settable time for a Keeper.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func newKeeper(t *testing.T) (*Keeper, *clock) {
	t.Helper()
	c := &clock{t: t0}
	k, err := Open(t.TempDir(), Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func TestKeeper_CodeWorksOnceWithinItsTTL(t *testing.T) {
	cases := []struct {
		name  string
		wait  time.Duration
		twice bool
		want  error
	}{
		{"fresh", 0, false, nil},
		{"just before expiry", CodeTTL - time.Millisecond, false, nil},
		{"at expiry", CodeTTL, false, ErrInvalidCode},
		{"long after", time.Hour, false, ErrInvalidCode},
		{"second use", 0, true, ErrInvalidCode},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, clk := newKeeper(t)
			code, exp := k.NewCode()
			if !exp.Equal(t0.Add(CodeTTL)) || len(code) < 26 {
				t.Fatalf("code %q expires %v", code, exp)
			}
			clk.add(c.wait)
			_, _, err := k.Redeem(code, "ua")
			if c.twice {
				_, _, err = k.Redeem(code, "ua")
			}
			if !errors.Is(err, c.want) && err != c.want {
				t.Errorf("Redeem: %v, want %v", err, c.want)
			}
		})
	}
}

func TestKeeper_UnknownCodeIsRefused(t *testing.T) {
	k, _ := newKeeper(t)
	k.NewCode()
	for _, code := range []string{"", "nope", strings.Repeat("A", 26)} {
		if _, _, err := k.Redeem(code, ""); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("Redeem(%q): %v", code, err)
		}
	}
}

func TestKeeper_SessionExpiresIdleAndAbsolute(t *testing.T) {
	cases := []struct {
		name  string
		steps []time.Duration // uses of the session, each after this wait
		alive bool            // after the last step
	}{
		{"used at once", []time.Duration{0}, true},
		{"idle just under 12 h", []time.Duration{IdleTimeout - time.Second}, true},
		{"idle 12 h", []time.Duration{IdleTimeout}, false},
		{"used every 11 h for 6 days", repeat(11*time.Hour, 13), true},
		{"used every 11 h past 7 days", repeat(11*time.Hour, 16), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, clk := newKeeper(t)
			code, _ := k.NewCode()
			secret, s, err := k.Redeem(code, "Mozilla/5.0")
			if err != nil {
				t.Fatal(err)
			}
			if len(secret) < 43 || len(s.ID) == 0 || strings.Contains(secret, s.ID) {
				t.Fatalf("secret %q id %q: want a 256-bit secret and a separate id", secret, s.ID)
			}
			var got error
			for _, d := range c.steps {
				clk.add(d)
				_, got = k.Check(secret)
			}
			if (got == nil) != c.alive {
				t.Errorf("Check after %v: %v, want alive=%v", c.steps, got, c.alive)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestKeeper_ListsAndRevokes(t *testing.T) {
	k, clk := newKeeper(t)
	open := func(ua string) (string, Session) {
		code, _ := k.NewCode()
		secret, s, err := k.Redeem(code, ua)
		if err != nil {
			t.Fatal(err)
		}
		clk.add(time.Minute)
		return secret, s
	}
	long := strings.Repeat("é", MaxUserAgent) // 2 bytes each: cut mid-character
	sa, a := open("A")
	sb, b := open(long)
	_, c := open("C")
	if len(b.UserAgent) > MaxUserAgent || !strings.HasPrefix(long, b.UserAgent) || !strings.HasSuffix(b.UserAgent, "é") {
		t.Errorf("user agent not cut cleanly: %d bytes", len(b.UserAgent))
	}
	if _, err := k.Check(sa); err != nil {
		t.Fatal(err)
	}
	a.LastUsedAt, a.ExpiresAt = clk.now(), clk.now().Add(IdleTimeout)
	if d := cmp.Diff([]Session{a, b, c}, k.Sessions()); d != "" {
		t.Errorf("Sessions (-want +got):\n%s", d)
	}
	if !k.Revoke(b.ID) || k.Revoke(b.ID) || k.Revoke("nope") {
		t.Error("Revoke: want true once, then false")
	}
	if _, err := k.Check(sb); !errors.Is(err, ErrNoSession) {
		t.Errorf("revoked session still works: %v", err)
	}
	if n := k.RevokeAll(); n != 2 {
		t.Errorf("RevokeAll = %d, want 2", n)
	}
	if _, err := k.Check(sa); !errors.Is(err, ErrNoSession) || len(k.Sessions()) != 0 {
		t.Errorf("a session survived RevokeAll: %v %v", err, k.Sessions())
	}
}

func TestKeeper_RotateReplacesTheTokenAndEndsEverything(t *testing.T) {
	dir := t.TempDir()
	k, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := ReadToken(dir)
	code, _ := k.NewCode()
	pending, _ := k.NewCode()
	secret, _, _ := k.Redeem(code, "")
	if !k.CheckToken(old) || k.CheckToken("") || k.CheckToken(old+"x") {
		t.Fatal("CheckToken before rotation")
	}
	n, err := k.Rotate()
	if err != nil || n != 1 {
		t.Fatalf("Rotate = %d, %v; want 1 session revoked", n, err)
	}
	now, err := ReadToken(dir)
	if err != nil || now == old || len(now) != 64 {
		t.Fatalf("token file after rotation: %q %v", now, err)
	}
	if fi, err := os.Stat(TokenPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v %v", fi, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left beside the token: %v", entries)
	}
	if k.CheckToken(old) || !k.CheckToken(now) {
		t.Error("after rotation the old token must fail and the new one pass")
	}
	if _, err := k.Check(secret); !errors.Is(err, ErrNoSession) {
		t.Error("a session survived rotation")
	}
	if _, _, err := k.Redeem(pending, ""); !errors.Is(err, ErrInvalidCode) {
		t.Error("a pending code survived rotation")
	}
}

func TestKeeper_RotateFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	k, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := ReadToken(dir)
	code, _ := k.NewCode()
	secret, _, _ := k.Redeem(code, "")
	// The new file cannot be renamed over a directory (root or not).
	if err := os.Remove(TokenPath(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(TokenPath(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rotate(); err == nil {
		t.Fatal("Rotate onto a directory succeeded")
	}
	if !k.CheckToken(old) {
		t.Error("the old token stopped working after a failed rotation")
	}
	if _, err := k.Check(secret); err != nil {
		t.Errorf("a session ended after a failed rotation: %v", err)
	}
}

func TestKeeper_ConcurrentUse(t *testing.T) {
	k, _ := newKeeper(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				code, _ := k.NewCode()
				secret, s, err := k.Redeem(code, "ua")
				if err != nil {
					continue // a rotation in between
				}
				k.Check(secret)
				k.Sessions()
				if i%2 == 0 {
					k.Revoke(s.ID)
				}
			}
			if i == 0 {
				k.Rotate()
			}
		})
	}
	wg.Wait()
}

func TestKeeper_PendingCodesAreBounded(t *testing.T) {
	k, clk := newKeeper(t)
	first, _ := k.NewCode()
	for range maxCodes {
		clk.add(time.Millisecond)
		k.NewCode()
	}
	if _, _, err := k.Redeem(first, ""); !errors.Is(err, ErrInvalidCode) {
		t.Error("the oldest code survived the bound")
	}
	k.mu.Lock()
	n := len(k.codes)
	k.mu.Unlock()
	if n > maxCodes {
		t.Errorf("%d codes pending, want at most %d", n, maxCodes)
	}
}
