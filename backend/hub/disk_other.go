//go:build !unix

package hub

import (
	"errors"
	"os"
)

var errNoSpace = errors.New("no space left on device")

// diskFree is unknown here; the download is not refused up front.
func diskFree(string) (int64, error) { return 0, errors.ErrUnsupported }

// flockTry has no cross-process lock here; the in-process one remains.
func flockTry(*os.File) (bool, error) { return true, nil }
