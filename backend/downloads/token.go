package downloads

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelbar/modelbar/backend/secrets"
)

// TokenAccount is the secret store account of the Hugging Face Hub token
// (":" keeps it apart from any provider key's account).
const TokenAccount = "hub:token"

// Token keeps the Hub token in the secret store, like provider keys:
// Keychain, Secret Service or the encrypted file, never the database; it
// is never returned to a client. The zero value (no store) has no token.
type Token struct {
	Secrets secrets.Store
	// Fallback is the token to use when none is set in modelbar (the one
	// huggingface_hub would use: HF_TOKEN, `huggingface-cli login`'s
	// file); nil: none.
	Fallback func() string
}

// Get returns the token for a request: the one set in modelbar, else the
// fallback's, else "".
func (t Token) Get(ctx context.Context) string {
	if v := t.stored(ctx); v != "" {
		return v
	}
	if t.Fallback != nil {
		return t.Fallback()
	}
	return ""
}

func (t Token) stored(ctx context.Context) string {
	if t.Secrets == nil {
		return ""
	}
	v, err := t.Secrets.Get(ctx, TokenAccount)
	if err != nil {
		return ""
	}
	return v
}

// Has reports whether a token is set in modelbar (a fallback does not
// count: the UI offers to set one).
func (t Token) Has(ctx context.Context) bool { return t.stored(ctx) != "" }

// Set stores the token; "" removes it.
func (t Token) Set(ctx context.Context, token string) error {
	if t.Secrets == nil {
		return errors.New("no secret store")
	}
	var err error
	if token == "" {
		err = t.Secrets.Delete(ctx, TokenAccount)
	} else {
		err = t.Secrets.Set(ctx, TokenAccount, token)
	}
	if err != nil {
		return fmt.Errorf("store the Hub token in the %s secret store: %w", t.Secrets.Backend(), err)
	}
	return nil
}
