//go:build !cgo || !(linux || darwin)

package mlxload

import "errors"

// handle is empty when cgo is off: no library can be loaded.
type handle struct{}

// cgoAvailable reports whether this build can load libmlxc at all.
const cgoAvailable = false

// errNoCgo explains why nothing was loaded in a build without cgo.
var errNoCgo = errors.New("built without cgo (CGO_ENABLED=0 or an unsupported OS), so libmlxc cannot be loaded")

func load(string) (*Lib, error) { return nil, errNoCgo }

func (h *handle) close() error { return nil }

func (h *handle) metalAvailable() (bool, error) { return false, errNoCgo }
