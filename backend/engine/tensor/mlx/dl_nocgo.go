//go:build !cgo || !(linux || darwin)

package mlx

import (
	"errors"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// handle is empty when cgo is off: no library can be loaded.
type handle struct{}

// cgoAvailable reports whether this build can load libmlxc at all.
const cgoAvailable = false

// errNoCgo explains why nothing was loaded in a build without cgo.
var errNoCgo = errors.New("built without cgo (CGO_ENABLED=0 or an unsupported OS), so libmlxc cannot be loaded")

func symbolNames() []string { return nil }

func load(string) (*Lib, error) { return nil, errNoCgo }

func (h *handle) close() error { return nil }

func (h *handle) metalAvailable() (bool, error) { return false, errNoCgo }

func newBackend(*Lib, Options) (tensor.Backend, error) { return nil, errNoCgo }
