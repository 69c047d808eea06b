//go:build darwin && cgo

package secrets

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestKeychain_RoundTrip writes to the login keychain, which may prompt, so
// it runs only with MODELBAR_TEST_KEYCHAIN=1.
func TestKeychain_RoundTrip(t *testing.T) {
	if os.Getenv("MODELBAR_TEST_KEYCHAIN") != "1" {
		t.Skip("writes to the login keychain; set MODELBAR_TEST_KEYCHAIN=1 to run")
	}
	s, err := openNative(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend() != "keychain" {
		t.Errorf("Backend() = %q", s.Backend())
	}
	account := fmt.Sprintf("modelbar-test-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = s.Delete(context.Background(), account) })
	testRoundTrip(t, s, account)
}
