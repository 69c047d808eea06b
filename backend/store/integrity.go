package store

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of the problem Integrity reports: quick_check stops after
// checkLines findings, and their text is cut to checkBytes.
const (
	checkLines = 10
	checkBytes = 1024
)

// quickCheck runs PRAGMA quick_check and returns "" when it passes, else
// what it found. A check SQLite cannot run at all (a page it cannot even
// parse) is a finding too; only ctx ending is an error.
func quickCheck(ctx context.Context, q queryer) (string, error) {
	lines, err := queryStrings(ctx, q, fmt.Sprintf("PRAGMA quick_check(%d)", checkLines))
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("integrity check: %w", ctx.Err())
	case err != nil:
		return bound("quick_check failed: " + err.Error()), nil
	case len(lines) == 1 && lines[0] == "ok":
		return "", nil
	case len(lines) == 0:
		return "quick_check returned nothing", nil
	}
	return bound(strings.Join(lines, "\n")), nil
}

// bound cuts s to checkBytes, at a character boundary, marking the cut.
func bound(s string) string {
	if len(s) <= checkBytes {
		return s
	}
	cut := checkBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
