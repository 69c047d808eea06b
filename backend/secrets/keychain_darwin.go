//go:build darwin && cgo

package secrets

import (
	"context"
	"errors"
	"fmt"

	keychain "github.com/keybase/go-keychain"
)

// nativeBackend is the OS secret store Open tries before the file.
const nativeBackend = backendKeychain

func openNative(context.Context) (Store, error) { return keychainStore{}, nil }

// keychainStore is a Store on the login keychain: generic password items
// with service "modelbar" and the account as account. The Security framework
// is safe for concurrent use; a call can block on a keychain access prompt,
// and the context is only checked before it.
type keychainStore struct{}

var _ Store = keychainStore{}

// Backend returns "keychain".
func (keychainStore) Backend() string { return backendKeychain }

// Get returns the secret for account, or an error wrapping ErrNotFound.
func (keychainStore) Get(ctx context.Context, account string) (string, error) {
	if err := checkAccount("get", account); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("get secret for %q: %w", account, err)
	}
	q := keychainItem(account)
	q.SetMatchLimit(keychain.MatchLimitOne)
	q.SetReturnData(true)
	res, err := keychain.QueryItem(q) // nil, nil when absent
	if errors.Is(err, keychain.ErrorItemNotFound) || (err == nil && len(res) == 0) {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("get secret for %q: %w", account, err)
	}
	return string(res[0].Data), nil
}

// Set stores secret for account, replacing any previous one.
func (keychainStore) Set(ctx context.Context, account, secret string) error {
	if err := checkSet(account, secret); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set secret for %q: %w", account, err)
	}
	item := keychainItem(account)
	item.SetLabel("modelbar: " + account)
	item.SetData([]byte(secret))
	err := keychain.AddItem(item)
	if errors.Is(err, keychain.ErrorDuplicateItem) {
		update := keychain.NewItem()
		update.SetData([]byte(secret))
		err = keychain.UpdateItem(keychainItem(account), update)
	}
	if err != nil {
		return fmt.Errorf("set secret for %q: %w", account, err)
	}
	return nil
}

// Delete removes the secret for account; it is not an error if there is none.
func (keychainStore) Delete(ctx context.Context, account string) error {
	if err := checkAccount("delete", account); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete secret for %q: %w", account, err)
	}
	err := keychain.DeleteItem(keychainItem(account))
	if err != nil && !errors.Is(err, keychain.ErrorItemNotFound) {
		return fmt.Errorf("delete secret for %q: %w", account, err)
	}
	return nil
}

// keychainItem selects the generic password of account under Service.
func keychainItem(account string) keychain.Item {
	item := keychain.NewItem()
	item.SetSecClass(keychain.SecClassGenericPassword)
	item.SetService(Service)
	item.SetAccount(account)
	return item
}
