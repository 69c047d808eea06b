//go:build !linux && !(darwin && cgo)

package secrets

import (
	"context"
	"errors"
)

// nativeBackend is empty: there is no OS secret store support here (darwin
// needs cgo for the keychain), so Open uses the file.
const nativeBackend = ""

func openNative(context.Context) (Store, error) {
	return nil, errors.New("no OS secret store on this platform")
}
